"""The compute API's part for createImage, createBackup, shelve / shelveOffload / unshelve, rebuild.

A mixin of novalite.compute.api.API (which keeps create, read, delete and
the seed's power actions): validates against state, records the action and
hands the work to the conductor or the instance's host.

As Nova: the image is recorded here, ``queued`` (so its id can be answered
at once), and the instance's host uploads the snapshot's data into it; the
image's properties are the base image's ones the instance inherited plus
``image_type``, ``instance_uuid``, ``user_id``, ``base_image_ref``.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from oslo_log import log as logging
from oslo_utils import timeutils

from novalite import exception
from novalite.compute import task_states, vm_states
from novalite.conf import CONF
from novalite.image import quota as image_quota
from novalite.objects.instance_action import InstanceAction
from novalite.objects.request_spec import ImageMeta, RequestSpec

if TYPE_CHECKING:
    from novalite.context import RequestContext
    from novalite.objects.instance import Instance

LOG = logging.getLogger(__name__)

# NOTE: Nova never lets a snapshot inherit these (signatures and encryption
# keys belong to the base image only), whatever
# [DEFAULT] non_inheritable_image_properties says.
NEVER_INHERITED = ("cinder_encryption_key_id", "cinder_encryption_key_deletion_policy",
                   "img_signature", "img_signature_hash_method", "img_signature_key_type",
                   "img_signature_certificate_uuid")
# NOTE: Nova's snapshot and backup states (not SHELVED: shelving snapshots).
SNAPSHOT_STATES = (vm_states.ACTIVE, vm_states.STOPPED, vm_states.PAUSED, vm_states.SUSPENDED)
SHELVE_STATES = (vm_states.ACTIVE, vm_states.STOPPED, vm_states.PAUSED, vm_states.SUSPENDED)
REBUILD_STATES = (vm_states.ACTIVE, vm_states.STOPPED, vm_states.ERROR)

# system_metadata keys, Nova's names
SHELVED_AT = "shelved_at"
SHELVED_IMAGE_ID = "shelved_image_id"
SHELVED_HOST = "shelved_host"


def _check(instance: Instance, action: str, vm_state: tuple[str, ...],
           task_state: tuple[Any, ...] = (None,)) -> None:
    from novalite.compute.api import _check_state

    _check_state(instance, action, vm_state=vm_state, task_state=task_state)


def _check_lock(context: RequestContext, instance: Instance) -> None:
    """As Nova's ``check_instance_lock`` (not on snapshots and backups): a
    locked server refuses the action to anyone but an admin."""
    from novalite import policy

    if instance.locked and not policy.check_is_admin(context):
        raise exception.InstanceIsLocked(instance_uuid=instance.uuid)


def _start_task(instance: Instance, action: str, task: str,
                expected: tuple[Any, ...] = (None,)) -> None:
    """The task state, set only if the stored one is still ``expected``
    (a racing action or delete wins: 409 naming it)."""
    instance.task_state = task
    try:
        instance.save(expected_task_state=list(expected))
    except exception.InstanceNotFound:
        raise
    except exception.Conflict as e:
        raise exception.InstanceInvalidState(action=action, instance_uuid=instance.uuid,
                                             attr="task_state", state="changing") from e


class ImageActionsAPI:
    """API-side createImage, createBackup, shelve / shelveOffload / unshelve, rebuild."""

    if TYPE_CHECKING:
        from novalite.compute.rpcapi import ComputeAPI
        from novalite.conductor.rpcapi import ConductorAPI
        from novalite.image.api import API as ImageAPI

        image_api: ImageAPI
        compute_rpcapi: ComputeAPI
        conductor: ConductorAPI

    # -- snapshots and backups ----------------------------------------------------

    def snapshot(self, context: RequestContext, instance: Instance, name: str,
                 extra_properties: dict[str, str] | None = None) -> dict[str, Any]:
        """createImage: a queued image now; the host uploads its data."""
        _check(instance, "createImage", SNAPSHOT_STATES)
        image = self._create_image(context, instance, name, "snapshot", extra_properties)
        self._cast_image_task(context, instance, image, "createImage",
                              task_states.IMAGE_SNAPSHOT_PENDING,
                              lambda: self.compute_rpcapi.snapshot_instance(
                                  context, instance, image["id"]))
        return image

    def backup(self, context: RequestContext, instance: Instance, name: str, backup_type: str,
               rotation: int, extra_properties: dict[str, str] | None = None) -> dict[str, Any]:
        """createBackup: a snapshot of image_type ``backup``; once it is
        uploaded, the oldest backups of the instance of that type beyond
        ``rotation`` are deleted."""
        _check(instance, "createBackup", SNAPSHOT_STATES)
        props = dict(extra_properties or {}, backup_type=backup_type)
        image = self._create_image(context, instance, name, "backup", props)
        self._cast_image_task(context, instance, image, "createBackup",
                              task_states.IMAGE_BACKUP,
                              lambda: self.compute_rpcapi.backup_instance(
                                  context, instance, image["id"], backup_type, rotation))
        return image

    def _cast_image_task(self, context: RequestContext, instance: Instance,
                         image: dict[str, Any], action: str, task: str, cast: Any) -> None:
        """The task state and action recorded, then the cast; the image is
        deleted again if any of it fails (nothing left queued for nobody)."""
        try:
            if not instance.host:
                raise exception.InstanceInvalidState(action=action, instance_uuid=instance.uuid,
                                                     attr="host", state="none")
            _start_task(instance, action, task)
            InstanceAction.action_start(context, instance.uuid, action)
            cast()
        except BaseException:
            self._delete_image_quietly(context, image["id"])
            raise

    def _delete_image_quietly(self, context: RequestContext, image_id: str) -> None:
        try:
            self.image_api.delete(context, image_id)
        except exception.NotFound:
            pass
        except Exception:
            LOG.exception("Could not delete image %s", image_id)

    def _create_image(self, context: RequestContext, instance: Instance, name: str,
                      image_type: str, extra_properties: dict[str, str] | None) -> dict[str, Any]:
        """The image record, queued, with Nova's snapshot metadata: the
        base image's inheritable properties, min_ram, min_disk (at least the
        flavor's root disk); private, or shared when the caller is not in
        the instance's project (``instance_owner`` then names it)."""
        base = self._base_image(context, instance)
        properties = {k: v for k, v in base.properties.items() if v is not None}
        for key in set(CONF.non_inheritable_image_properties) | set(NEVER_INHERITED):
            properties.pop(key, None)
        properties.update({"instance_uuid": instance.uuid, "user_id": str(context.user_id),
                           "image_type": image_type})
        if instance.image_ref:
            properties["base_image_ref"] = instance.image_ref
        visibility = "private"
        if context.project_id != instance.project_id:
            visibility = "shared"
            properties["instance_owner"] = instance.project_id
        properties.update(extra_properties or {})
        try:
            image = dict(self.image_api.create(
                context, name, disk_format="qcow2", container_format="bare",
                min_ram=int(base.min_ram or 0),
                min_disk=max(int(base.min_disk or 0), int(instance.flavor.root_gb or 0)),
                visibility=visibility, properties=properties))
        except image_quota.ImageQuotaExceeded as e:
            raise exception.OverQuota(overs="images",
                                      message=e.format_message()) from e
        except (exception.ImagePropertyLimitExceeded, exception.ImageTagLimitExceeded) as e:
            raise exception.OverQuota(overs="image properties",
                                      message=e.format_message()) from e
        if visibility == "shared":
            # NOTE: as Nova's image client: the server's project is made a
            # member, so its owner sees the snapshot of its server.
            try:
                self.image_api.add_member(context, image["id"], str(instance.project_id))
            except BaseException:
                self._delete_image_quietly(context, image["id"])
                raise
        return image

    @staticmethod
    def _base_image(context: RequestContext, instance: Instance) -> ImageMeta:
        """The image the instance was built (or last rebuilt) from, as its
        request spec recorded it."""
        try:
            image: ImageMeta = RequestSpec.get_by_instance_uuid(context, instance.uuid).image
            return image
        except exception.RequestSpecNotFound:
            meta = ImageMeta()
            meta.min_ram, meta.min_disk, meta.properties = 0, 0, {}
            return meta

    # -- shelve ---------------------------------------------------------------------

    def shelve(self, context: RequestContext, instance: Instance) -> None:
        """Snapshot ``<name>-shelved``, then SHELVED (and offloaded at once
        when the host's ``[DEFAULT] shelved_offload_time`` is 0, as Nova)."""
        _check_lock(context, instance)
        _check(instance, "shelve", SHELVE_STATES)
        if instance.image_ref == "":
            # NOTE: as Nova's: a volume-backed server is shelved without an
            # image (its root volume keeps its disk); unshelve boots it again.
            if not instance.host:
                raise exception.InstanceInvalidState(action="shelve",
                                                     instance_uuid=instance.uuid,
                                                     attr="host", state="none")
            _start_task(instance, "shelve", task_states.SHELVING)
            InstanceAction.action_start(context, instance.uuid, "shelve")
            self.compute_rpcapi.shelve_instance(context, instance, "")
            return
        image = self._create_image(context, instance, f"{instance.display_name}-shelved",
                                   "snapshot", None)
        self._cast_image_task(context, instance, image, "shelve", task_states.SHELVING,
                              lambda: self.compute_rpcapi.shelve_instance(
                                  context, instance, image["id"]))

    def _delete_shelved_image(self, context: RequestContext, instance: Instance) -> None:
        """Deleting a shelved server deletes its shelved image too (as Nova)."""
        image_id = (instance.system_metadata or {}).get(SHELVED_IMAGE_ID)
        if image_id:
            LOG.info("Deleting the shelved image %s of %s", image_id, instance.uuid)
            self._delete_image_quietly(context, image_id)

    def shelve_offload(self, context: RequestContext, instance: Instance) -> None:
        _check_lock(context, instance)
        _check(instance, "shelveOffload", (vm_states.SHELVED,))
        _start_task(instance, "shelveOffload", task_states.SHELVING_OFFLOADING)
        InstanceAction.action_start(context, instance.uuid, "shelveOffload")
        self.compute_rpcapi.shelve_offload_instance(context, instance)

    def unshelve(self, context: RequestContext, instance: Instance,
                 availability_zone: str | None = None, host: str | None = None,
                 unpin_az: bool = False) -> None:
        """As Nova: SHELVED starts again on its host; SHELVED_OFFLOADED is
        scheduled anew (into ``availability_zone`` / onto ``host`` when
        asked, 2.77 / 2.91) and spawned from the shelved image."""
        _check_lock(context, instance)
        _check(instance, "unshelve", (vm_states.SHELVED, vm_states.SHELVED_OFFLOADED))
        offloaded = instance.vm_state == vm_states.SHELVED_OFFLOADED
        if (availability_zone or host or unpin_az) and not offloaded:
            raise exception.Conflict(
                reason=f"The unshelve action with an availability zone or host is only "
                       f"allowed for a shelved offloaded server; {instance.uuid} is "
                       f"{instance.vm_state}")
        if availability_zone:
            self._check_availability_zone(context, availability_zone)  # type: ignore[attr-defined]
        if host:
            self._check_unshelve_host(context, host, availability_zone)
        _start_task(instance, "unshelve", task_states.UNSHELVING)
        InstanceAction.action_start(context, instance.uuid, "unshelve")
        self.conductor.unshelve_instance(context, instance, availability_zone=availability_zone,
                                         host=host, unpin_az=unpin_az)

    @staticmethod
    def _check_unshelve_host(context: RequestContext, host: str, zone: str | None) -> None:
        from novalite.objects.service import Service

        try:
            svc = Service.get_by_host_and_binary(context, host, "novalite-compute")
        except exception.ServiceNotFound:
            raise exception.Invalid(reason=f"Compute host {host} could not be found.") from None
        svc_zone = svc.availability_zone or CONF.default_availability_zone
        if zone and svc_zone != zone:
            raise exception.Invalid(reason=f"Host {host} is not in availability zone {zone}.")

    # -- rebuild ----------------------------------------------------------------------

    def rebuild(self, context: RequestContext, instance: Instance, image_href: str,
                admin_password: str | None, **kwargs: Any) -> None:
        """Spawn the guest again, on its host with its network_info, from
        ``image_href``; ``kwargs``: display_name, display_description,
        metadata, key_name, user_data, hostname, files_to_inject,
        preserve_ephemeral (the host refuses it when its driver cannot keep
        the ephemeral disk, as Nova's libvirt)."""
        _check_lock(context, instance)
        _check(instance, "rebuild", REBUILD_STATES)
        try:
            image = self.image_api.get(context, image_href)
        except exception.ImageNotFound:
            raise exception.Invalid(reason="Cannot find image for rebuild") from None
        volume_backed = _check_volume_backed_rebuild(context, instance, image)
        if not volume_backed:
            self._check_image(context, image, instance.flavor)  # type: ignore[attr-defined]
        files = kwargs.pop("files_to_inject", None)
        preserve_ephemeral = bool(kwargs.pop("preserve_ephemeral", False))
        if "key_name" in kwargs:
            from novalite.compute.api import _key_data

            key_name = kwargs.pop("key_name")
            instance.key_name = key_name
            instance.key_data = _key_data(context, key_name) if key_name else None
        for field in ("display_name", "display_description", "metadata", "user_data",
                      "hostname"):
            if field in kwargs:
                setattr(instance, field, kwargs.pop(field))
        instance.image_ref = "" if volume_backed else image["id"]
        _start_task(instance, "rebuild", task_states.REBUILDING)
        InstanceAction.action_start(context, instance.uuid, "rebuild")
        self.conductor.rebuild_instance(context, instance, ImageMeta.from_image(image),
                                        admin_password, files or [],
                                        preserve_ephemeral=preserve_ephemeral)


def _check_volume_backed_rebuild(context: RequestContext, instance: Instance,
                                 image: dict[str, Any]) -> bool:
    """Whether the server is volume-backed. As Nova before 2.93 (novalite
    does not reimage a root volume): such a server is rebuilt only with the
    image its root volume was made from (400 otherwise); its image_ref
    stays ''."""
    from novalite.compute import volumes as volume_client
    from novalite.objects.block_device import BlockDeviceMappingList

    bdms = BlockDeviceMappingList.get_by_instance_uuid(context, instance.uuid)
    root = next((b for b in bdms.volumes if b.is_root), None)
    if root is None:
        return False
    try:
        volume = volume_client.api().get(context, root.volume_id)
    except exception.NotFound:
        volume = {}
    original = (volume.get("volume_image_metadata") or {}).get("image_id")
    if original != image["id"]:
        raise exception.Invalid(reason="Unable to rebuild with a different image for a "
                                       "volume-backed server.")
    return True


def shelved_system_metadata(instance: Instance, image_id: str, host: str) -> dict[str, str | None]:
    """The instance's system_metadata with Nova's shelve keys set."""
    sysmeta = dict(instance.system_metadata or {})
    sysmeta[SHELVED_AT] = timeutils.utcnow().isoformat()
    sysmeta[SHELVED_IMAGE_ID] = image_id
    sysmeta[SHELVED_HOST] = host
    return sysmeta


def unshelved_system_metadata(instance: Instance) -> dict[str, str | None]:
    sysmeta = dict(instance.system_metadata or {})
    for key in (SHELVED_AT, SHELVED_IMAGE_ID, SHELVED_HOST):
        sysmeta.pop(key, None)
    return sysmeta


def generate_password() -> str:
    """An admin password as Nova's (``[DEFAULT] password_length``, 12)."""
    alphabet = "23456789abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
    return "".join(secrets.choice(alphabet) for _ in range(12))
