"""The compute side of volumes (issue 14): the compute manager's volume
steps (attach, detach, connect before a spawn, release at delete, hand a
volume over to another host, the volume-extended event) and the clients of
the volume service the compute API and manager use.

As Nova with Cinder >= 3.44: a volume's attachment is created (reserved,
no connector) by the API; the host that plugs it updates the attachment
with its connector (``driver.get_volume_connector``), gets the
connection_info, plugs the volume (``driver.attach_volume``, or spawn's
block_device_info) and completes the attachment. Detach unplugs and
deletes the attachment (the volume is available again). Compute has no
database: it reaches the volume service over RPC
(``novalite.volume.rpcapi``) and saves its mappings through the conductor.

A volume moving to another host (resize, cold migration, shelve offload,
unshelve) gets a new attachment without a connector before the old one is
deleted, so it stays reserved for the server; the host it lands on
connects that one. A live migration connects a new attachment on the
destination while the source still uses its own, and deletes the source's
when the guest moved (or the destination's when it did not).
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Any

from oslo_log import log as logging

from novalite import exception
from novalite.objects.block_device import BlockDeviceMapping, BlockDeviceMappingList

if TYPE_CHECKING:
    from novalite.context import RequestContext
    from novalite.objects.instance import Instance
    from novalite.virt.driver import ComputeDriver

LOG = logging.getLogger(__name__)

GiB = 1024 ** 3
# NOTE: seconds the volume service may take to make a volume (from an
# image: a copy) when a server boots from a new volume.
VOLUME_CREATE_TIMEOUT = 600


def api() -> Any:
    """The volume operations for the API process (the Block Storage API's
    own module: database direct, the caller's project)."""
    from novalite.volume import api as volume_api

    return volume_api.API()


def rpc() -> Any:
    """The volume service's RPC client (compute has no database)."""
    from novalite.volume import rpcapi as volume_rpcapi

    return volume_rpcapi.VolumeAPI()


def check_attachable(volume: dict[str, Any]) -> None:
    """Nova's check before it reserves: an available volume (400 with
    Cinder's words otherwise)."""
    if volume.get("status") != "available" and not volume.get("multiattach"):
        raise exception.Invalid(reason=f"Invalid volume: volume {volume.get('id')} status "
                                       f"must be 'available', it is '{volume.get('status')}'")


def release(context: RequestContext, client: Any, bdm: BlockDeviceMapping) -> None:
    """The volume is no longer the server's: its attachment goes (the volume
    is available again), the volume too when delete_on_termination, and the
    mapping."""
    if bdm.attachment_id:
        try:
            client.attachment_delete(context, bdm.attachment_id)
        except exception.NotFound:
            pass
    if bdm.delete_on_termination and bdm.volume_id:
        try:
            client.delete(context, bdm.volume_id)
        except exception.NotFound:
            pass
        except Exception:
            LOG.exception("Could not delete volume %s (delete_on_termination) of %s",
                          bdm.volume_id, bdm.instance_uuid)
    bdm.destroy()


def connection_bytes(volume: dict[str, Any]) -> int:
    return int(volume.get("size") or 0) * GiB


class ComputeVolumeActions:
    """The compute manager's volume steps (a mixin of ComputeManager)."""

    driver: ComputeDriver
    host: str
    _event: Any

    @property
    def volume_rpc(self) -> Any:
        client = self.__dict__.get("_volume_rpc")
        if client is None:
            client = self.__dict__["_volume_rpc"] = rpc()
        return client

    # -- connect: before a spawn, a hard reboot on another host, a move --------

    def _connect_volume(self, context: RequestContext, instance: Instance,
                        bdm: BlockDeviceMapping) -> dict[str, Any]:
        """This host's connection to the volume of ``bdm``: the attachment
        updated with this host's connector, completed; connection_info
        saved on the mapping."""
        connector = self.driver.get_volume_connector(instance)
        if not bdm.attachment_id:
            attachment = self.volume_rpc.attachment_create(context, bdm.volume_id,
                                                           instance.uuid)
            bdm.attachment_id = attachment["id"]
            bdm.save()
        answer = self.volume_rpc.attachment_update(context, bdm.attachment_id, connector)
        info = dict(answer["connection_info"])
        info.setdefault("serial", bdm.volume_id)
        bdm.set_connection_info(info)
        bdm.save()
        return info

    def _complete_volumes(self, context: RequestContext,
                          bdms: list[BlockDeviceMapping]) -> None:
        for bdm in bdms:
            if bdm.attachment_id:
                self.volume_rpc.attachment_complete(context, bdm.attachment_id)

    def _create_volume(self, context: RequestContext, instance: Instance,
                       bdm: BlockDeviceMapping) -> None:
        """A new volume for ``bdm`` (boot from a new volume: from an image,
        a snapshot or blank), 'available' when this returns."""
        volume = self.volume_rpc.create(
            context, int(bdm.volume_size or 1), name=f"{instance.display_name}-{bdm.device_name}",
            image_id=bdm.image_id if bdm.source_type == "image" else None,
            snapshot_id=bdm.snapshot_id if bdm.source_type == "snapshot" else None,
            availability_zone=None,
            description=f"made for server {instance.uuid}")
        bdm.volume_id = volume["id"]
        bdm.save()

    def prepare_volumes(self, context: RequestContext, instance: Instance,
                        bdms: BlockDeviceMappingList) -> dict[str, Any]:
        """Before a spawn (a build, an unshelve): the volumes a build makes
        are made, every volume connected to this host; the spawn's
        block_device_info. The attachments are completed by the caller
        once the guest runs (``_complete_volumes``)."""
        for bdm in bdms.volumes:
            if not bdm.volume_id:
                self._create_volume(context, instance, bdm)
            self._connect_volume(context, instance, bdm)
        return bdms.block_device_info()

    def _block_device_info(self, context: RequestContext,
                           instance: Instance) -> dict[str, Any]:
        """The instance's block_device_info as recorded (a hard reboot,
        power on, a regenerated definition on this host)."""
        try:
            return BlockDeviceMappingList.get_by_instance_uuid(
                context, instance.uuid).block_device_info()
        except Exception:
            LOG.exception("Could not read the block devices of %s", instance.uuid)
            return {"root_device_name": "/dev/vda", "ephemerals": [], "swap": None,
                    "block_device_mapping": []}

    # -- attach, detach (RPC 6.11) ------------------------------------------------

    def attach_volume(self, context: RequestContext, instance: Instance,
                      bdm: BlockDeviceMapping) -> None:
        """Cast from the API (its mapping and reserved attachment exist):
        connect, plug, complete. A failure undoes all three (the volume is
        available again, the mapping gone) and records the event's error."""
        from novalite.compute.manager import _instance_lock

        with _instance_lock(instance.uuid):
            try:
                with self._event(context, instance, "attach_volume",
                                 "compute_attach_volume", volume_id=bdm.volume_id):
                    self._attach(context, instance, bdm)
            except Exception as exc:
                LOG.warning("Attaching volume %s to %s failed: %s", bdm.volume_id,
                            instance.uuid, exc)
                self._undo_attach(context, instance, bdm)

    def _attach(self, context: RequestContext, instance: Instance,
                bdm: BlockDeviceMapping) -> None:
        info = self._connect_volume(context, instance, bdm)
        self.driver.attach_volume(context, info, instance, str(bdm.device_name),
                                  disk_bus=bdm.disk_bus, device_type=bdm.device_type)
        try:
            self.volume_rpc.attachment_complete(context, bdm.attachment_id)
        except BaseException:
            self.driver.detach_volume(context, info, instance, str(bdm.device_name))
            raise
        LOG.info("Volume %s attached to %s at %s", bdm.volume_id, instance.uuid,
                 bdm.device_name)

    def _undo_attach(self, context: RequestContext, instance: Instance,
                     bdm: BlockDeviceMapping) -> None:
        try:
            if bdm.attachment_id:
                self.volume_rpc.attachment_delete(context, bdm.attachment_id)
            bdm.destroy()
        except Exception:
            LOG.exception("Could not undo the attachment of volume %s to %s",
                          bdm.volume_id, instance.uuid)

    def detach_volume(self, context: RequestContext, instance: Instance,
                      volume_id: str) -> None:
        """Cast from the API: unplug, delete the attachment and the mapping.
        A guest that does not let it go keeps it (the event's error says
        so; the attachment stays)."""
        from novalite.compute.manager import _instance_lock

        with _instance_lock(instance.uuid):
            try:
                bdm = BlockDeviceMapping.get_by_volume_and_instance(context, volume_id,
                                                                    instance.uuid)
            except exception.NotFound:
                LOG.info("Volume %s is not attached to %s (detached already)", volume_id,
                         instance.uuid)
                return
            with self._event(context, instance, "detach_volume", "compute_detach_volume",
                             volume_id=volume_id):
                info = bdm.get_connection_info()
                if info is not None:
                    self.driver.detach_volume(context, info, instance, str(bdm.device_name))
                bdm.delete_on_termination = False
                release(context, self.volume_rpc, bdm)
                LOG.info("Volume %s detached from %s", volume_id, instance.uuid)

    # -- delete -------------------------------------------------------------------

    def _release_volumes(self, context: RequestContext, instance: Instance) -> None:
        """After the guest is destroyed: every volume detached (deleted when
        delete_on_termination), best effort per volume."""
        try:
            bdms = BlockDeviceMappingList.get_by_instance_uuid(context, instance.uuid)
        except Exception:
            LOG.exception("Could not read the block devices of %s", instance.uuid)
            return
        for bdm in bdms.volumes:
            try:
                release(context, self.volume_rpc, bdm)
            except Exception:
                LOG.exception("Could not release volume %s of %s", bdm.volume_id,
                              instance.uuid)

    # -- moves: the volume is handed to another host -------------------------------

    def _hand_over_volumes(self, context: RequestContext, instance: Instance) -> None:
        """The guest left this host (its definition is gone or powered off
        for a move, or it is offloaded): each volume gets a new attachment
        without a connector (reserved for the server) and this host's is
        deleted (its export closed)."""
        for bdm in BlockDeviceMappingList.get_by_instance_uuid(context,
                                                               instance.uuid).volumes:
            if not bdm.volume_id:
                continue
            old = bdm.attachment_id
            try:
                new = self.volume_rpc.attachment_create(context, bdm.volume_id,
                                                        instance.uuid)["id"]
            except exception.Invalid:
                # NOTE: a volume service that allows one attachment per
                # volume: delete first (the volume is briefly available).
                if old:
                    self.volume_rpc.attachment_delete(context, old)
                old = None
                new = self.volume_rpc.attachment_create(context, bdm.volume_id,
                                                        instance.uuid)["id"]
            bdm.attachment_id = new
            bdm.set_connection_info(None)
            bdm.save()
            if old:
                self.volume_rpc.attachment_delete(context, old)

    def _connect_volumes_here(self, context: RequestContext,
                              instance: Instance) -> dict[str, Any]:
        """The guest arrives on this host (finish_resize, revert, unshelve):
        each volume connected here and completed; its block_device_info."""
        bdms = BlockDeviceMappingList.get_by_instance_uuid(context, instance.uuid)
        for bdm in bdms.volumes:
            self._connect_volume(context, instance, bdm)
        self._complete_volumes(context, bdms.volumes)
        return bdms.block_device_info()

    def _disconnect_failed_build(self, context: RequestContext, instance: Instance) -> None:
        """A build that failed here (the guest destroyed): its volumes are
        no longer connected to this host, so a host it is rescheduled to
        connects its own (best effort: a failure is logged)."""
        try:
            self._hand_over_volumes(context, instance)
        except Exception:
            LOG.exception("Could not disconnect the volumes of the failed build of %s",
                          instance.uuid)

    # -- live migration: both hosts connected while the guest moves -----------------

    def _connect_volumes_for_live_migration(self, context: RequestContext,
                                            instance: Instance) -> dict[str, Any]:
        """On the destination (pre_live_migration): a new attachment per
        volume connected to this host, the source's left alone. Returns
        {volume_id: {"old": attachment, "new": attachment, "connection_info"}}
        for the migrate data; on failure what was made here is deleted."""
        made: dict[str, Any] = {}
        connector = self.driver.get_volume_connector(instance)
        try:
            for bdm in BlockDeviceMappingList.get_by_instance_uuid(context,
                                                                   instance.uuid).volumes:
                new = self.volume_rpc.attachment_create(context, bdm.volume_id,
                                                        instance.uuid)["id"]
                made[bdm.volume_id] = {"old": bdm.attachment_id, "new": new}
                answer = self.volume_rpc.attachment_update(context, new, connector)
                info = dict(answer["connection_info"])
                info.setdefault("serial", bdm.volume_id)
                made[bdm.volume_id]["connection_info"] = info
        except BaseException:
            self._drop_attachments(context, [m["new"] for m in made.values()])
            raise
        return made

    def _drop_attachments(self, context: RequestContext, attachment_ids: list[str]) -> None:
        for attachment_id in attachment_ids:
            try:
                self.volume_rpc.attachment_delete(context, attachment_id)
            except Exception:
                LOG.exception("Could not delete attachment %s", attachment_id)

    def _switch_volumes_after_live_migration(self, context: RequestContext,
                                             instance: Instance,
                                             volumes: dict[str, Any]) -> None:
        """On the destination once the guest runs here: the mappings take the
        new attachments (completed), the source's are deleted."""
        for bdm in BlockDeviceMappingList.get_by_instance_uuid(context,
                                                               instance.uuid).volumes:
            moved = volumes.get(str(bdm.volume_id))
            if not moved:
                continue
            bdm.attachment_id = moved["new"]
            bdm.set_connection_info(moved["connection_info"])
            bdm.save()
            self.volume_rpc.attachment_complete(context, moved["new"])
            if moved.get("old"):
                self._drop_attachments(context, [moved["old"]])

    # -- the volume-extended event (os-server-external-events) ----------------------

    def external_instance_event(self, context: RequestContext, instance: Instance,
                                name: str, tag: str | None) -> None:
        """Cast (6.11): ``volume-extended`` (tag: the volume id): the guest
        sees the volume's new size (driver.extend_volume)."""
        if name != "volume-extended" or not tag:
            LOG.info("Ignoring event %s for %s", name, instance.uuid)
            return
        try:
            with self._event(context, instance, "extend_volume", "compute_extend_volume"):
                bdm = BlockDeviceMapping.get_by_volume_and_instance(context, tag,
                                                                    instance.uuid)
                info = bdm.get_connection_info()
                if info is None:
                    return
                size = connection_bytes(self.volume_rpc.get(context, tag))
                seen = self.driver.extend_volume(context, info, instance, size)
                LOG.info("Volume %s of %s extended: the guest sees %d bytes", tag,
                         instance.uuid, seen)
        except Exception:
            LOG.warning("Extending volume %s of %s failed: %s", tag, instance.uuid,
                        traceback.format_exc())
