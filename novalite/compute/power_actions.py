"""The compute manager's part for pause/unpause, suspend/resume, rescue/unrescue, lock-free host-side power and access actions (changePassword, trigger_crash_dump).

A mixin of ComputeManager (novalite/compute/manager.py keeps the seed's
entry points; each family of operations lives in a module of its own, as
STYLE.md asks). The RPC methods here are served by ComputeManager's target.

As Nova's (``reverts_task_state`` + ``wrap_instance_fault``): a failed
pause, unpause, suspend, resume, rescue, unrescue or password change puts
the instance back where it was (its vm_state, no task state), with a fault
and the action's event marked Error; nothing stays transitional.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from oslo_log import log as logging
from oslo_utils import timeutils

from novalite import exception
from novalite.compute import task_states, vm_states
from novalite.objects.instance import Instance
from novalite.virt import driver as virt_driver

if TYPE_CHECKING:
    from novalite.context import RequestContext

LOG = logging.getLogger(__name__)

_GONE = (exception.InstanceNotFound, exception.UnexpectedDeletingTaskState)


def _lock(uuid: str) -> Any:
    from novalite.compute.manager import _instance_lock

    return _instance_lock(uuid)


class ComputePowerActions:
    """Host-side pause/unpause, suspend/resume, rescue/unrescue, lock-free host-side power and access actions (changePassword, trigger_crash_dump)."""

    host: str
    driver: Any
    _event: Any
    _network_info: Any
    _get_power_state: Any
    _task_is_current: Any

    def _revertible_action(self, context: RequestContext, instance: Instance, task: str,
                           action_name: str, step: Callable[[], None], final_vm_state: str,
                           event: str | None = None, reraise: bool = False) -> None:
        """Under the instance's lock, if ``task`` is still asked for: run
        ``step`` inside the action's event; success → ``final_vm_state``, no
        task; failure → the vm_state it had, no task, a fault (``reraise``:
        then the error goes back to a caller waiting on it)."""
        with _lock(instance.uuid):
            if not self._task_is_current(context, instance, (task,), action_name):
                if reraise:
                    raise exception.Conflict(reason=f"{action_name} of {instance.uuid} is "
                                                    "no longer asked for")
                return
            try:
                with self._event(context, instance, action_name,
                                 event or f"compute_{action_name}_instance"):
                    step()
            except _GONE:
                return
            except BaseException as exc:
                LOG.warning("%s of %s failed: %s", action_name, instance.uuid, exc)
                self._revert_task(context, instance, task, exc)
                if reraise:
                    raise
                return
            try:
                instance.power_state = self._get_power_state(instance)
                instance.vm_state = final_vm_state
                instance.task_state = None
                if final_vm_state == vm_states.RESCUED:
                    instance.launched_at = timeutils.utcnow()
                instance.save(expected_task_state=[task])
            except _GONE:
                return
            except exception.Conflict:
                LOG.info("%s of %s finished but its task state changed meanwhile",
                         action_name, instance.uuid)

    def _revert_task(self, context: RequestContext, instance: Instance, task: str,
                     exc: BaseException) -> None:
        """Back where it was: the vm_state it had, no task, a fault (also
        for a guest agent that would not answer: the user sees why)."""
        try:
            if not isinstance(exc, NotImplementedError):
                instance.add_fault(exc, host=self.host)
            instance.power_state = self._get_power_state(instance)
            instance.task_state = None
            instance.save(expected_task_state=[task])
        except (exception.Conflict, exception.InstanceNotFound):
            pass

    # -- pause, suspend --------------------------------------------------------

    def pause_instance(self, context: RequestContext, instance: Instance) -> None:
        """Cast (6.3): freeze the guest's vCPUs; PAUSED."""
        self._revertible_action(context, instance, task_states.PAUSING, "pause",
                                lambda: self.driver.pause(instance), vm_states.PAUSED)

    def unpause_instance(self, context: RequestContext, instance: Instance) -> None:
        """Cast (6.3): let a paused guest run; ACTIVE."""
        self._revertible_action(context, instance, task_states.UNPAUSING, "unpause",
                                lambda: self.driver.unpause(instance), vm_states.ACTIVE)

    def suspend_instance(self, context: RequestContext, instance: Instance) -> None:
        """Cast (6.3): save the guest's memory to disk and stop it; SUSPENDED."""
        self._revertible_action(context, instance, task_states.SUSPENDING, "suspend",
                                lambda: self.driver.suspend(context, instance),
                                vm_states.SUSPENDED)

    def resume_instance(self, context: RequestContext, instance: Instance) -> None:
        """Cast (6.3): restore a suspended guest (its ports plugged again); ACTIVE."""
        self._revertible_action(
            context, instance, task_states.RESUMING, "resume",
            lambda: self.driver.resume(context, instance,
                                       network_info=self._network_info(context, instance)),
            vm_states.ACTIVE)

    # -- rescue ----------------------------------------------------------------

    def rescue_instance(self, context: RequestContext, instance: Instance,
                        rescue_password: str | None = None,
                        rescue_image_ref: str | None = None) -> None:
        """Cast (6.3): boot the guest from the rescue image (the API chose
        it: ``rescue_image_ref`` or the instance's own image), its own root
        disk attached second; RESCUED."""
        image_ref = rescue_image_ref or instance.image_ref or ""

        def step() -> None:
            self.driver.rescue(context, instance, {"id": image_ref},
                               network_info=self._network_info(context, instance),
                               rescue_password=rescue_password)

        self._revertible_action(context, instance, task_states.RESCUING, "rescue", step,
                                vm_states.RESCUED)

    def unrescue_instance(self, context: RequestContext, instance: Instance) -> None:
        """Cast (6.3): back to the guest booted from its own disk; ACTIVE."""
        self._revertible_action(
            context, instance, task_states.UNRESCUING, "unrescue",
            lambda: self.driver.unrescue(context, instance,
                                         network_info=self._network_info(context, instance)),
            vm_states.ACTIVE)

    # -- access ----------------------------------------------------------------

    def set_admin_password(self, context: RequestContext, instance: Instance,
                           new_pass: str) -> None:
        """Call (6.3): root's password in the running guest, through its
        guest agent. The caller gets the outcome: Conflict when the guest
        has no agent (or it fails), NotImplementedError when the driver
        cannot; the instance is ACTIVE again either way (as Nova's)."""
        def step() -> None:
            try:
                self.driver.set_admin_password(instance, new_pass)
            except virt_driver.AgentUnavailable as e:
                # NOTE: a novalite.exception crosses RPC as itself.
                raise exception.Conflict(reason=e.format_message()) from None
            except NotImplementedError:
                raise
            except exception.Conflict:
                raise
            except Exception as e:
                # NOTE: as Nova's InstancePasswordSetFailed (409): never echo
                # what the driver said (it may hold the password); the log has it.
                LOG.warning("Setting the password of %s failed: %s", instance.uuid, e)
                raise exception.Conflict(
                    reason=f"Failed to set admin password on {instance.uuid} because error "
                           "setting admin password") from e

        self._revertible_action(context, instance, task_states.UPDATING_PASSWORD,
                                "changePassword", step, vm_states.ACTIVE,
                                event="compute_set_admin_password", reraise=True)

    def trigger_crash_dump(self, context: RequestContext, instance: Instance) -> None:
        """Cast (6.3): a non-maskable interrupt to the guest; its state does
        not change (the event records the outcome)."""
        try:
            with _lock(instance.uuid), \
                    self._event(context, instance, "trigger_crash_dump",
                                "compute_trigger_crash_dump"):
                self.driver.trigger_crash_dump(instance)
        except Exception as exc:
            LOG.warning("trigger_crash_dump of %s failed: %s", instance.uuid, exc)

    def get_serial_console(self, context: RequestContext, instance: Instance) -> dict[str, Any]:
        """Call (6.3): where the serial console proxy connects for this
        guest (``{"host", "port"}`` of its serial port's raw TCP stream)."""
        try:
            console = self.driver.get_serial_console(context, instance)
        except virt_driver.ConsoleTypeUnavailable as e:
            raise exception.Invalid(reason=e.format_message()) from None
        return {"host": console.host, "port": int(console.port)}

    # -- a compute restart (recovery.py) -----------------------------------------

    def _recover_power_access(self, context: RequestContext, inst: Instance) -> None:
        """A pause, unpause, suspend, resume or password change that was
        running when the compute service stopped: the server takes the state
        its guest is in (the driver's step either happened or not), without
        the task; no message will finish it (the caller gave up waiting)."""
        from novalite.virt import power_state

        interrupted = inst.task_state
        state = self._get_power_state(inst)
        by_state = {power_state.RUNNING: vm_states.ACTIVE,
                    power_state.PAUSED: vm_states.PAUSED,
                    power_state.SUSPENDED: vm_states.SUSPENDED}
        if interrupted != task_states.UPDATING_PASSWORD and state in by_state:
            inst.vm_state = by_state[state]
        LOG.info("Instance %s was %s when the compute service on %s stopped; it is %s",
                 inst.uuid, interrupted, self.host, inst.vm_state)
        inst.power_state = state
        inst.task_state = None
        try:
            inst.save(expected_task_state=[interrupted])
        except (exception.Conflict, exception.InstanceNotFound):
            pass


# NOTE: the task states recovery.py hands to _recover_power_access.
RECOVERED_TASKS = (task_states.PAUSING, task_states.UNPAUSING, task_states.SUSPENDING,
                   task_states.RESUMING, task_states.UPDATING_PASSWORD)
