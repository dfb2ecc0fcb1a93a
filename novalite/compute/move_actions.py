"""The compute manager's part for resize, cold migration, evacuation and live migration.

A mixin of ComputeManager (novalite/compute/manager.py keeps the seed's
entry points; each family of operations lives in a module of its own, as
STYLE.md asks). The RPC methods here are served by ComputeManager's target.

Resize and cold migration, as Nova's (the conductor chose the destination
and recorded the migration ``pre-migrating``):

1. ``prep_resize`` on the destination: claims the new flavor (the source
   keeps its claim of the old one until confirm), records old/new flavor on
   the instance, opens its end of the disk channel (another host) and asks
   the source to go on.
2. ``resize_instance`` on the source (RESIZE_MIGRATING, ``migrating``):
   the driver powers the guest off, keeps its files aside and sends them
   through the channel; then RESIZE_MIGRATED, ``post-migrating``.
3. ``finish_resize`` on the destination (RESIZE_FINISH): the driver
   receives the files and starts the guest with the new flavor; the server
   is RESIZED (VERIFY_RESIZE) on the destination, ``finished``.
4. ``confirm_resize`` on the source (``confirming`` → ``confirmed``): the
   files kept aside and the source's claim go. ``revert_resize`` on the
   destination (RESIZE_REVERTING, ``reverting``) removes the new guest and
   its claim, then ``finish_revert_resize`` on the source brings the old one
   back with the old flavor (``reverted``).

A failure before the guest moved leaves the server where it was (task state
cleared, a fault, the step's event Error, the migration ``error``); one
after it ERROR with a fault, as Nova's.
"""

from __future__ import annotations

import contextlib
import datetime
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from oslo_concurrency import lockutils
from oslo_log import log as logging
from oslo_utils import timeutils

from novalite import context as nl_context
from novalite import exception
from novalite.compute import task_states, vm_states
from novalite.compute.disk_transfer import ChannelSender, DiskReceiver
from novalite.conf import CONF
from novalite.objects import migration as mig
from novalite.objects.instance import Instance
from novalite.objects.instance_action import InstanceAction
from novalite.objects.request_spec import RequestSpec
from novalite.virt import driver as virt_driver

if TYPE_CHECKING:
    from novalite.context import RequestContext
    from novalite.objects.flavor import Flavor

LOG = logging.getLogger(__name__)

OLD_VM_STATE = "old_vm_state"


class _MoveClaim:
    """What the resource tracker claims for a move on the host the instance
    is already on (a same-host resize): the new flavor under its own key,
    beside the instance's claim of the old one."""

    def __init__(self, key: str, instance: Instance, flavor: Flavor) -> None:
        self.uuid = key
        self.flavor = flavor
        self.system_metadata = (instance.system_metadata
                                if instance.obj_attr_is_set("system_metadata") else {})

    @staticmethod
    def obj_attr_is_set(name: str) -> bool:
        return name == "system_metadata"


def _move_claim_key(instance_uuid: str) -> str:
    return f"{instance_uuid}:resize"


class ComputeMoveActions:
    """Host-side resize, cold migration, evacuation and live migration."""

    host: str
    driver: Any
    rt: Any
    _event: Any
    _fail: Any
    _network_info: Any
    _get_power_state: Any
    # NOTE: the volume steps (novalite/compute/volumes.py).
    _block_device_info: Any
    _hand_over_volumes: Any
    _connect_volumes_here: Any
    _connect_volumes_for_live_migration: Any
    _drop_attachments: Any
    _switch_volumes_after_live_migration: Any

    # -- helpers ---------------------------------------------------------------

    @property
    def _moves_rpc(self) -> Any:
        rpc = self.__dict__.get("_moves_rpc_client")
        if rpc is None:
            from novalite.compute import rpcapi

            rpc = self.__dict__.setdefault("_moves_rpc_client", rpcapi.ComputeAPI())
        return rpc

    def _receivers(self) -> dict[str, DiskReceiver]:
        receivers: dict[str, DiskReceiver] = self.__dict__.setdefault("_move_receivers", {})
        return receivers

    def _close_receiver(self, migration_uuid: str) -> None:
        with self.__dict__.setdefault("_move_receivers_lock", threading.Lock()):
            receiver = self._receivers().pop(migration_uuid, None)
        if receiver is not None:
            receiver.close()

    @contextlib.contextmanager
    def _current(self, context: RequestContext, instance: Instance, expected: tuple[Any, ...],
                 name: str) -> Iterator[bool]:
        """Under the instance's lock: is the step still asked for (its task
        state one of ``expected``)? A repeated message finds nothing to do."""
        with lockutils.lock(f"instance-{instance.uuid}"):
            try:
                current = Instance.get_by_uuid(context, instance.uuid)
            except exception.InstanceNotFound:
                yield False
                return
            if current.task_state not in expected:
                LOG.info("Ignoring %s of %s: its task state is %s", name, instance.uuid,
                         current.task_state)
                yield False
                return
            instance.refresh_from(current)
            yield True

    def _migration_failed(self, context: RequestContext, instance: Instance,
                          migration: mig.Migration, exc: BaseException, *,
                          to_error: bool, status: str = mig.ERROR) -> None:
        """Record the failure: migration ``status``; the server ERROR with
        a fault (``to_error``) or back to its stable state with a fault."""
        LOG.warning("Move of %s (migration %s) failed on %s: %s", instance.uuid,
                    migration.uuid, self.host, exc)
        with contextlib.suppress(Exception):
            migration.status = status
            migration.save()
        if to_error:
            self._fail(context, instance, exc)
            return
        try:
            instance.add_fault(exc, host=self.host)
            instance.task_state = None
            instance.save()
        except (exception.InstanceNotFound, exception.Conflict):
            pass

    @staticmethod
    def _image_meta(context: RequestContext, instance: Instance) -> dict[str, Any]:
        try:
            return dict(RequestSpec.get_by_instance_uuid(context, instance.uuid).image.to_dict())
        except exception.RequestSpecNotFound:
            return {"id": instance.image_ref, "properties": {}}

    # -- resize / cold migration: destination --------------------------------

    def prep_resize(self, context: RequestContext, instance: Instance, flavor: Flavor,
                    migration: mig.Migration) -> None:
        with self._current(context, instance, (task_states.RESIZE_PREP,),
                           "prep_resize") as current:
            if not current:
                return
            try:
                with self._event(context, instance, _action(migration), "compute_prep_resize"):
                    endpoint = self._prep_resize(context, instance, flavor, migration)
            except Exception as exc:
                self._drop_dest_claim(context, instance, migration)
                self._close_receiver(migration.uuid)
                self._migration_failed(context, instance, migration, exc, to_error=False)
                return
        self._moves_rpc.resize_instance(context, instance, migration, flavor, endpoint)

    def _prep_resize(self, context: RequestContext, instance: Instance, flavor: Flavor,
                     migration: mig.Migration) -> dict[str, Any] | None:
        same_host = migration.source_compute == self.host
        if same_host and not CONF.allow_resize_to_same_host:
            raise exception.Invalid(reason=(
                f"instance {instance.uuid} cannot be resized on its own host {self.host} "
                "([DEFAULT] allow_resize_to_same_host is False)"))
        if same_host:
            self.rt.instance_claim(context, _MoveClaim(_move_claim_key(instance.uuid),
                                                       instance, flavor))
        else:
            claimed = Instance(context=context, uuid=instance.uuid, flavor=flavor,
                               system_metadata=dict(instance.system_metadata or {}))
            self.rt.instance_claim(context, claimed)
        instance.old_flavor = instance.flavor
        instance.new_flavor = flavor
        sysmeta = dict(instance.system_metadata or {})
        sysmeta[OLD_VM_STATE] = instance.vm_state
        instance.system_metadata = sysmeta
        instance.save(expected_task_state=[task_states.RESIZE_PREP])
        migration.dest_compute = self.host
        migration.dest_node = self.driver.get_available_nodes()[0]
        migration.dest_host = CONF.my_ip
        migration.save()
        if same_host:
            return None
        receiver = DiskReceiver(migration.uuid, instance.uuid)
        with self.__dict__.setdefault("_move_receivers_lock", threading.Lock()):
            self._receivers()[migration.uuid] = receiver
        return receiver.endpoint()

    def _drop_dest_claim(self, context: RequestContext, instance: Instance,
                         migration: mig.Migration) -> None:
        if migration.source_compute == self.host:
            self.rt.release(context, _move_claim_key(instance.uuid))
        else:
            self.rt.release(context, instance.uuid)

    def abort_resize(self, context: RequestContext, instance: Instance,
                     migration: mig.Migration) -> None:
        """The source could not send the disks: forget the claim and the channel."""
        self._close_receiver(migration.uuid)
        self._drop_dest_claim(context, instance, migration)

    def finish_resize(self, context: RequestContext, instance: Instance,
                      migration: mig.Migration, disk_info: list[dict[str, Any]]) -> None:
        with self._current(context, instance, (task_states.RESIZE_MIGRATED,),
                           "finish_resize") as current:
            if not current:
                self._close_receiver(migration.uuid)
                return
            try:
                with self._event(context, instance, _action(migration),
                                 "compute_finish_resize"):
                    self._finish_resize(context, instance, migration, disk_info)
            except Exception as exc:
                self._drop_dest_claim(context, instance, migration)
                with contextlib.suppress(Exception):
                    instance.flavor = instance.old_flavor or instance.flavor
                    instance.save()
                self._migration_failed(context, instance, migration, exc, to_error=True)
            finally:
                self._close_receiver(migration.uuid)

    def _finish_resize(self, context: RequestContext, instance: Instance,
                       migration: mig.Migration, disk_info: list[dict[str, Any]]) -> None:
        instance.task_state = task_states.RESIZE_FINISH
        instance.save(expected_task_state=[task_states.RESIZE_MIGRATED])
        receiver = self._receivers().get(migration.uuid)
        # NOTE: on one host the driver copies locally (its default).
        transfer = receiver.transfer() if receiver is not None else None
        old_vm_state = (instance.system_metadata or {}).get(OLD_VM_STATE, vm_states.ACTIVE)
        new_flavor = instance.new_flavor or instance.flavor
        resized = instance.old_flavor is None or new_flavor.id != instance.old_flavor.id \
            or new_flavor.root_gb != instance.old_flavor.root_gb
        instance.flavor = new_flavor
        # NOTE: the source handed the volumes over (new attachments, no
        # connector); this host connects them (volumes.py).
        block_device_info = self._connect_volumes_here(context, instance)
        self.driver.finish_migration(
            context, migration, instance, disk_info, self._network_info(context, instance),
            self._image_meta(context, instance), resized,
            block_device_info=block_device_info,
            power_on=old_vm_state != vm_states.STOPPED, disk_transfer=transfer)
        # NOTE: as Nova, the migration is finished before the server shows
        # VERIFY_RESIZE: a confirm sent at once finds it.
        migration.status = mig.FINISHED
        migration.save()
        instance.host = self.host
        instance.node = migration.dest_node
        instance.power_state = self._get_power_state(instance)
        instance.vm_state = vm_states.RESIZED
        instance.task_state = None
        instance.save(expected_task_state=[task_states.RESIZE_FINISH])
        LOG.info("Instance %s moved to %s; waiting for confirm or revert", instance.uuid,
                 self.host)

    # -- resize / cold migration: source ----------------------------------------

    def resize_instance(self, context: RequestContext, instance: Instance,
                        migration: mig.Migration, flavor: Flavor,
                        endpoint: dict[str, Any] | None = None) -> None:
        with self._current(context, instance, (task_states.RESIZE_PREP,),
                           "resize_instance") as current:
            if not current:
                return
            try:
                with self._event(context, instance, _action(migration),
                                 "compute_resize_instance"):
                    disk_info = self._resize_instance(context, instance, migration, flavor,
                                                      endpoint)
            except Exception as exc:
                # NOTE: the driver put the guest back as it was (its contract).
                with contextlib.suppress(Exception):
                    self._moves_rpc.abort_resize(context, instance, migration)
                with contextlib.suppress(Exception):
                    instance.old_flavor = None
                    instance.new_flavor = None
                    instance.save()
                self._migration_failed(context, instance, migration, exc, to_error=False)
                return
        self._moves_rpc.finish_resize(context, instance, migration, disk_info)

    def _resize_instance(self, context: RequestContext, instance: Instance,
                         migration: mig.Migration, flavor: Flavor,
                         endpoint: dict[str, Any] | None) -> list[dict[str, Any]]:
        instance.task_state = task_states.RESIZE_MIGRATING
        instance.save(expected_task_state=[task_states.RESIZE_PREP])
        migration.status = mig.MIGRATING
        migration.save()
        transfer = ChannelSender(endpoint) if endpoint is not None else None
        disk_info: list[dict[str, Any]] = self.driver.migrate_disk_and_power_off(
            context, instance, migration.dest_compute, flavor,
            self._network_info(context, instance),
            block_device_info=self._block_device_info(context, instance),
            timeout=CONF.compute.guest_shutdown_timeout, disk_transfer=transfer)
        # NOTE: the guest is off: its volumes go to the destination (Nova's
        # _terminate_volume_connections).
        self._hand_over_volumes(context, instance)
        migration.status = mig.POST_MIGRATING
        migration.save()
        instance.power_state = self._get_power_state(instance)
        instance.task_state = task_states.RESIZE_MIGRATED
        instance.save(expected_task_state=[task_states.RESIZE_MIGRATING])
        return disk_info

    def confirm_resize(self, context: RequestContext, instance: Instance,
                       migration: mig.Migration) -> None:
        """On the source: the move is final."""
        with lockutils.lock(f"instance-{instance.uuid}"):
            try:
                instance.refresh_from(Instance.get_by_uuid(context, instance.uuid,
                                                           read_deleted=True))
            except exception.InstanceNotFound:
                return
            # NOTE: a server deleted in VERIFY_RESIZE is confirmed on its way
            # out (compute API delete): only the source's leftovers go.
            deleting = bool(instance.deleted or instance.task_state == task_states.DELETING)
            if instance.vm_state != vm_states.RESIZED and not deleting:
                LOG.info("Ignoring confirm of %s: it is %s", instance.uuid, instance.vm_state)
                return
            if deleting:
                self._drop_source(context, instance, migration, deleting=True)
                with contextlib.suppress(Exception):
                    migration.status = mig.CONFIRMED
                    migration.save()
                return
            try:
                with self._event(context, instance, "confirmResize",
                                 "compute_confirm_resize"):
                    self._confirm_resize(context, instance, migration)
            except Exception as exc:
                self._migration_failed(context, instance, migration, exc, to_error=True)

    def _drop_source(self, context: RequestContext, instance: Instance,
                     migration: mig.Migration, deleting: bool = False) -> None:
        """The source's guest (or files kept aside) and claim go."""
        same_host = migration.dest_compute == self.host
        self.driver.confirm_migration(context, migration, instance,
                                      None if same_host else self._network_info(context,
                                                                                instance))
        if same_host:
            # NOTE: the instance's claim becomes the new flavor's (a delete
            # releases the instance's claim itself).
            self.rt.release(context, _move_claim_key(instance.uuid))
            if not deleting:
                self.rt.release(context, instance.uuid)
                self.rt.instance_claim(context, instance)
        else:
            # NOTE: the destination's claim already is the instance's.
            self.rt.release(context, instance.uuid)

    def _confirm_resize(self, context: RequestContext, instance: Instance,
                        migration: mig.Migration) -> None:
        self._drop_source(context, instance, migration)
        sysmeta = dict(instance.system_metadata or {})
        old_vm_state = sysmeta.pop(OLD_VM_STATE, vm_states.ACTIVE)
        instance.system_metadata = sysmeta
        instance.old_flavor = None
        instance.new_flavor = None
        instance.vm_state = (vm_states.STOPPED if old_vm_state == vm_states.STOPPED
                             else vm_states.ACTIVE)
        instance.task_state = None
        instance.save(expected_vm_state=[vm_states.RESIZED])
        migration.status = mig.CONFIRMED
        migration.save()
        _update_spec_flavor(context, instance)

    def revert_resize(self, context: RequestContext, instance: Instance,
                      migration: mig.Migration) -> None:
        """On the destination: remove the new guest and its claim, then the
        source brings the old one back."""
        with self._current(context, instance, (task_states.RESIZE_REVERTING,),
                           "revert_resize") as current:
            if not current:
                return
            try:
                with self._event(context, instance, "revertResize", "compute_revert_resize"):
                    if migration.source_compute != self.host:
                        self.driver.destroy(context, instance,
                                            self._network_info(context, instance),
                                            self._block_device_info(context, instance))
                    self._hand_over_volumes(context, instance)
                    self._drop_dest_claim(context, instance, migration)
            except Exception as exc:
                self._migration_failed(context, instance, migration, exc, to_error=True)
                return
        self._moves_rpc.finish_revert_resize(context, instance, migration)

    def finish_revert_resize(self, context: RequestContext, instance: Instance,
                             migration: mig.Migration) -> None:
        with self._current(context, instance, (task_states.RESIZE_REVERTING,),
                           "finish_revert_resize") as current:
            if not current:
                return
            try:
                with self._event(context, instance, "revertResize",
                                 "compute_finish_revert_resize"):
                    self._finish_revert_resize(context, instance, migration)
            except Exception as exc:
                self._migration_failed(context, instance, migration, exc, to_error=True)

    def _finish_revert_resize(self, context: RequestContext, instance: Instance,
                              migration: mig.Migration) -> None:
        sysmeta = dict(instance.system_metadata or {})
        old_vm_state = sysmeta.pop(OLD_VM_STATE, vm_states.ACTIVE)
        instance.flavor = instance.old_flavor or instance.flavor
        instance.host = self.host
        instance.node = migration.source_node
        self.driver.finish_revert_migration(context, instance,
                                            self._network_info(context, instance), migration,
                                            block_device_info=self._connect_volumes_here(
                                                context, instance),
                                            power_on=old_vm_state != vm_states.STOPPED)
        instance.system_metadata = sysmeta
        instance.old_flavor = None
        instance.new_flavor = None
        instance.power_state = self._get_power_state(instance)
        instance.vm_state = (vm_states.STOPPED if old_vm_state == vm_states.STOPPED
                             else vm_states.ACTIVE)
        instance.task_state = None
        instance.save(expected_task_state=[task_states.RESIZE_REVERTING])
        migration.status = mig.REVERTED
        migration.save()

    def _recover_resize_migrating(self, ctxt: RequestContext, instance: Instance) -> None:
        """At start (Nova's _init_instance): this source died while it moved
        the guest's files aside; put them back and the guest as it was (a
        guest never moved aside is left alone), the migration in error."""
        LOG.warning("Instance %s was being moved when the compute service on %s stopped; "
                    "rolling the move back", instance.uuid, self.host)
        try:
            migration = mig.Migration.get_by_instance_and_status(
                ctxt, instance.uuid, [mig.MIGRATING, mig.PRE_MIGRATING])
        except mig.MigrationNotFound:
            migration = None
        power_on = (instance.system_metadata or {}).get(OLD_VM_STATE) != vm_states.STOPPED
        try:
            self.driver.finish_revert_migration(ctxt, instance,
                                                self._network_info(ctxt, instance), migration,
                                                power_on=power_on)
        except virt_driver.MigrationError:
            LOG.info("Instance %s had nothing kept aside; its guest is as it was",
                     instance.uuid)
        except Exception as exc:
            self._fail(ctxt, instance, exc, expected_task_state=[task_states.RESIZE_MIGRATING])
            return
        if migration is not None:
            with contextlib.suppress(Exception):
                self._moves_rpc.abort_resize(ctxt, instance, migration)
            with contextlib.suppress(Exception):
                migration.status = mig.ERROR
                migration.save()
        try:
            instance.old_flavor = None
            instance.new_flavor = None
            instance.power_state = self._get_power_state(instance)
            instance.task_state = None
            instance.save(expected_task_state=[task_states.RESIZE_MIGRATING])
        except (exception.Conflict, exception.InstanceNotFound):
            pass

    # -- auto-confirm (periodic) ----------------------------------------------

    def _poll_unconfirmed_resizes(self) -> None:
        """Nova's: moves to this host left in VERIFY_RESIZE for longer than
        ``[compute] resize_confirm_window`` are confirmed."""
        window = CONF.compute.resize_confirm_window
        if window <= 0:
            return
        ctxt = nl_context.get_admin_context()
        cutoff = timeutils.utcnow() - datetime.timedelta(seconds=window)
        for migration in mig.MigrationList.get_by_filters(
                ctxt, {"status": mig.FINISHED, "dest_compute": self.host,
                       "migration_type": [mig.RESIZE, mig.MIGRATION],
                       "updated_before": cutoff}):
            try:
                instance = Instance.get_by_uuid(ctxt, migration.instance_uuid)
            except exception.InstanceNotFound:
                continue
            if instance.vm_state != vm_states.RESIZED or instance.task_state is not None:
                continue
            LOG.info("Automatically confirming the move of %s (migration %s) after %ss",
                     instance.uuid, migration.uuid, window)
            migration.status = mig.CONFIRMING
            migration.save()
            InstanceAction.action_start(ctxt, instance.uuid, "confirmResize")
            self._moves_rpc.confirm_resize(ctxt, instance, migration)

    # -- evacuate (the new host) ------------------------------------------------

    def evacuate_instance(self, context: RequestContext, instance: Instance,
                          migration: mig.Migration, target_state: str | None = None) -> None:
        """Rebuild here from the image an instance whose host is down (Nova's
        rebuild_instance with recreate): same uuid, flavor and addresses."""
        with self._current(context, instance, (task_states.REBUILDING,),
                           "evacuate") as current:
            if not current:
                return
            try:
                with self._event(context, instance, "evacuate", "compute_rebuild_instance"):
                    self._evacuate(context, instance, migration, target_state)
            except Exception as exc:
                self.rt.release(context, instance.uuid)
                with contextlib.suppress(Exception):
                    self.driver.destroy(context, instance, self._network_info(context,
                                                                              instance))
                self._migration_failed(context, instance, migration, exc, to_error=True,
                                       status=mig.FAILED)

    def _evacuate(self, context: RequestContext, instance: Instance,
                  migration: mig.Migration, target_state: str | None) -> None:
        was = instance.vm_state
        self.rt.instance_claim(context, instance)
        instance.host = self.host
        instance.node = migration.dest_node or self.driver.get_available_nodes()[0]
        instance.task_state = task_states.REBUILD_SPAWNING
        instance.save(expected_task_state=[task_states.REBUILDING])
        # NOTE: as Nova's evacuate: each volume gets a new attachment, the
        # down source's is deleted (its export closed), this host connects.
        self._hand_over_volumes(context, instance)
        self.driver.spawn(context, instance, self._image_meta(context, instance),
                          self._network_info(context, instance),
                          self._connect_volumes_here(context, instance))
        stop = target_state == vm_states.STOPPED or was == vm_states.STOPPED
        if stop:
            self.driver.power_off(instance, CONF.compute.guest_shutdown_timeout)
        instance.power_state = self._get_power_state(instance)
        instance.vm_state = vm_states.STOPPED if stop else vm_states.ACTIVE
        instance.task_state = None
        instance.launched_at = timeutils.utcnow()
        instance.save(expected_task_state=[task_states.REBUILD_SPAWNING])
        migration.status = mig.DONE
        migration.save()

    def _destroy_evacuated_instances(self, ctxt: RequestContext) -> None:
        """At start (Nova's): guests here of instances evacuated away while
        this host was down are destroyed (their addresses stay: the instance
        lives on elsewhere); the migration is then ``completed``.

        ``list_instance_uuids`` lists this compute's guests only; one whose
        guest is no longer among them (the destination, a compute service on
        the same hypervisor, took it over) still has its files here: the
        driver's ``destroy`` removes them and leaves the other's guest alone
        (every driver's ``destroy`` is idempotent)."""
        try:
            migrations = mig.MigrationList.get_by_filters(
                ctxt, {"source_compute": self.host, "migration_type": mig.EVACUATION,
                       "status": [mig.ACCEPTED, mig.PRE_MIGRATING, mig.DONE]})
        except Exception:
            LOG.exception("Could not read the evacuations from %s", self.host)
            return
        if not migrations:
            return
        guests = set(self.driver.list_instance_uuids())
        for migration in migrations:
            try:
                inst = Instance.get_by_uuid(ctxt, migration.instance_uuid, read_deleted=True)
            except exception.InstanceNotFound:
                inst = Instance(context=ctxt, uuid=migration.instance_uuid)
            if migration.instance_uuid in guests:
                LOG.warning("Destroying the guest of %s on %s: it was evacuated to %s",
                            migration.instance_uuid, self.host, migration.dest_compute)
            else:
                LOG.info("Removing what is left here of %s, evacuated to %s",
                         migration.instance_uuid, migration.dest_compute)
            self.driver.destroy(ctxt, inst, self._network_info(ctxt, inst))
            if migration.status == mig.DONE:
                migration.status = mig.COMPLETED
                migration.save()

    # -- live migration -----------------------------------------------------------

    def live_migration(self, context: RequestContext, instance: Instance,
                       migration: mig.Migration, dest: str) -> None:
        """On the source: move the running guest to ``dest``."""
        with self._current(context, instance, (task_states.MIGRATING,),
                           "live_migration") as current:
            if not current:
                return
            try:
                with self._event(context, instance, "live-migration",
                                 "compute_live_migration"):
                    guest = self._live_migrate(context, instance, migration, dest)
            except Exception as exc:
                self._migration_failed(context, instance, migration, exc, to_error=False)
                return
        if guest is None:
            return
        self._moves_rpc.post_live_migration_at_destination(context, instance, migration, guest)

    def _live_migrate(self, context: RequestContext, instance: Instance,
                      migration: mig.Migration, dest: str) -> dict[str, Any] | None:
        """The guest's state for the destination; None when the migration
        was aborted (it is cancelled, the guest still here as it was)."""
        migrate = getattr(self.driver, "live_migration", None)
        if migrate is None:
            raise virt_driver.MigrationError(reason=(
                f"the compute driver of host {self.host} ({type(self.driver).__name__}) "
                "cannot live-migrate"))
        with self._live_migration_lock():
            # NOTE: an abort of the queued or preparing migration (2.65) got
            # here first: the server is already back to its stable state.
            if mig.Migration.get_by_id(context, migration.id).status == mig.CANCELLED:
                LOG.info("Live migration %s of %s was aborted before it ran", migration.uuid,
                         instance.uuid)
                return None
            migration.status = mig.RUNNING
            migration.save()
        try:
            source_data = self.driver.live_migration_source_data(instance)
            # NOTE: as Nova's: the destination prepares first (a failure there
            # leaves the guest here, untouched).
            migrate_data = self._moves_rpc.pre_live_migration(context, instance, migration,
                                                              source_data)
            try:
                if self._abort_requested(migration.id):
                    raise virt_driver.LiveMigrationAborted(instance_uuid=instance.uuid)
                guest: dict[str, Any] = migrate(context, instance, dest,
                                                self._network_info(context, instance),
                                                migrate_data=migrate_data)
            except Exception:
                with contextlib.suppress(Exception):
                    self._moves_rpc.rollback_live_migration_at_destination(context, instance,
                                                                           migration)
                raise
        except virt_driver.LiveMigrationAborted:
            self._live_migration_cancelled(context, instance, migration)
            return None
        finally:
            with self._live_migration_lock():
                self._live_migration_aborts().discard(migration.id)
        self.rt.release(context, instance.uuid)
        return guest

    # -- live migration: force complete (2.22) and abort (2.24, 2.65) ----------------

    def _live_migration_lock(self) -> threading.Lock:
        lock: threading.Lock = self.__dict__.setdefault("_live_migration_lock_", threading.Lock())
        return lock

    def _live_migration_aborts(self) -> set[int]:
        """Ids of running live migrations an abort was asked for (under the lock)."""
        aborts: set[int] = self.__dict__.setdefault("_live_migration_aborts_", set())
        return aborts

    def _abort_requested(self, migration_id: int) -> bool:
        with self._live_migration_lock():
            return migration_id in self._live_migration_aborts()

    def _live_migration_cancelled(self, context: RequestContext, instance: Instance,
                                  migration: mig.Migration) -> None:
        """As Nova's rollback with migration_status 'cancelled': the server
        keeps its host and vm_state, no task, no fault."""
        LOG.info("Live migration %s of %s aborted; the guest stays on %s", migration.uuid,
                 instance.uuid, self.host)
        with contextlib.suppress(Exception):
            migration.status = mig.CANCELLED
            migration.save()
        try:
            instance.task_state = None
            instance.save(expected_task_state=[task_states.MIGRATING])
        except (exception.InstanceNotFound, exception.Conflict):
            pass

    def live_migration_force_complete(self, context: RequestContext, instance: Instance,
                                      migration: mig.Migration) -> None:
        """On the source (2.22): the driver finishes the running copy now;
        ``live_migration`` then completes as usual."""
        with self._event(context, instance, "live_migration_force_complete",
                         "compute_live_migration_force_complete"):
            self.driver.live_migration_force_complete(instance)

    def live_migration_abort(self, context: RequestContext, instance: Instance,
                             migration_id: int) -> None:
        """On the source (2.24, 2.65): a queued or preparing migration is
        cancelled before it runs; a running one is stopped by the driver
        (``live_migration`` sees LiveMigrationAborted and cancels it). One
        that ended meanwhile is left as it is."""
        with self._event(context, instance, "live_migration_cancel",
                         "compute_live_migration_abort"):
            with self._live_migration_lock():
                migration = mig.Migration.get_by_id(context, migration_id)
                if migration.status in mig.LIVE_QUEUED:
                    self._live_migration_cancelled(context, instance, migration)
                    return
                if migration.status != mig.RUNNING:
                    LOG.info("Not aborting live migration %s of %s: it is %s", migration.uuid,
                             instance.uuid, migration.status)
                    return
                self._live_migration_aborts().add(migration.id)
            try:
                self.driver.live_migration_abort(instance)
            except virt_driver.MigrationError as exc:
                # NOTE: the copy has not started yet (the destination is still
                # preparing): live_migration sees the request before it starts.
                LOG.info("Live migration %s of %s: %s; aborting before the copy",
                         migration.uuid, instance.uuid, exc)

    def pre_live_migration(self, context: RequestContext, instance: Instance,
                           migration: mig.Migration,
                           source_data: dict[str, Any]) -> dict[str, Any]:
        """On the destination (a call from the source): make ready for the
        incoming guest; returns the driver's migrate_data. A failure is the
        caller's (the source records it); what was made here is removed."""
        with self._event(context, instance, "live-migration", "compute_pre_live_migration"):
            # NOTE: as Nova's: a new attachment per volume, connected to this
            # host, beside the source's (the driver's migration points the
            # guest's disks at migrate_data["volumes"][id]["connection_info"]).
            volumes = self._connect_volumes_for_live_migration(context, instance)
            try:
                migrate_data: dict[str, Any] = self.driver.pre_live_migration(
                    context, instance, self._image_meta(context, instance),
                    self._network_info(context, instance), source_data)
            except BaseException:
                self._drop_attachments(context, [v["new"] for v in volumes.values()])
                raise
        if volumes:
            migrate_data = dict(migrate_data)
            migrate_data["volumes"] = volumes
            self.__dict__.setdefault("_live_migration_volumes", {})[instance.uuid] = volumes
        return migrate_data

    def rollback_live_migration_at_destination(self, context: RequestContext,
                                               instance: Instance,
                                               migration: mig.Migration) -> None:
        try:
            self.driver.rollback_live_migration_at_destination(
                context, instance, self._network_info(context, instance))
        except Exception:
            LOG.exception("Could not roll back the live migration of %s on %s",
                          instance.uuid, self.host)
        volumes = self.__dict__.setdefault("_live_migration_volumes", {}).pop(instance.uuid,
                                                                              {})
        self._drop_attachments(context, [v["new"] for v in volumes.values()])

    def post_live_migration_at_destination(self, context: RequestContext, instance: Instance,
                                           migration: mig.Migration,
                                           guest: dict[str, Any]) -> None:
        with self._current(context, instance, (task_states.MIGRATING,),
                           "post_live_migration_at_destination") as current:
            if not current:
                return
            try:
                with self._event(context, instance, "live-migration",
                                 "compute_post_live_migration_at_destination"):
                    self.driver.post_live_migration_at_destination(
                        context, instance, self._network_info(context, instance), guest)
                    self._switch_volumes_after_live_migration(
                        context, instance,
                        self.__dict__.setdefault("_live_migration_volumes", {}).pop(
                            instance.uuid, {}))
                    self.rt.instance_claim(context, instance)
                    instance.host = self.host
                    instance.node = migration.dest_node or self.driver.get_available_nodes()[0]
                    instance.power_state = self._get_power_state(instance)
                    instance.task_state = None
                    instance.save(expected_task_state=[task_states.MIGRATING])
                    migration.status = mig.COMPLETED
                    migration.save()
            except Exception as exc:
                self._migration_failed(context, instance, migration, exc, to_error=True)


def _action(migration: mig.Migration) -> str:
    return "resize" if migration.migration_type == mig.RESIZE else "migrate"


def _update_spec_flavor(context: RequestContext, instance: Instance) -> None:
    """After a confirm the recorded request spec carries the new flavor (a
    later move or evacuation schedules with it), as Nova's."""
    try:
        spec = RequestSpec.get_by_instance_uuid(context, instance.uuid)
        spec.flavor = instance.flavor
        spec.save()
    except Exception:
        LOG.exception("Could not record the new flavor in the request spec of %s",
                      instance.uuid)

