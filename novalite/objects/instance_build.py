"""InstanceBuild: what a build needs from the database, in one conductor
call before the spawn and one after it.

Compute has no database: every remotable call it makes is a round trip
through the conductor (serialise, dispatch, answer), and a build used to make
ten of them (read the instance, start the event, three task-state saves,
allocate the ports, read the block devices, the ACTIVE save, finish the
event). ``begin`` and ``finish`` do the same database work on the conductor's
side in two calls.

The task states a build passes through stay Nova's, but a step whose work is
done inside ``begin`` (allocating ports, reading the block device mappings)
has no state of its own: nobody could observe it between two writes of the
same call. The instance goes from ``scheduling`` straight to ``spawning``.
"""

from __future__ import annotations

import json
import traceback
from typing import TYPE_CHECKING, Any

from oslo_log import log as logging
from oslo_utils import timeutils
from oslo_versionedobjects import fields

from novalite import exception
from novalite.compute import task_states, vm_states
from novalite.db import api as db
from novalite.network import model as network_model
from novalite.objects import base
from novalite.objects.block_device import BlockDeviceMappingList
from novalite.objects.instance import Instance
from novalite.objects.instance_action import InstanceActionEvent
from novalite.objects.network import FixedIPList

if TYPE_CHECKING:
    from novalite.context import RequestContext

LOG = logging.getLogger(__name__)

BUILD_ACTION = "create"
BUILD_EVENT = "compute__build_instance"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, exception.NovaliteException):
        return exc.format_message()
    return f"{type(exc).__name__}: {exc}"


@base.register
class InstanceBuild(base.NovaliteObject):
    """One build on one host: the instance as ``begin`` left it, its action
    event, its network_info and its block device mappings."""

    # Version 1.0: Initial version
    VERSION = "1.0"

    fields = {
        "instance": fields.ObjectField("Instance"),
        "event": fields.ObjectField("InstanceActionEvent", nullable=True),
        # NOTE: JSON text, as InstanceInfoCache.network_info.
        "network_info": fields.StringField(default="[]"),
        "block_device_mappings": fields.ObjectField("BlockDeviceMappingList"),
    }

    @property
    def vifs(self) -> list[dict[str, Any]]:
        try:
            value = json.loads(self.network_info or "[]")
        except ValueError:
            return []
        return value if isinstance(value, list) else []

    @classmethod
    @base.remotable
    def begin(cls, context: RequestContext, instance_uuid: str, host: str) -> InstanceBuild | None:
        """Take the build of ``instance_uuid`` on ``host``: only if it still
        waits for it there (vm_state building, task_state scheduling, host
        ``host``), it becomes ``spawning`` (a compare-and-swap: a delete that
        started first wins). Then the build's event starts, the ports are
        allocated and the block device mappings read.

        Returns None when the build is not (or no longer) this host's: the
        instance was deleted, or this is a late or repeated message. A
        failure after the state change finishes the event with the error
        and raises: the caller cleans up and puts the instance in ERROR."""
        try:
            row = db.instance_update(instance_uuid, {"task_state": task_states.SPAWNING},
                                     expected_task_state=[task_states.SCHEDULING],
                                     expected_vm_state=[vm_states.BUILDING],
                                     expected_host=host)
        except (exception.InstanceNotFound, exception.UnexpectedDeletingTaskState,
                exception.Conflict) as exc:
            LOG.info("Not building %s on %s: %s", instance_uuid, host, _describe(exc))
            return None
        instance = Instance._from_trusted_row(context, row, None)
        event = _start_event(context, instance_uuid, host)
        try:
            network_info = FixedIPList.allocate_for_instance(context, instance_uuid, host)
            bdms = BlockDeviceMappingList.get_by_instance_uuid(context, instance_uuid)
        except Exception as exc:
            _finish_event(event, "Error", _describe(exc), traceback.format_exc())
            raise
        build = cls(context=context, instance=instance, event=event,
                    network_info=network_model.dumps(network_info),
                    block_device_mappings=bdms)
        build.obj_reset_changes()
        return build

    @classmethod
    @base.remotable
    def finish(cls, context: RequestContext, instance_uuid: str, power_state: int,
               event_id: int | None) -> Instance:
        """The spawn worked: the instance is ACTIVE (only if it is still
        ``spawning``: a delete that started meanwhile wins, and the error
        raised is UnexpectedDeletingTaskState) and the event a Success.
        Returns the instance as stored."""
        event = None if event_id is None else InstanceActionEvent(context=context, id=event_id)
        try:
            row = db.instance_update(
                instance_uuid, {"power_state": power_state, "vm_state": vm_states.ACTIVE,
                                "task_state": None, "launched_at": timeutils.utcnow()},
                expected_task_state=[task_states.SPAWNING])
        except Exception as exc:
            _finish_event(event, "Error", _describe(exc), traceback.format_exc())
            raise
        _finish_event(event, "Success")
        return Instance._from_trusted_row(context, row, None)


def _start_event(context: RequestContext, instance_uuid: str,
                 host: str) -> InstanceActionEvent | None:
    try:
        return InstanceActionEvent.event_start(context, instance_uuid, BUILD_ACTION,
                                               BUILD_EVENT, host)
    except Exception:
        LOG.exception("Could not record the start of the build of %s", instance_uuid)
        return None


def _finish_event(event: InstanceActionEvent | None, result: str,
                  details: str | None = None, tb: str | None = None) -> None:
    """Best effort, as every event record: never fails the step."""
    if event is None:
        return
    try:
        event.finish(result, details, tb)
    except Exception:
        LOG.exception("Could not record the end of event %s", event.id)


__all__ = ["InstanceBuild", "BUILD_ACTION", "BUILD_EVENT"]
