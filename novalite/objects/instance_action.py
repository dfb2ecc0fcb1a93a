"""InstanceAction and InstanceActionEvent: what was done to a server and how
each step of it went (Nova's instance actions).

Compute records events through these objects' remotable methods: without a
database it reaches them through the conductor (the indirection API), as
Nova's compute does."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, cast

from oslo_utils import timeutils
from oslo_versionedobjects import fields

from novalite.db import network as db
from novalite.objects import base

if TYPE_CHECKING:
    from novalite.context import RequestContext


def _action_values(context: RequestContext, instance_uuid: str, action: str) -> dict[str, Any]:
    return {"action": action, "instance_uuid": instance_uuid,
            "request_id": getattr(context, "request_id", None),
            "user_id": getattr(context, "user_id", None),
            "project_id": getattr(context, "project_id", None)}


class _PreciseDateTime(fields.DateTime):
    """oslo's DateTime sends whole seconds (its isotime drops the
    microseconds); a timeline's steps last milliseconds. ISO 8601 with the
    fraction: a 1.0 receiver's parse_isotime reads it as well."""

    def to_primitive(self, obj: Any, attr: str, value: datetime.datetime) -> object:
        return timeutils.normalize_time(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class PreciseDateTimeField(fields.AutoTypedField[datetime.datetime]):
    AUTO_TYPE = _PreciseDateTime()


def _naive(value: Any) -> Any:
    """A datetime as the columns hold it (naive UTC); anything else as is."""
    return timeutils.normalize_time(value) if isinstance(value, datetime.datetime) else value


@base.register
class InstanceAction(base.NovaliteObject, base.NovaliteObjectDictCompat):
    # Version 1.0: Initial version
    VERSION = "1.0"

    fields = {
        "id": fields.IntegerField(),
        "action": fields.StringField(),
        "instance_uuid": fields.UUIDField(),
        "request_id": fields.StringField(nullable=True),
        "user_id": fields.StringField(nullable=True),
        "project_id": fields.StringField(nullable=True),
        "start_time": fields.DateTimeField(nullable=True),
        "finish_time": fields.DateTimeField(nullable=True),
        "message": fields.StringField(nullable=True),
    }

    @classmethod
    @base.remotable
    def get_by_request_id(cls, context: RequestContext, instance_uuid: str,
                          request_id: str) -> InstanceAction | None:
        """The instance's latest action of the request, or None."""
        row = db.action_get_by_request_id(instance_uuid, request_id)
        return None if row is None else cls._from_db_object(context, cls(), row)

    @classmethod
    @base.remotable
    def action_start(cls, context: RequestContext, instance_uuid: str, action: str) -> InstanceAction:
        """Record the start of ``action`` on the instance for the context's request."""
        row = db.action_start(_action_values(context, instance_uuid, action))
        return cast("InstanceAction", cls._from_db_object(context, cls(), row))


@base.register
class InstanceActionList(base.ObjectListBase, base.NovaliteObject):
    # Version 1.0: Initial version
    VERSION = "1.0"
    fields = {"objects": fields.ListOfObjectsField("InstanceAction")}

    @classmethod
    @base.remotable
    def get_by_instance_uuid(cls, context: RequestContext, instance_uuid: str) -> InstanceActionList:
        """The instance's actions, newest first."""
        return cast("InstanceActionList", base.obj_make_list(context, cls(), InstanceAction, db.actions_get(instance_uuid)))


@base.register
class InstanceActionEvent(base.NovaliteObject, base.NovaliteObjectDictCompat):
    # Version 1.0: Initial version
    # Version 1.1: start_time and finish_time keep their microseconds on the
    #              wire (the timeline's steps, novalite/compute/timeline.py)
    VERSION = "1.1"

    fields = {
        "id": fields.IntegerField(),
        "action_id": fields.IntegerField(),
        "event": fields.StringField(),
        "start_time": PreciseDateTimeField(nullable=True),
        "finish_time": PreciseDateTimeField(nullable=True),
        "result": fields.StringField(nullable=True),
        "traceback": fields.StringField(nullable=True),
        "details": fields.StringField(nullable=True),
        "host": fields.StringField(nullable=True),
    }

    @classmethod
    @base.remotable
    def event_start(cls, context: RequestContext, instance_uuid: str, action: str, event: str,
                    host: str | None) -> InstanceActionEvent:
        """Start ``event`` of the instance's action of this request (made,
        named ``action``, when the request has none yet)."""
        # NOTE: straight to the queries, not the remotable methods: this body
        # already runs where the database is.
        request_id = getattr(context, "request_id", None)
        act = db.action_get_by_request_id(instance_uuid, request_id) if request_id else None
        if act is None:
            act = db.action_start(_action_values(context, instance_uuid, action))
        return cast("InstanceActionEvent", cls._from_db_object(context, cls(), db.action_event_start(act["id"], event, host)))

    @base.remotable
    def finish(self, result: str, details: str | None = None,
               traceback: str | None = None) -> None:
        """Record the event's result (``Success``/``Error``); an error marks
        its action's message ``Error``, as Nova's does."""
        db.action_event_finish(self.id, result, details, traceback)
        self.result, self.details, self.traceback = result, details, traceback
        self.obj_reset_changes(["result", "details", "traceback"])


@base.register
class InstanceActionEventList(base.ObjectListBase, base.NovaliteObject):
    # Version 1.0: Initial version
    VERSION = "1.0"
    fields = {"objects": fields.ListOfObjectsField("InstanceActionEvent")}

    @classmethod
    def record(cls, context: RequestContext, instance_uuid: str, action: str,
               events: InstanceActionEventList) -> None:
        """Write finished ``events`` (a timeline's steps) under the
        instance's action of this request, in one transaction. Not
        remotable: it runs where the database is (the conductor receives
        compute's steps in one cast, novalite/compute/timeline.py)."""
        db.action_events_record(*cls.db_rows(context, instance_uuid, action, events))

    @staticmethod
    def db_rows(context: RequestContext, instance_uuid: str, action: str,
                events: InstanceActionEventList) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The action's values and ``events``' rows, as the database layer
        records them (``record``; a new server's first step goes with its
        records: novalite.objects.server_records)."""
        keys = ("event", "start_time", "finish_time", "result", "details", "traceback", "host")
        rows = [{k: _naive(e[k]) if e.obj_attr_is_set(k) else None for k in keys}
                for e in events]
        return _action_values(context, instance_uuid, action), rows

    @classmethod
    @base.remotable
    def get_by_action(cls, context: RequestContext, action_id: int) -> InstanceActionEventList:
        events: InstanceActionEventList = base.obj_make_list(
            context, cls(), InstanceActionEvent, db.action_events_get(action_id))
        return events
