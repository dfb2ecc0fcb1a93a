"""The compute manager's periodic tasks: resource reports, power-state sync
and the deadlines of transitional states."""

from __future__ import annotations

import datetime
from typing import Any

from oslo_log import log as logging
from oslo_utils import timeutils

from novalite import context as nl_context
from novalite import exception
from novalite.compute import power_state, task_states, vm_states
from novalite.conf import CONF
from novalite.manager import PeriodicTask
from novalite.objects.instance import InstanceList

LOG = logging.getLogger(__name__)


class ComputePeriodicTasks:
    """Mixed into ComputeManager; relies on its driver, rt, host and _fail."""

    host: str
    driver: Any
    rt: Any
    _in_flight: dict
    _in_flight_lock: Any
    _fail: Any
    _do_terminate: Any
    _cleanup_build: Any

    def periodic_tasks(self) -> list[PeriodicTask]:
        return [
            PeriodicTask("update_available_resource", CONF.report_interval,
                         self.update_available_resource),
            PeriodicTask("sync_power_states", CONF.compute.sync_power_state_interval,
                         self.sync_power_states),
            PeriodicTask("check_deadlines", CONF.compute.deadline_check_interval,
                         self.check_deadlines),
        ]

    def update_available_resource(self) -> None:
        self.rt.update_available_resource(nl_context.get_admin_context())

    def sync_power_states(self) -> None:
        """Record what the hypervisor says; a guest that stopped by itself is
        STOPPED, one that vanished is ERROR with a fault."""
        ctxt = nl_context.get_admin_context()
        for inst in InstanceList.get_by_host(ctxt, self.host):
            if inst.task_state is not None or inst.vm_state not in (vm_states.ACTIVE,
                                                                     vm_states.STOPPED):
                continue
            try:
                state = self.driver.get_info(inst).state
            except exception.InstanceNotFound:
                LOG.warning("Instance %s has no guest on %s", inst.uuid, self.host)
                self._fail(ctxt, inst, exception.NovaliteException(
                    f"the guest of instance {inst.uuid} disappeared from {self.host}"))
                inst.power_state = power_state.NOSTATE
                inst.save()
                continue
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
                self._do_terminate(ctxt, inst)
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
