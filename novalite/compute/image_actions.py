"""The compute manager's part for snapshot (createImage), createBackup, shelve / shelveOffload / unshelve, rebuild.

A mixin of ComputeManager (novalite/compute/manager.py keeps the seed's
entry points; each family of operations lives in a module of its own, as
STYLE.md asks). The RPC methods here are served by ComputeManager's target.

Snapshots: the driver writes a consistent qcow2 copy of the root disk
(driver.snapshot), this host streams it into the image the compute API
recorded ``queued`` (novalite.image.client, the requester's token), then
removes its copy. A failure deletes the image and puts the instance back
where it was, the action's event marked Error (as Nova).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from oslo_log import log as logging

from novalite import exception
from novalite.compute import api_images, task_states, vm_states
from novalite.conf import CONF
from novalite.image.client import ImageClient
from novalite.virt import power_state

if TYPE_CHECKING:
    from novalite.context import RequestContext
    from novalite.objects.instance import Instance
    from novalite.objects.request_spec import ImageMeta, InjectedFileList, RequestSpec

LOG = logging.getLogger(__name__)

_DELETED = (exception.InstanceNotFound, exception.UnexpectedDeletingTaskState)


def _lock(uuid: str) -> Any:
    from novalite.compute.manager import _instance_lock

    return _instance_lock(uuid)


class ComputeImageActions:
    """Host-side snapshot (createImage), createBackup, shelve / shelveOffload / unshelve, rebuild."""

    if TYPE_CHECKING:
        host: str
        driver: Any
        rt: Any
        _event: Callable[..., Any]
        _fail: Callable[..., bool]
        _task_is_current: Callable[..., bool]
        _network_info: Callable[..., list[dict[str, Any]]]
        _get_power_state: Callable[..., int]
        # NOTE: the volume steps (novalite/compute/volumes.py).
        _block_device_info: Callable[..., dict[str, Any]]
        _hand_over_volumes: Callable[..., None]
        _connect_volumes_here: Callable[..., dict[str, Any]]

    # -- snapshots and backups ------------------------------------------------------

    def snapshot_instance(self, context: RequestContext, instance: Instance,
                          image_id: str) -> None:
        with _lock(instance.uuid):
            if not self._task_is_current(context, instance,
                                         (task_states.IMAGE_SNAPSHOT_PENDING,), "createImage"):
                return
            self._image_task(context, instance, image_id, "createImage",
                             "compute_snapshot_instance",
                             task_states.IMAGE_SNAPSHOT_PENDING, task_states.IMAGE_SNAPSHOT)

    def backup_instance(self, context: RequestContext, instance: Instance, image_id: str,
                        backup_type: str, rotation: int) -> None:
        with _lock(instance.uuid):
            if not self._task_is_current(context, instance, (task_states.IMAGE_BACKUP,),
                                         "createBackup"):
                return
            self._image_task(context, instance, image_id, "createBackup",
                             "compute_backup_instance",
                             task_states.IMAGE_BACKUP, task_states.IMAGE_BACKUP,
                             lambda: self._rotate_backups(context, instance, backup_type,
                                                          rotation))

    def _image_task(self, context: RequestContext, instance: Instance, image_id: str,
                    action: str, event: str, expected: str, first: str,
                    then: Callable[[], None] | None = None) -> None:
        """Snapshot and upload under the action's event, then ``then``
        (backup rotation); the task state cleared after (also on failure,
        the image then deleted)."""
        try:
            with self._event(context, instance, action, event, snapshot_image_id=image_id):
                self._set_task(instance, first, expected)
                self._snapshot_and_upload(context, instance, image_id,
                                          task_states.IMAGE_PENDING_UPLOAD,
                                          task_states.IMAGE_UPLOADING)
            if then is not None:
                then()
            instance.task_state = None
            instance.save(expected_task_state=[task_states.IMAGE_UPLOADING])
        except _DELETED:
            self._delete_image(context, image_id)
        except Exception as exc:
            LOG.warning("%s of %s failed: %s", action, instance.uuid, exc)
            self._delete_image(context, image_id)
            self._clear_task(instance)

    def _snapshot_and_upload(self, context: RequestContext, instance: Instance, image_id: str,
                             pending: str, uploading: str) -> None:
        client = ImageClient()
        record = client.get(context, image_id)
        path = self.driver.snapshot(context, instance, {**record, "properties": record})
        try:
            self._set_task(instance, pending, instance.task_state)
            self._set_task(instance, uploading, pending)
            client.upload(context, image_id, path)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
        LOG.info("Snapshot of %s uploaded as image %s", instance.uuid, image_id)

    def _rotate_backups(self, context: RequestContext, instance: Instance, backup_type: str,
                        rotation: int) -> None:
        """As Nova: of the instance's backups of ``backup_type``, the newest
        ``rotation`` stay, the others are deleted."""
        try:
            # NOTE: the backups are the caller's project's (an admin's backup
            # of another project's server is the admin's).
            owner = str(context.project_id or instance.project_id)
            client = ImageClient()
            backups = [i for i in client.list_owned(context, owner)
                       if i.get("instance_uuid") == instance.uuid
                       and i.get("image_type") == "backup"
                       and i.get("backup_type") == backup_type]
            # NOTE: in the API's order, newest first by the full-precision
            # creation time (the answer's created_at has seconds only).
            for old in backups[rotation:]:
                LOG.info("Rotating out backup %s of %s", old["id"], instance.uuid)
                client.delete(context, old["id"])
        except Exception as exc:
            LOG.warning("Backup rotation of %s failed: %s", instance.uuid, exc)

    @staticmethod
    def _delete_image(context: RequestContext, image_id: str) -> None:
        try:
            ImageClient().delete(context, image_id)
        except Exception:
            LOG.exception("Could not delete image %s", image_id)

    @staticmethod
    def _set_task(instance: Instance, task: str, expected: Any) -> None:
        instance.task_state = task
        instance.save(expected_task_state=[expected])

    @staticmethod
    def _clear_task(instance: Instance, **changes: Any) -> None:
        """Back to no task (the vm_state kept unless ``changes`` say)."""
        try:
            for name, value in changes.items():
                setattr(instance, name, value)
            instance.task_state = None
            instance.save()
        except _DELETED:
            pass

    # -- shelve ---------------------------------------------------------------------

    def shelve_instance(self, context: RequestContext, instance: Instance,
                        image_id: str) -> None:
        """Power off, snapshot into ``image_id``, SHELVED (the image's id,
        the time and this host in system_metadata); then offloaded at once
        when this host's [DEFAULT] shelved_offload_time is 0 (as Nova, the
        host's option decides)."""
        with _lock(instance.uuid):
            if not self._task_is_current(context, instance, (task_states.SHELVING,), "shelve"):
                return
            was_running = self._get_power_state(instance) == power_state.RUNNING
            offload = CONF.shelved_offload_time == 0
            try:
                with self._event(context, instance, "shelve", "compute_shelve_instance"):
                    self.driver.power_off(instance, CONF.compute.guest_shutdown_timeout)
                    # NOTE: no image for a volume-backed server (image_id ''):
                    # its root volume keeps the disk (Nova's).
                    if image_id:
                        self._snapshot_and_upload(context, instance, image_id,
                                                  task_states.SHELVING_IMAGE_PENDING_UPLOAD,
                                                  task_states.SHELVING_IMAGE_UPLOADING)
                instance.system_metadata = api_images.shelved_system_metadata(
                    instance, image_id, self.host)
                instance.vm_state = vm_states.SHELVED
                instance.power_state = self._get_power_state(instance)
                instance.task_state = task_states.SHELVING_OFFLOADING if offload else None
                instance.save(expected_task_state=[
                    task_states.SHELVING_IMAGE_UPLOADING if image_id else task_states.SHELVING])
            except _DELETED:
                self._delete_image(context, image_id)
                return
            except Exception as exc:
                LOG.warning("Shelve of %s failed: %s", instance.uuid, exc)
                self._delete_image(context, image_id)
                self._restore_power(context, instance, was_running)
                self._clear_task(instance, power_state=self._get_power_state(instance))
                return
            if offload:
                self._shelve_offload(context, instance)

    def _restore_power(self, context: RequestContext, instance: Instance,
                       was_running: bool) -> None:
        if not was_running:
            return
        try:
            self.driver.power_on(context, instance,
                                 network_info=self._network_info(context, instance),
                                 block_device_info=self._block_device_info(context, instance))
        except Exception:
            LOG.exception("Could not start %s again after its failed shelve", instance.uuid)

    def shelve_offload_instance(self, context: RequestContext, instance: Instance) -> None:
        with _lock(instance.uuid):
            if not self._task_is_current(context, instance, (task_states.SHELVING_OFFLOADING,),
                                         "shelveOffload"):
                return
            self._shelve_offload(context, instance)

    def _shelve_offload(self, context: RequestContext, instance: Instance) -> None:
        """The guest destroyed and this host's resources freed; the ports
        kept but bound to no host (as Nova's unbind_ports), the instance on
        no host: SHELVED_OFFLOADED."""
        try:
            with self._event(context, instance, "shelveOffload",
                             "compute_shelve_offload_instance"):
                self.driver.destroy(context, instance, self._network_info(context, instance),
                                    self._block_device_info(context, instance))
                self.rt.release(context, instance.uuid)
                _bind_ports(context, instance, None)
                # NOTE: as Nova's: the volumes stay the server's (reserved)
                # but no host is connected to them until it is unshelved.
                self._hand_over_volumes(context, instance)
            instance.host = None
            instance.node = None
            instance.vm_state = vm_states.SHELVED_OFFLOADED
            instance.power_state = power_state.NOSTATE
            instance.task_state = None
            instance.save(expected_task_state=[task_states.SHELVING_OFFLOADING])
            LOG.info("Instance %s offloaded from %s", instance.uuid, self.host)
        except _DELETED:
            return
        except Exception as exc:
            LOG.warning("Offload of %s failed: %s", instance.uuid, exc)
            self._fail(context, instance, exc)

    def offload_shelved_instances(self) -> None:
        """Periodic: SHELVED instances of this host whose shelved_offload_time passed."""
        from oslo_utils import timeutils

        from novalite import context as nl_context
        from novalite.objects.instance import InstanceList

        if CONF.shelved_offload_time <= 0:
            return
        ctxt = nl_context.get_admin_context()
        now = timeutils.utcnow()
        for inst in InstanceList.get_by_host(ctxt, self.host):
            shelved_at = (inst.system_metadata or {}).get(api_images.SHELVED_AT)
            if inst.vm_state != vm_states.SHELVED or inst.task_state is not None \
                    or not shelved_at:
                continue
            age = (now - timeutils.parse_isotime(shelved_at).replace(tzinfo=None))
            if age.total_seconds() < CONF.shelved_offload_time:
                continue
            try:
                inst.task_state = task_states.SHELVING_OFFLOADING
                inst.save(expected_task_state=[None])
            except (exception.Conflict, exception.InstanceNotFound):
                continue
            LOG.info("Offloading %s, shelved for %ds", inst.uuid, age.total_seconds())
            self.shelve_offload_instance(ctxt, inst)

    def unshelve_instance(self, context: RequestContext, instance: Instance,
                          image: ImageMeta | None, request_spec: RequestSpec | None) -> None:
        """SHELVED: start the guest again. SHELVED_OFFLOADED (this host was
        chosen): claim, bind the kept ports to this host (Nova's
        setup_instance_network_on_host), spawn from the shelved image with
        them (the driver plugs them here).
        ACTIVE after, the shelved image deleted; a failure leaves it
        SHELVED_OFFLOADED on no host with a fault (its event Error)."""
        with _lock(instance.uuid):
            if not self._task_is_current(context, instance, (task_states.UNSHELVING,),
                                         "unshelve"):
                return
            image_id = (instance.system_metadata or {}).get(api_images.SHELVED_IMAGE_ID)
            offloaded = instance.vm_state == vm_states.SHELVED_OFFLOADED
            try:
                with self._event(context, instance, "unshelve", "compute_unshelve_instance"):
                    network_info = self._network_info(context, instance)
                    if offloaded:
                        self._spawn_unshelved(context, instance, image, network_info)
                    else:
                        self.driver.power_on(
                            context, instance, network_info=network_info,
                            block_device_info=self._block_device_info(context, instance))
                # NOTE: as Nova, the shelved snapshot goes before the server
                # is ACTIVE again (best effort): who sees it ACTIVE sees it gone.
                if image_id:
                    self._delete_image(context, image_id)
                instance.system_metadata = api_images.unshelved_system_metadata(instance)
                instance.vm_state = vm_states.ACTIVE
                instance.power_state = self._get_power_state(instance)
                instance.task_state = None
                instance.save(expected_task_state=[task_states.UNSHELVING,
                                                   task_states.SPAWNING])
            except _DELETED:
                return
            except Exception as exc:
                LOG.warning("Unshelve of %s on %s failed: %s", instance.uuid, self.host, exc)
                self._unshelve_failed(context, instance, exc, offloaded)
                return

    def _spawn_unshelved(self, context: RequestContext, instance: Instance,
                         image: ImageMeta | None, network_info: list[dict[str, Any]]) -> None:
        if image is None:
            raise exception.NovaliteException(
                f"instance {instance.uuid} is offloaded and no shelved image was given")
        self.rt.instance_claim(context, instance)
        self._set_task(instance, task_states.SPAWNING, task_states.UNSHELVING)
        try:
            network_info = _bind_ports(context, instance, self.host)
            block_device_info = self._connect_volumes_here(context, instance)
            self.driver.spawn(context, instance, image.to_dict(), network_info,
                              block_device_info)
        except BaseException:
            self.rt.release(context, instance.uuid)
            # NOTE: the instance goes back to no host: so do its ports.
            with contextlib.suppress(Exception):
                _bind_ports(context, instance, None)
            raise

    def _unshelve_failed(self, context: RequestContext, instance: Instance, exc: Exception,
                         offloaded: bool) -> None:
        with contextlib.suppress(*_DELETED):
            instance.add_fault(exc, host=self.host)
        if offloaded:
            with contextlib.suppress(Exception):
                self.driver.destroy(context, instance, self._network_info(context, instance),
                                    self._block_device_info(context, instance))
            with contextlib.suppress(Exception):
                self._hand_over_volumes(context, instance)
            self._clear_task(instance, host=None, node=None)
        else:
            self._clear_task(instance)

    # -- rebuild ----------------------------------------------------------------------

    def rebuild_instance(self, context: RequestContext, instance: Instance, image: ImageMeta,
                         admin_password: str | None,
                         injected_files: InjectedFileList | None = None,
                         preserve_ephemeral: bool = False) -> None:
        """The guest destroyed and spawned again on this host from
        ``image`` with the same ports (so the same addresses) and flavor;
        REBUILDING → REBUILD_SPAWNING → ACTIVE (a stopped server stays
        stopped, as Nova). A failure: ERROR with a fault.

        ``preserve_ephemeral``: as Nova's default rebuild (the libvirt
        driver's): no driver of novalite can keep an ephemeral disk through
        a rebuild, so it is refused before the guest is touched
        (PreserveEphemeralNotSupported, the server in ERROR with that fault),
        whatever the flavor."""
        with _lock(instance.uuid):
            if not self._task_is_current(context, instance, (task_states.REBUILDING,),
                                         "rebuild"):
                return
            was_stopped = instance.vm_state == vm_states.STOPPED
            files = injected_files.to_dicts() if injected_files is not None else []
            try:
                with self._event(context, instance, "rebuild", "compute_rebuild_instance"):
                    if preserve_ephemeral and not getattr(
                            self.driver, "supports_preserve_ephemeral", False):
                        raise exception.PreserveEphemeralNotSupported()
                    network_info = self._network_info(context, instance)
                    # NOTE: the volumes stay connected to this host: the new
                    # guest gets them as the old one had them.
                    block_device_info = self._block_device_info(context, instance)
                    self.driver.destroy(context, instance, network_info, block_device_info)
                    self._set_task(instance, task_states.REBUILD_SPAWNING,
                                   task_states.REBUILDING)
                    self.driver.spawn(context, instance, image.to_dict(), network_info,
                                      block_device_info, injected_files=files)
                    if was_stopped:
                        self.driver.power_off(instance, 0)
                    self._set_password(instance, image, admin_password)
                instance.vm_state = vm_states.STOPPED if was_stopped else vm_states.ACTIVE
                instance.power_state = self._get_power_state(instance)
                instance.task_state = None
                instance.save(expected_task_state=[task_states.REBUILD_SPAWNING])
                LOG.info("Instance %s rebuilt from image %s", instance.uuid, image.id)
            except _DELETED:
                return
            except Exception as exc:
                LOG.warning("Rebuild of %s failed: %s", instance.uuid, exc)
                self._fail(context, instance, exc)

    def _set_password(self, instance: Instance, image: ImageMeta, password: str | None) -> None:
        """Through the guest agent when the image declares one (best effort,
        as Nova's rebuild: the password is in the answer either way)."""
        props = dict(image.properties or {})
        if not password or str(props.get("hw_qemu_guest_agent", "no")).lower() not in (
                "yes", "true", "1"):
            return
        try:
            self.driver.set_admin_password(instance, password)
        except Exception as exc:
            LOG.warning("Could not set the admin password of rebuilt %s: %s", instance.uuid,
                        exc)


def _bind_ports(context: RequestContext, instance: Instance,
                host: str | None) -> list[dict[str, Any]]:
    """The instance's ports bound to ``host`` (None: to no host); its
    network_info (through the conductor: computes have no database)."""
    from novalite.objects.network import FixedIPList

    return FixedIPList.setup_instance_network_on_host(context, instance.uuid, host)

