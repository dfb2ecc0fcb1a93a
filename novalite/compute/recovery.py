"""What a compute host does with the instances it finds when it starts
(Nova's ``_init_instance``), and with guests whose instance was deleted while
the host looked down (Nova's ``running_deleted_instance_action``).

A compute may have died at any point (SIGTERM, SIGKILL, a power cut), and its
queue is durable: messages sent to it meanwhile are delivered after the
recovery. So recovery decides only what no queued message will, and every
handler re-reads the instance under its lock and ignores a message whose work
is already done (see ``ComputeManager.run_instance`` and ``_power_action``):

- DELETING: the delete finishes (guest, addresses, claim, row).
- BUILDING, build started here (networking, block_device_mapping, spawning):
  the build thread died with the process. A guest that is running already
  reached the hypervisor: the instance becomes ACTIVE. Anything else is
  cleaned up and ends in ERROR with a fault saying why.
- BUILDING, scheduling (the conductor chose this host; run_instance not seen):
  its message may still be queued. After ``[compute] queued_build_grace``
  seconds of consuming, an instance whose run_instance never came ends in
  ERROR with a fault.
- powering-off, powering-on, rebooting: the action runs again (idempotent on
  the hypervisor); a queued copy of the message then finds nothing to do.

The other task states as Nova's ``_init_instance`` treats them:

- rebuilding, rebuild_spawning (ACTIVE or STOPPED): ERROR, the task cleared.
- resize_prep: the task is cleared (nothing had moved yet).
- migrating (a live migration): the task is cleared and its migration, if it
  was running, is in error.
- any other (rescuing, unrescuing, resize_migrated, resize_finish,
  resize_reverting, resize_confirming, shelving_offloading, unshelving...):
  left as it is, as Nova leaves it: a queued message for it still finishes
  it; otherwise an admin's os-resetState does, as in Nova.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from oslo_log import log as logging
from oslo_utils import timeutils

from novalite import context as nl_context
from novalite import exception, persistence
from novalite.compute import power_actions, task_states, vm_states
from novalite.conf import CONF
from novalite.objects.instance import Instance, InstanceList
from novalite.virt import power_state

if TYPE_CHECKING:
    from novalite.context import RequestContext

LOG = logging.getLogger(__name__)

_IMAGE_TASKS = (task_states.IMAGE_SNAPSHOT, task_states.IMAGE_SNAPSHOT_PENDING,
                task_states.IMAGE_PENDING_UPLOAD, task_states.IMAGE_UPLOADING,
                task_states.IMAGE_BACKUP, task_states.SHELVING,
                task_states.SHELVING_IMAGE_PENDING_UPLOAD,
                task_states.SHELVING_IMAGE_UPLOADING)
_POWER_TASKS = (task_states.POWERING_OFF, task_states.POWERING_ON, task_states.REBOOTING,
                task_states.REBOOTING_HARD)
_REBUILD_TASKS = (task_states.REBUILDING, task_states.REBUILD_BLOCK_DEVICE_MAPPING,
                  task_states.REBUILD_SPAWNING)


class ComputeRecovery:
    """Mixed into ComputeManager; relies on its driver, host and steps."""

    host: str
    driver: Any
    rt: Any
    _fail: Any
    _do_terminate: Any
    _cleanup_build: Any
    _network_info: Any
    stop_instance: Any
    start_instance: Any
    reboot_instance: Any
    sync_power_states: Any
    _destroy_evacuated_instances: Any
    _recover_resize_migrating: Any
    _recover_power_access: Any

    def _init_recovery(self) -> None:
        # NOTE: uuid -> monotonic time recovery found it waiting for its
        # run_instance; run_instance removes it.
        self._awaiting_build: dict[str, float] = {}
        self._awaiting_lock = threading.Lock()
        self._grace_timer: threading.Timer | None = None

    # -- at start, before the RPC server consumes -----------------------------

    def _init_instances(self, ctxt: RequestContext, instances: Any) -> None:
        for inst in instances:
            try:
                self._init_instance(ctxt, inst)
            except Exception:
                LOG.exception("Could not recover instance %s on %s", inst.uuid, self.host)
        # NOTE: guests of instances evacuated while this host was down go
        # first (move_actions.py), so they are not reported as unknown.
        self._destroy_evacuated_instances(ctxt)
        self._handle_unknown_guests(ctxt, {i.uuid for i in instances}, at_start=True)
        self.sync_power_states()

    def _init_instance(self, ctxt: RequestContext, inst: Any) -> None:
        if inst.task_state == task_states.DELETING:
            LOG.info("Instance %s was being deleted when the compute service on %s stopped; "
                     "finishing the delete", inst.uuid, self.host)
            self._do_terminate(ctxt, inst)
        elif inst.vm_state == vm_states.BUILDING and inst.task_state in (
                None, task_states.SCHEDULING):
            with self._awaiting_lock:
                self._awaiting_build[inst.uuid] = time.monotonic()
        elif inst.vm_state == vm_states.BUILDING:
            self._recover_interrupted_build(ctxt, inst)
        elif inst.task_state in _IMAGE_TASKS:
            # NOTE: as Nova: an interrupted snapshot, backup or shelve is given
            # up, the server kept as it was (image_actions.py).
            LOG.info("Instance %s was %s when the compute service on %s stopped; giving "
                     "it up", inst.uuid, inst.task_state, self.host)
            try:
                interrupted = inst.task_state
                inst.task_state = None
                inst.save(expected_task_state=[interrupted])
            except (exception.Conflict, exception.InstanceNotFound):
                pass
        elif inst.task_state in power_actions.RECOVERED_TASKS:
            self._recover_power_access(ctxt, inst)
        elif inst.task_state in _POWER_TASKS:
            LOG.info("Instance %s was %s when the compute service on %s stopped; doing it "
                     "again", inst.uuid, inst.task_state, self.host)
            self._resume_power_action(ctxt, inst)
        elif inst.task_state == task_states.RESIZE_MIGRATING:
            # NOTE: as Nova: the source rolls the move back (move_actions.py).
            self._recover_resize_migrating(ctxt, inst)
        elif inst.task_state in _REBUILD_TASKS and inst.vm_state in (vm_states.ACTIVE,
                                                                     vm_states.STOPPED):
            # NOTE: as Nova: "Instance failed to rebuild correctly".
            self._fail(ctxt, inst, exception.NovaliteException(
                f"compute service on {self.host} restarted while the instance was "
                f"{inst.task_state}; it failed to rebuild"),
                expected_task_state=[inst.task_state])
        elif inst.task_state == task_states.RESIZE_PREP:
            LOG.info("Instance %s was %s when the compute service on %s stopped; clearing "
                     "the task", inst.uuid, inst.task_state, self.host)
            self._clear_interrupted_task(inst)
        elif inst.task_state == task_states.MIGRATING:
            self._reset_live_migration(ctxt, inst)
        elif inst.task_state is not None:
            # NOTE: as Nova's _init_instance, which has no case for these:
            # the task stays (a queued message still finishes it).
            LOG.warning("Instance %s was %s when the compute service on %s stopped; its "
                        "task is left as it is (os-resetState clears it)", inst.uuid,
                        inst.task_state, self.host)

    @staticmethod
    def _clear_interrupted_task(inst: Any) -> None:
        try:
            interrupted = inst.task_state
            inst.task_state = None
            inst.save(expected_task_state=[interrupted])
        except (exception.Conflict, exception.InstanceNotFound):
            pass

    def _reset_live_migration(self, ctxt: RequestContext, inst: Any) -> None:
        """Nova's: the live migration that was running is in error, the
        instance without its task (the guest stays where the driver has it)."""
        from novalite.objects import migration as mig

        try:
            migration = mig.Migration.get_by_instance_and_status(
                ctxt, inst.uuid, [mig.RUNNING, mig.PREPARING, mig.PRE_MIGRATING, "queued"])
        except mig.MigrationNotFound:
            migration = None
        if migration is not None and migration.migration_type == mig.LIVE_MIGRATION:
            migration.status = mig.ERROR
            migration.save()
        LOG.info("Instance %s was live-migrating when the compute service on %s stopped; "
                 "resetting its task", inst.uuid, self.host)
        self._clear_interrupted_task(inst)

    def _recover_interrupted_build(self, ctxt: RequestContext, inst: Any) -> None:
        """The build thread died with the process."""
        if inst.task_state == task_states.SPAWNING and self._guest_state(inst) in (
                power_state.RUNNING,):
            LOG.info("Instance %s reached the hypervisor on %s before the compute service "
                     "stopped; it is ACTIVE", inst.uuid, self.host)
            inst.power_state = power_state.RUNNING
            inst.vm_state = vm_states.ACTIVE
            inst.task_state = None
            inst.launched_at = timeutils.utcnow()
            try:
                inst.save(expected_task_state=[task_states.SPAWNING])
            except (exception.Conflict, exception.InstanceNotFound):
                return
            # NOTE: start-up tracked only settled instances; this one is now.
            self.rt.track_existing([inst])
            return
        LOG.warning("Build of %s on %s was interrupted in %s; it never reached the "
                    "hypervisor", inst.uuid, self.host, inst.task_state)
        self._fail(ctxt, inst, exception.NovaliteException(
            f"compute service on {self.host} stopped during the build "
            f"({inst.task_state}); the instance never reached the hypervisor"),
            destroy=True, expected_task_state=[inst.task_state])

    def _guest_state(self, inst: Any) -> int:
        try:
            return int(self.driver.get_info(inst).state)
        except exception.InstanceNotFound:
            return power_state.NOSTATE

    def _resume_power_action(self, ctxt: RequestContext, inst: Any) -> None:
        if inst.task_state == task_states.POWERING_OFF:
            self.stop_instance(ctxt, inst)
        elif inst.task_state == task_states.POWERING_ON:
            self.start_instance(ctxt, inst)
        else:
            self.reboot_instance(ctxt, inst, "HARD" if inst.task_state ==
                                 task_states.REBOOTING_HARD else "SOFT")

    # -- after the RPC server consumes -------------------------------------------

    def _start_queued_build_grace(self) -> None:
        with self._awaiting_lock:
            if not self._awaiting_build:
                return
            LOG.info("%d build(s) on %s were waiting for their request when the service "
                     "started; giving them %ss to arrive", len(self._awaiting_build),
                     self.host, CONF.compute.queued_build_grace)
        self._grace_timer = persistence.timer(CONF.compute.queued_build_grace,
                                              self._fail_builds_never_received)
        self._grace_timer.daemon = True
        self._grace_timer.start()

    def _build_request_received(self, uuid: str) -> None:
        with self._awaiting_lock:
            self._awaiting_build.pop(uuid, None)

    def _fail_builds_never_received(self) -> None:
        with self._awaiting_lock:
            lost, self._awaiting_build = list(self._awaiting_build), {}
        ctxt = nl_context.get_admin_context()
        for uuid in lost:
            try:
                inst = Instance.get_by_uuid(ctxt, uuid)
            except exception.InstanceNotFound:
                continue
            if inst.host != self.host or inst.vm_state != vm_states.BUILDING:
                continue
            LOG.warning("The build request of %s never reached %s; putting it in ERROR",
                        uuid, self.host)
            self._fail(ctxt, inst, exception.NovaliteException(
                f"the build request was lost when the compute service on {self.host} "
                "restarted; the instance never reached the hypervisor"),
                expected_task_state=[None, task_states.SCHEDULING])

    def _stop_recovery(self) -> None:
        if self._grace_timer is not None:
            self._grace_timer.cancel()

    # -- guests whose instance was deleted -----------------------------------

    def cleanup_running_deleted_instances(self) -> None:
        """Periodic: guests of instances deleted while this host looked down."""
        ctxt = nl_context.get_admin_context()
        # NOTE: guests first, then instances: an instance made in between is
        # in the second list, so its new guest never looks unknown.
        guests = set(self.driver.list_instance_uuids())
        known = {i.uuid for i in InstanceList.get_by_host(ctxt, self.host)}
        self._handle_unknown_guests(ctxt, known, guests=guests)

    def _handle_unknown_guests(self, ctxt: RequestContext, known: set[str], at_start: bool = False,
                               guests: set[str] | None = None) -> None:
        if guests is None:
            guests = set(self.driver.list_instance_uuids())
        for uuid in sorted(guests - known):
            try:
                inst = Instance.get_by_uuid(ctxt, uuid, read_deleted=True)
            except exception.InstanceNotFound:
                if at_start:
                    self._report_orphan(ctxt, uuid)
                continue
            if inst.deleted:
                self._running_deleted(ctxt, inst)

    def _running_deleted(self, ctxt: RequestContext, inst: Any) -> None:
        action = CONF.compute.running_deleted_instance_action
        if action == "noop":
            return
        if action == "log":
            LOG.warning("Guest of deleted instance %s is still on %s "
                        "(running_deleted_instance_action = log)", inst.uuid, self.host)
            return
        LOG.warning("Destroying the guest of deleted instance %s on %s (it was deleted "
                    "while this host looked down; running_deleted_instance_action = reap)",
                    inst.uuid, self.host)
        self.driver.destroy(ctxt, inst, self._network_info(ctxt, inst))

    def _report_orphan(self, ctxt: RequestContext, uuid: str) -> None:
        """A guest the hypervisor has that no instance ever claimed."""
        if CONF.compute.reap_orphans:
            LOG.warning("Destroying guest %s on %s: it belongs to no instance", uuid,
                        self.host)
            self.driver.destroy(ctxt, Instance(context=ctxt, uuid=uuid))
        else:
            LOG.warning("Guest %s on %s belongs to no instance; set [compute] "
                        "reap_orphans = true to remove such guests", uuid, self.host)
