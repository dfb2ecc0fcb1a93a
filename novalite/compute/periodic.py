"""The compute manager's periodic tasks: resource reports, power-state sync
and the deadlines of transitional states."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from oslo_concurrency import lockutils
from oslo_log import log as logging
from oslo_utils import timeutils

from novalite import context as nl_context
from novalite import exception, metrics
from novalite.compute import task_states, vm_states
from novalite.conf import CONF
from novalite.manager import PeriodicTask
from novalite.metrics import instances as instance_metrics
from novalite.objects.instance import Instance, InstanceList
from novalite.virt import power_state

if TYPE_CHECKING:
    from novalite.context import RequestContext

LOG = logging.getLogger(__name__)

_SYNCED = (vm_states.ACTIVE, vm_states.STOPPED)


class ComputePeriodicTasks:
    """Mixed into ComputeManager; relies on its driver, rt, host and _fail."""

    host: str
    driver: Any
    rt: Any
    _in_flight: dict[str, Any]
    _in_flight_lock: Any
    _fail: Any
    _do_terminate: Any
    _cleanup_build: Any
    cleanup_running_deleted_instances: Any
    offload_shelved_instances: Any
    _poll_unconfirmed_resizes: Any
    _guest_watch: Any

    def periodic_tasks(self) -> list[PeriodicTask]:
        return [
            PeriodicTask("update_available_resource", CONF.report_interval,
                         self.update_available_resource),
            PeriodicTask("sync_power_states", CONF.compute.sync_power_state_interval,
                         self.sync_power_states),
            PeriodicTask("check_deadlines", CONF.compute.deadline_check_interval,
                         self.check_deadlines),
            # NOTE: guest_watch.py: started guests followed for signs of life.
            PeriodicTask("watch_guests", CONF.compute.guest_watch_interval,
                         self.watch_guests),
            PeriodicTask("cleanup_running_deleted_instances",
                         CONF.compute.running_deleted_instance_poll_interval,
                         self.cleanup_running_deleted_instances),
            # NOTE: move_actions.py; does nothing while resize_confirm_window is 0.
            PeriodicTask("poll_unconfirmed_resizes",
                         max(1, min(CONF.compute.resize_confirm_window, 60)),
                         self._poll_unconfirmed_resizes),
            # NOTE: image_actions.py; as Nova, <= 0 never.
            *([PeriodicTask("offload_shelved_instances", CONF.shelved_poll_interval,
                            self.offload_shelved_instances)]
              if CONF.shelved_poll_interval > 0 else []),
            # NOTE: novalite.metrics.instances; 0 never.
            *([PeriodicTask("collect_instance_stats", CONF.metrics.instance_stats_interval,
                            self.collect_instance_stats)]
              if CONF.metrics.instance_stats_interval > 0 else []),
            # NOTE: as Nova: 0 runs at the default periodic interval, -1 never.
            *([PeriodicTask("image_cache_manager_pass",
                            CONF.image_cache.manager_interval or 60,
                            self.image_cache_manager_pass)]
              if CONF.image_cache.manager_interval >= 0 else []),
        ]

    def watch_guests(self) -> None:
        self._guest_watch.poll()

    def update_available_resource(self) -> None:
        self.rt.update_available_resource(nl_context.get_admin_context())

    def collect_instance_stats(self) -> None:
        """The usage counters of this host's guests, one bulk read from the
        driver, handed to the metrics (labelled with each one's project)."""
        if not metrics.enabled():
            return
        ctxt = nl_context.get_admin_context()
        owners = {inst.uuid: str(inst.project_id or "")
                  for inst in InstanceList.get_by_host(ctxt, self.host)}
        stats = self.driver.get_instance_stats(list(owners))
        instance_metrics.record(self.host, {uuid: (owners[uuid], counters)
                                            for uuid, counters in stats.items()
                                            if uuid in owners})

    def image_cache_manager_pass(self) -> None:
        """Nova's image cache pass: the driver removes cached images that no
        instance on this host uses (building ones included) and that aged
        past ``[image_cache]`` remove_unused_original_minimum_age_seconds."""
        ctxt = nl_context.get_admin_context()
        self.driver.manage_image_cache(ctxt, list(InstanceList.get_by_host(ctxt, self.host)))

    def sync_power_states(self) -> None:
        """Record what the hypervisor says; a guest that stopped by itself is
        STOPPED, one that vanished is ERROR with a fault."""
        ctxt = nl_context.get_admin_context()
        for inst in InstanceList.get_by_host(ctxt, self.host):
            if inst.task_state is not None or inst.vm_state not in _SYNCED:
                continue
            self._sync_instance_power_state(ctxt, inst)

    def _sync_instance_power_state(self, ctxt: RequestContext, inst: Any) -> None:
        """One instance, from a list that may be stale by now: an action in
        progress holds the instance's lock and is left alone this round; the
        instance is read again under the lock, and every write is a
        compare-and-swap on "no task", so a delete that starts meanwhile wins."""
        if self._power_state_unchanged(inst):
            return
        try:
            with lockutils.lock(f"instance-{inst.uuid}", blocking=False):
                try:
                    inst.refresh_from(Instance.get_by_uuid(ctxt, inst.uuid))
                except exception.InstanceNotFound:
                    return
                if inst.task_state is not None or inst.vm_state not in _SYNCED:
                    return
                self._record_power_state(ctxt, inst)
        except lockutils.AcquireLockFailedException:
            LOG.debug("Power-state sync skips %s: an action holds its lock", inst.uuid)

    def _power_state_unchanged(self, inst: Any) -> bool:
        """Most rounds find nothing to record: no lock, no second read."""
        try:
            state = self.driver.get_info(inst).state
        except exception.InstanceNotFound:
            return False
        return bool(state == inst.power_state and not (
            inst.vm_state == vm_states.ACTIVE and state == power_state.SHUTDOWN))

    def _record_power_state(self, ctxt: RequestContext, inst: Any) -> None:
        try:
            state = self.driver.get_info(inst).state
        except exception.InstanceNotFound:
            LOG.warning("Instance %s has no guest on %s", inst.uuid, self.host)
            inst.power_state = power_state.NOSTATE
            self._fail(ctxt, inst, exception.NovaliteException(
                f"the guest of instance {inst.uuid} disappeared from {self.host}"),
                expected_task_state=[None])
            return
        changed = state != inst.power_state
        inst.power_state = state
        if inst.vm_state == vm_states.ACTIVE and state == power_state.SHUTDOWN:
            LOG.info("Instance %s shut down by itself; now STOPPED", inst.uuid)
            inst.vm_state = vm_states.STOPPED
            changed = True
        if changed:
            try:
                inst.save(expected_task_state=[None])
            except (exception.Conflict, exception.InstanceNotFound):
                pass

    def check_deadlines(self) -> None:
        """Move instances whose task state outlived its deadline to ERROR."""
        ctxt = nl_context.get_admin_context()
        now = timeutils.utcnow()
        for inst in InstanceList.get_by_host(ctxt, self.host):
            if inst.task_state is None and inst.vm_state != vm_states.BUILDING:
                continue
            building = inst.vm_state == vm_states.BUILDING
            limit = CONF.compute.build_timeout if building else CONF.compute.task_timeout
            # NOTE: a build's clock starts at creation; other tasks' at their
            # last transition.
            since = inst.created_at if building else (inst.updated_at or inst.created_at)
            if since is None:
                continue
            since = since.replace(tzinfo=None)
            if now - since < datetime.timedelta(seconds=limit):
                continue
            if inst.task_state == task_states.DELETING:
                self._finish_overdue_delete(ctxt, inst)
                continue
            LOG.warning("Instance %s exceeded its %ss deadline in %s", inst.uuid, limit,
                        inst.task_state or inst.vm_state)
            # NOTE: ERROR first, then the cleanup: the build's own failure path
            # sees the instance already failed and adds no second fault.
            self._fail(ctxt, inst, exception.NovaliteException(
                f"{inst.task_state or inst.vm_state} did not finish within {limit} seconds "
                f"on {self.host}"))
            if building:
                self._cleanup_build(ctxt, inst)

    def _finish_overdue_delete(self, ctxt: RequestContext, inst: Any) -> None:
        """A delete past its deadline, under the instance's lock: a delete
        still running holds it (this round leaves it alone), one that ended
        meanwhile left nothing to do."""
        try:
            with lockutils.lock(f"instance-{inst.uuid}", blocking=False):
                try:
                    current = Instance.get_by_uuid(ctxt, inst.uuid)
                except exception.InstanceNotFound:
                    return
                if current.task_state != task_states.DELETING:
                    return
                LOG.warning("Delete of %s exceeded its deadline on %s; finishing it",
                            inst.uuid, self.host)
                self._do_terminate(ctxt, current)
        except lockutils.AcquireLockFailedException:
            LOG.info("Delete of %s is past its deadline but still running on %s",
                     inst.uuid, self.host)
