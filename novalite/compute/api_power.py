"""The compute API's part for pause/unpause, suspend/resume, rescue/unrescue, lock/unlock, changePassword, trigger_crash_dump, remote consoles.

A mixin of novalite.compute.api.API (which keeps create, read, delete and
the seed's power actions): validates against state, records the action and
hands the work to the conductor or the instance's host.

The states each action is allowed from are Nova's (its compute/api.py
``check_instance_state``); a locked server refuses them to non-admins
(Nova's ``check_instance_lock``: 409).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oslo_log import log as logging

from novalite import exception, notifications, policy
from novalite.compute import task_states, vm_states
from novalite.objects.instance_action import InstanceAction

if TYPE_CHECKING:
    from novalite.compute.rpcapi import ComputeAPI
    from novalite.context import RequestContext
    from novalite.objects.instance import Instance

LOG = logging.getLogger(__name__)

LOCKED_REASON = "locked_reason"

# NOTE: Nova's compute/api.py trigger_crash_dump states.
CRASH_DUMP_STATES = (vm_states.ACTIVE, vm_states.PAUSED, vm_states.RESCUED,
                     vm_states.RESIZED, vm_states.ERROR)


def check_instance_lock(context: RequestContext, instance: Instance) -> None:
    """Nova's ``check_instance_lock``: a locked instance refuses actions by
    anyone but an admin (409 "Instance ... is locked")."""
    if instance.locked and not policy.check_is_admin(context):
        raise exception.InstanceIsLocked(instance_uuid=instance.uuid)


def _record(context: RequestContext, instance: Instance, action: str) -> None:
    """The instance action, recorded before the work is handed over (as
    Nova's ``_record_action_start``); the host adds its events to it."""
    InstanceAction.action_start(context, instance.uuid, action)


class PowerActionsAPI:
    """API-side pause/unpause, suspend/resume, rescue/unrescue, lock/unlock, changePassword, trigger_crash_dump, remote consoles."""

    compute_rpcapi: ComputeAPI
    image_api: Any
    _power: Any

    def _start(self, context: RequestContext, instance: Instance, action: str,
               allowed: tuple[Any, ...], task: str) -> None:
        self.compute_rpcapi.check_power_actions(action)
        self._power(context, instance, action, allowed, task)
        _record(context, instance, action)

    # -- pause, suspend --------------------------------------------------------

    def pause(self, context: RequestContext, instance: Instance) -> None:
        self._start(context, instance, "pause", (vm_states.ACTIVE,), task_states.PAUSING)
        self.compute_rpcapi.pause_instance(context, instance)

    def unpause(self, context: RequestContext, instance: Instance) -> None:
        self._start(context, instance, "unpause", (vm_states.PAUSED,), task_states.UNPAUSING)
        self.compute_rpcapi.unpause_instance(context, instance)

    def suspend(self, context: RequestContext, instance: Instance) -> None:
        self._start(context, instance, "suspend", (vm_states.ACTIVE,), task_states.SUSPENDING)
        self.compute_rpcapi.suspend_instance(context, instance)

    def resume(self, context: RequestContext, instance: Instance) -> None:
        self._start(context, instance, "resume", (vm_states.SUSPENDED,), task_states.RESUMING)
        self.compute_rpcapi.resume_instance(context, instance)

    # -- rescue ----------------------------------------------------------------

    def rescue(self, context: RequestContext, instance: Instance, rescue_password: str | None,
               rescue_image_ref: str | None = None) -> None:
        """Nova's: from ACTIVE, STOPPED or ERROR; the rescue image is
        ``rescue_image_ref`` (it must exist and be active: 400) or the
        server's own image."""
        check_instance_lock(context, instance)
        if rescue_image_ref is not None:
            try:
                image = self.image_api.get(context, rescue_image_ref)
            except exception.NotFound:
                raise exception.Invalid(
                    reason=f"rescue image {rescue_image_ref} could not be found") from None
            if image.get("status") != "active":
                raise exception.Invalid(reason=f"rescue image {rescue_image_ref} is not "
                                               f"active (status {image.get('status')})")
        self.compute_rpcapi.check_power_actions("rescue")
        self._power(context, instance, "rescue",
                    (vm_states.ACTIVE, vm_states.STOPPED, vm_states.ERROR),
                    task_states.RESCUING)
        _record(context, instance, "rescue")
        self.compute_rpcapi.rescue_instance(context, instance, rescue_password,
                                            rescue_image_ref)

    def unrescue(self, context: RequestContext, instance: Instance) -> None:
        self._start(context, instance, "unrescue", (vm_states.RESCUED,),
                    task_states.UNRESCUING)
        self.compute_rpcapi.unrescue_instance(context, instance)

    # -- access ----------------------------------------------------------------

    def set_admin_password(self, context: RequestContext, instance: Instance,
                           password: str) -> None:
        """Nova's changePassword: ACTIVE, no task; the host answers (a call):
        Conflict when the guest has no agent, NotImplementedError when the
        driver cannot."""
        self._start(context, instance, "changePassword", (vm_states.ACTIVE,),
                    task_states.UPDATING_PASSWORD)
        self.compute_rpcapi.set_admin_password(context, instance, password)

    def trigger_crash_dump(self, context: RequestContext, instance: Instance) -> None:
        """Nova's: an NMI to a guest in ACTIVE, PAUSED, RESCUED, RESIZED or
        ERROR without a task; its state does not change."""
        from novalite.compute.api import _check_state

        check_instance_lock(context, instance)
        _check_state(instance, "trigger_crash_dump", vm_state=CRASH_DUMP_STATES)
        self.compute_rpcapi.check_power_actions("trigger_crash_dump")
        if not instance.host:
            raise exception.InstanceInvalidState(
                action="trigger_crash_dump", instance_uuid=instance.uuid, attr="host",
                state="none (never scheduled)")
        _record(context, instance, "trigger_crash_dump")
        self.compute_rpcapi.trigger_crash_dump(context, instance)

    # -- lock ------------------------------------------------------------------

    def lock(self, context: RequestContext, instance: Instance, reason: str | None = None) -> None:
        """Nova's: ``locked_by`` says who locked it (``owner``: its project,
        ``admin``: anyone else); the reason in system_metadata."""
        is_owner = instance.project_id == context.project_id
        instance.locked = True
        instance.locked_by = "owner" if is_owner else "admin"
        if reason:
            instance.system_metadata = {**instance.system_metadata, LOCKED_REASON: reason}
        instance.save()
        _record(context, instance, "lock")
        notifications.instance_action(context, instance, "lock", None, binary=notifications.API)
        LOG.info("Instance %s locked by its %s", instance.uuid, instance.locked_by)

    def is_expected_locked_by(self, context: RequestContext, instance: Instance) -> bool:
        """Nova's: False when the instance was locked by the other side (its
        owner's project vs an admin) than the caller."""
        expected = "owner" if instance.project_id == context.project_id else "admin"
        return not (instance.locked_by and instance.locked_by != expected)

    def unlock(self, context: RequestContext, instance: Instance) -> None:
        instance.locked = False
        instance.locked_by = None
        if LOCKED_REASON in instance.system_metadata:
            instance.system_metadata = {k: v for k, v in instance.system_metadata.items()
                                        if k != LOCKED_REASON}
        instance.save()
        _record(context, instance, "unlock")
        notifications.instance_action(context, instance, "unlock", None,
                                      binary=notifications.API)

    # -- remote consoles -------------------------------------------------------

    def get_serial_console(self, context: RequestContext, instance: Instance) -> str:
        """A one-time URL of the serial console proxy for this instance
        (novalite/console/serialproxy.py): the host tells where the guest's
        serial port is; the token is bound to the instance and that address."""
        from novalite.console import tokens

        if not instance.host:
            raise exception.InstanceInvalidState(
                action="get_serial_console", instance_uuid=instance.uuid, attr="host",
                state="none (never scheduled)")
        if instance.task_state in (task_states.DELETING, task_states.MIGRATING):
            raise exception.InstanceInvalidState(
                action="get_serial_console", instance_uuid=instance.uuid,
                attr="task_state", state=instance.task_state)
        where = self.compute_rpcapi.get_serial_console(context, instance)
        return tokens.issue_url(instance.uuid, str(where["host"]), int(where["port"]))
