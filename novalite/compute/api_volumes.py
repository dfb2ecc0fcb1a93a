"""The compute API's part for volumes (issue 14): os-volume_attachments
(attach, detach, list, show) and the volumes of block_device_mapping_v2 on
create.

Beside novalite.compute.api.API (it uses its compute RPC client). As Nova's compute API with Cinder >=
3.44: the API checks the server's state and the volume, records the
mapping (its device name) and creates the volume's attachment (reserved, no
connector) before it casts to the server's host, which connects the volume
(attachment_update with its connector), plugs it and completes the
attachment. A cast that cannot be sent undoes the mapping and the
attachment. The states are Nova's ``check_instance_state`` of
attach_volume/detach_volume; SHELVED_OFFLOADED from 2.20 (the controller
says which), where nothing is plugged until unshelve.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oslo_log import log as logging

from novalite import exception
from novalite.compute import vm_states
from novalite.compute import volumes as volume_client
from novalite.compute.api_power import check_instance_lock
from novalite.db import block_devices as db_bdm
from novalite.objects.block_device import (
    ROOT_DEVICE_NAME,
    BlockDeviceMapping,
    BlockDeviceMappingList,
)
from novalite.objects.instance_action import InstanceAction

if TYPE_CHECKING:
    from novalite.compute.rpcapi import ComputeAPI
    from novalite.context import RequestContext
    from novalite.objects.instance import Instance

LOG = logging.getLogger(__name__)

ATTACH_STATES = (vm_states.ACTIVE, vm_states.PAUSED, vm_states.STOPPED, vm_states.RESIZED,
                 vm_states.SOFT_DELETED, vm_states.SHELVED, vm_states.SHELVED_OFFLOADED)
DETACH_STATES = ATTACH_STATES


def _check_state(instance: Instance, action: str, allowed: tuple[str, ...]) -> None:
    if instance.vm_state not in allowed:
        raise exception.InstanceInvalidState(action=action, instance_uuid=instance.uuid,
                                             attr="vm_state", state=instance.vm_state)
    if instance.task_state is not None:
        raise exception.InstanceInvalidState(action=action, instance_uuid=instance.uuid,
                                             attr="task_state", state=instance.task_state)


class VolumeActionsAPI:
    """API-side attach/detach and the volumes' view of a server."""

    def __init__(self, compute_api: Any) -> None:
        self.compute_api = compute_api

    @property
    def compute_rpcapi(self) -> ComputeAPI:
        rpcapi: ComputeAPI = self.compute_api.compute_rpcapi
        return rpcapi

    # -- read ----------------------------------------------------------------------

    def get_volume_mappings(self, context: RequestContext,
                            instance: Instance) -> list[BlockDeviceMapping]:
        """The server's volumes, the root first (os-volume_attachments list)."""
        return BlockDeviceMappingList.get_by_instance_uuid(context, instance.uuid).volumes

    def get_volume_mapping(self, context: RequestContext, instance: Instance,
                           volume_id: str) -> BlockDeviceMapping:
        """NotFound (404, Nova's words) when the volume is not attached to it."""
        try:
            return BlockDeviceMapping.get_by_volume_and_instance(context, volume_id,
                                                                 instance.uuid)
        except db_bdm.BlockDeviceMappingNotFound:
            raise exception.NotFound(f"Volume {volume_id} is not attached to server "
                                     f"{instance.uuid}") from None

    # -- attach ----------------------------------------------------------------------

    def attach_volume(self, context: RequestContext, instance: Instance, volume_id: str,
                      device: str | None = None, tag: str | None = None,
                      delete_on_termination: bool = False) -> BlockDeviceMapping:
        """Record the mapping and the volume's attachment, then the host
        plugs it (a cast). Returns the mapping (its device name)."""
        check_instance_lock(context, instance)
        _check_state(instance, "attach_volume", ATTACH_STATES)
        volumes = volume_client.api()
        volume = volumes.get(context, volume_id)
        existing = BlockDeviceMappingList.get_by_instance_uuid(context, instance.uuid)
        if any(b.volume_id == volume_id for b in existing.volumes):
            raise exception.Invalid(reason=f"Invalid volume: volume {volume_id} is already "
                                           f"attached to server {instance.uuid}")
        volume_client.check_attachable(volume)
        bdm = self._reserve_device(context, instance, existing, volume_id, device, tag,
                                   delete_on_termination)
        try:
            attachment = volumes.attachment_create(context, volume_id, instance.uuid)
            bdm.attachment_id = attachment["id"]
            bdm.save()
        except BaseException:
            bdm.destroy()
            raise
        InstanceAction.action_start(context, instance.uuid, "attach_volume")
        if instance.vm_state == vm_states.SHELVED_OFFLOADED or not instance.host:
            # NOTE: as Nova's _attach_volume_shelved_offloaded: the volume
            # stays reserved; unshelve connects it on the host it lands on.
            return bdm
        try:
            self.compute_rpcapi.attach_volume(context, instance, bdm)
        except BaseException:
            LOG.exception("Could not ask %s to attach volume %s to %s; undoing",
                          instance.host, volume_id, instance.uuid)
            _undo_attachment(context, bdm)
            raise
        return bdm

    @staticmethod
    def _reserve_device(context: RequestContext, instance: Instance,
                        existing: BlockDeviceMappingList, volume_id: str, device: str | None,
                        tag: str | None, delete_on_termination: bool) -> BlockDeviceMapping:
        """The mapping at ``device`` (400 when it is taken or not a /dev/vdX
        name) or at the next free name; a racing attach that took the name
        first moves this one to the next."""
        if device is not None:
            if (not device.startswith("/dev/") or device == ROOT_DEVICE_NAME
                    or any(b.device_name == device for b in existing.objects)):
                raise exception.Invalid(reason=f"The supplied device path ({device}) is "
                                               "invalid or in use.")
        for _ in range(25):
            name = device or existing.next_device_name()
            bdm = BlockDeviceMapping(
                context=context, instance_uuid=instance.uuid, source_type="volume",
                destination_type="volume", boot_index=None, device_name=name,
                device_type="disk", disk_bus="virtio", volume_id=volume_id,
                delete_on_termination=bool(delete_on_termination), tag=tag)
            try:
                bdm.create()
                return bdm
            except db_bdm.DeviceNameTaken:
                if device is not None:
                    raise exception.Invalid(reason=f"The supplied device path ({device}) "
                                                   "is invalid or in use.") from None
                existing = BlockDeviceMappingList.get_by_instance_uuid(context,
                                                                       instance.uuid)
        raise exception.Conflict(reason=f"no free device name on server {instance.uuid}")

    # -- detach ----------------------------------------------------------------------

    def detach_volume(self, context: RequestContext, instance: Instance,
                      volume_id: str) -> None:
        """The host unplugs it and deletes the attachment (a cast); a server
        without a host (shelved offloaded): here."""
        check_instance_lock(context, instance)
        _check_state(instance, "detach_volume", DETACH_STATES)
        bdm = self.get_volume_mapping(context, instance, volume_id)
        if bdm.is_root:
            raise exception.Invalid(reason=f"Cannot detach a root device volume "
                                           f"({volume_id}) from server {instance.uuid}")
        InstanceAction.action_start(context, instance.uuid, "detach_volume")
        if instance.vm_state == vm_states.SHELVED_OFFLOADED or not instance.host:
            _undo_attachment(context, bdm)
            return
        self.compute_rpcapi.detach_volume(context, instance, volume_id)

    def swap_volume(self, context: RequestContext, instance: Instance, old_volume_id: str,
                    new_volume_id: str) -> None:
        raise exception.Conflict(reason="Swapping a server's volume (Cinder's volume "
                                        "migration/retype) is not implemented in novalite")

    # -- delete (the API's local delete, when the host is gone) ------------------

    @staticmethod
    def detach_volumes_locally(context: RequestContext, instance: Instance) -> None:
        """Nova's local delete: each volume's attachment goes (the volume is
        available again) and is deleted when delete_on_termination; the
        host, if it comes back, finds no guest to keep."""
        for bdm in BlockDeviceMappingList.get_by_instance_uuid(context, instance.uuid).volumes:
            try:
                volume_client.release(context, volume_client.api(), bdm)
            except Exception:
                LOG.exception("Could not release volume %s of deleted server %s",
                              bdm.volume_id, instance.uuid)


def _undo_attachment(context: RequestContext, bdm: BlockDeviceMapping) -> None:
    try:
        if bdm.attachment_id:
            volume_client.api().attachment_delete(context, bdm.attachment_id)
    finally:
        bdm.destroy()


__all__ = ["ATTACH_STATES", "DETACH_STATES", "VolumeActionsAPI"]


# -- block_device_mapping_v2 on create (Nova's _validate_bdm and friends) ------------

GiB = 1024 ** 3


class BlockDevicePlan:
    """What a create's block_device_mapping_v2 asks for, validated: the root
    (an image on the host's disk, or a volume) and the data volumes;
    ``image``: the image the server boots (its properties go to the
    request spec; None for a volume made without one)."""

    def __init__(self, root: dict[str, Any] | None, volumes: list[dict[str, Any]],
                 image: dict[str, Any] | None) -> None:
        self.root = root
        self.volumes = volumes
        self.image = image

    @property
    def volume_backed(self) -> bool:
        return self.root is not None and self.root["destination_type"] == "volume"

    def mappings(self, context: RequestContext, instance_uuid: str,
                 image_id: str | None) -> list[BlockDeviceMapping]:
        """The mappings one server records (its root first)."""
        out = []
        if not self.volume_backed:
            out.append(BlockDeviceMapping.image_root(context, instance_uuid, str(image_id)))
        entries = ([self.root] if self.volume_backed and self.root is not None else []) + \
            self.volumes
        used = {ROOT_DEVICE_NAME}
        letters = iter("bcdefghijklmnopqrstuvwxyz")
        for entry in entries:
            if entry.get("boot_index") == 0:
                name = ROOT_DEVICE_NAME
            else:
                name = next(f"/dev/vd{c}" for c in letters if f"/dev/vd{c}" not in used)
            used.add(name)
            source = entry["source_type"]
            out.append(BlockDeviceMapping(
                context=context, instance_uuid=instance_uuid, source_type=source,
                destination_type="volume", boot_index=entry.get("boot_index"),
                device_name=name, device_type=entry.get("device_type") or "disk",
                disk_bus=entry.get("disk_bus") or "virtio",
                image_id=entry.get("uuid") if source == "image" else None,
                snapshot_id=entry.get("uuid") if source == "snapshot" else None,
                volume_id=entry.get("uuid") if source == "volume" else None,
                volume_size=entry.get("volume_size"), volume_type=entry.get("volume_type"),
                guest_format=entry.get("guest_format"), tag=entry.get("tag"),
                delete_on_termination=bool(entry.get("delete_on_termination"))))
        return out


def _invalid_bdm(reason: str) -> exception.Invalid:
    return exception.Invalid(f"Block Device Mapping is Invalid: {reason}")


def _int_or_none(entry: dict[str, Any], name: str) -> int | None:
    value = entry.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _invalid_bdm(f"{name} {value!r} is not an integer") from None


def plan_block_devices(context: RequestContext, image_api: Any, raw: list[dict[str, Any]],
                       image_ref: str | None, min_count: int,
                       max_count: int) -> BlockDevicePlan:
    """Validate ``block_device_mapping_v2`` (already normalised booleans)
    as Nova's API does; raise Invalid (400) naming what is wrong."""
    entries = []
    for bdm in raw:
        entry = dict(bdm)
        entry["boot_index"] = _int_or_none(entry, "boot_index")
        if entry["boot_index"] is not None and entry["boot_index"] < 0:
            entry["boot_index"] = None
        entry["volume_size"] = _int_or_none(entry, "volume_size")
        source = entry.get("source_type")
        if source is None:
            raise _invalid_bdm("source_type is required (novalite has no legacy "
                               "block device mappings)")
        dest = entry.get("destination_type") or ("volume" if source in ("volume",
                                                                           "snapshot")
                                                 else "local")
        entry["destination_type"] = dest
        if entry.get("volume_size") is not None and entry["volume_size"] <= 0:
            raise _invalid_bdm(f"volume_size must be a positive integer, not "
                               f"{entry['volume_size']}")
        if entry.get("volume_type") is not None:
            if dest == "local":
                raise _invalid_bdm("Specifying a volume_type with destination_type=local "
                                   "is not supported.")
            if source == "volume":
                raise _invalid_bdm("Specifying volume type to existing volume is not "
                                   "supported.")
        if dest == "local" and source != "image":
            raise _invalid_bdm(f"source_type {source} with destination_type local (an "
                               "ephemeral or swap disk) is not supported by novalite")
        if dest == "local" and entry["boot_index"] != 0:
            raise _invalid_bdm("an image on the host's disk must be the boot device "
                               "(boot_index 0)")
        if source in ("image", "volume", "snapshot") and not entry.get("uuid"):
            raise _invalid_bdm(f"source_type {source} needs the {source}'s uuid")
        if source == "image" and dest == "volume" and not entry.get("volume_size"):
            raise _invalid_bdm("Images with destination_type 'volume' need to have a "
                               "non-zero size specified")
        if source == "blank" and not entry.get("volume_size"):
            raise _invalid_bdm("a blank volume needs a volume_size")
        if source == "volume" and max_count > 1:
            raise exception.Invalid(reason="Invalid volume: Cannot attach one or more "
                                           "volumes to multiple instances")
        entries.append(entry)
    boot = sorted(e["boot_index"] for e in entries if e["boot_index"] is not None)
    if boot and boot != list(range(len(boot))):
        raise exception.Invalid("Boot sequence for the instance and image/block device "
                                "mapping combination is not valid.")
    root = next((e for e in entries if e["boot_index"] == 0), None)
    if root is None and not image_ref:
        raise exception.Invalid("Boot sequence for the instance and image/block device "
                                "mapping combination is not valid.")
    for entry in entries:
        if entry.get("volume_type") is not None:
            try:
                volume_client.api().get_type(context, entry["volume_type"])
            except exception.NotFound:
                raise exception.Invalid(f"Volume type {entry['volume_type']} could not be "
                                        "found.") from None
    volumes = [e for e in entries if e is not root and e["destination_type"] == "volume"]
    if root is not None and root["destination_type"] == "volume":
        image = _root_volume_image(context, image_api, root)
    else:
        image = None
    return BlockDevicePlan(root, volumes, image)


def _root_volume_image(context: RequestContext, image_api: Any,
                       root: dict[str, Any]) -> dict[str, Any] | None:
    """The image a root volume boots: the image it is made from, or the
    one an existing volume was made from (its volume_image_metadata)."""
    source = root["source_type"]
    if source == "image":
        try:
            image = dict(image_api.get(context, root["uuid"]))
        except exception.ImageNotFound:
            raise exception.Invalid(f"Image {root['uuid']} could not be found.") from None
        if image.get("status") != "active":
            raise exception.Invalid(f"Image {image['id']} is not active.")
        min_disk = int(image.get("min_disk") or 0) * GiB
        size = int(root["volume_size"]) * GiB
        if min_disk > size:
            raise exception.Invalid(
                "Volume is smaller than the minimum size specified in image metadata. "
                f"Volume size is {size} bytes, minimum size is {min_disk} bytes.")
        return image
    if source == "volume":
        try:
            volume = volume_client.api().get(context, root["uuid"])
        except exception.NotFound:
            raise _invalid_bdm(f"failed to get volume {root['uuid']}.") from None
        if not volume.get("bootable") or str(volume.get("bootable")).lower() == "false":
            raise exception.Invalid(f"Block Device {root['uuid']} is not bootable.")
        meta = volume.get("volume_image_metadata") or {}
        image_id = meta.get("image_id")
        if image_id:
            try:
                return dict(image_api.get(context, image_id))
            except exception.ImageNotFound:
                pass
        return {"id": None, "name": None, "status": "active", "disk_format": "raw",
                "container_format": "bare", "min_ram": int(meta.get("min_ram") or 0),
                "min_disk": 0, "properties": {k: v for k, v in meta.items()
                                              if k not in ("image_id", "image_name")}}
    return None


def reserve_volumes(context: RequestContext, mappings: list[BlockDeviceMapping]) -> None:
    """Nova's _check_attach_and_reserve_volume for the existing volumes a
    create names: each must be the caller's and available; its attachment
    is created (reserved) before the servers are recorded. On failure the
    ones made are deleted."""
    volumes = volume_client.api()
    made: list[BlockDeviceMapping] = []
    try:
        for bdm in mappings:
            if bdm.source_type != "volume" or not bdm.volume_id:
                continue
            try:
                volume = volumes.get(context, bdm.volume_id)
            except exception.NotFound:
                raise _invalid_bdm(f"failed to get volume {bdm.volume_id}.") from None
            volume_client.check_attachable(volume)
            bdm.attachment_id = volumes.attachment_create(context, bdm.volume_id,
                                                          bdm.instance_uuid)["id"]
            made.append(bdm)
    except BaseException:
        unreserve_volumes(context, made)
        raise


def unreserve_volumes(context: RequestContext, mappings: list[BlockDeviceMapping]) -> None:
    for bdm in mappings:
        if bdm.obj_attr_is_set("attachment_id") and bdm.attachment_id:
            try:
                volume_client.api().attachment_delete(context, bdm.attachment_id)
            except Exception:
                LOG.exception("Could not delete attachment %s of volume %s",
                              bdm.attachment_id, bdm.volume_id)
