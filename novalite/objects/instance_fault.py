"""InstanceFault: why an instance is in ERROR (message for the user,
details for admins)."""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, cast

from oslo_versionedobjects import fields

from novalite import exception
from novalite.db import api as db
from novalite.objects import base

if TYPE_CHECKING:
    from novalite.context import RequestContext


@base.register
class InstanceFault(base.NovaliteObject, base.NovaliteObjectDictCompat):
    # Version 1.0: Initial version
    VERSION = "1.0"

    fields = {
        "id": fields.IntegerField(),
        "instance_uuid": fields.UUIDField(),
        "code": fields.IntegerField(),
        "message": fields.StringField(nullable=True),
        "details": fields.StringField(nullable=True),
        "host": fields.StringField(nullable=True),
        "created_at": fields.DateTimeField(nullable=True),
    }

    @base.remotable
    def create(self) -> None:
        values = {k: getattr(self, k) for k in ("instance_uuid", "code", "message",
                                                "details", "host") if self.obj_attr_is_set(k)}
        self._from_db_object(self._context, self, db.instance_fault_create(values))

    @classmethod
    @base.remotable
    def get_latest_for_instance(cls, context: RequestContext, instance_uuid: str) -> InstanceFault | None:
        rows = db.instance_fault_get_by_instance_uuids([instance_uuid])[instance_uuid]
        return cls._from_db_object(context, cls(), rows[0]) if rows else None

    @classmethod
    def from_exception(cls, context: RequestContext, instance_uuid: str, exc: BaseException,
                       host: str | None) -> InstanceFault:
        """Build a fault: the user sees the message of a NovaliteException, or
        just the exception's class name for anything unexpected; admins get the
        traceback in ``details``."""
        if isinstance(exc, exception.NovaliteException):
            code, message = exc.code, exc.format_message()
        else:
            code, message = 500, exc.__class__.__name__
        details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        fault = cls(context=context, instance_uuid=instance_uuid, code=code,
                    message=message[:255], details=details, host=host)
        return fault


@base.register
class InstanceFaultList(base.ObjectListBase, base.NovaliteObject):
    # Version 1.0: Initial version
    VERSION = "1.0"
    fields = {"objects": fields.ListOfObjectsField("InstanceFault")}

    @classmethod
    @base.remotable
    def get_latest_by_instance_uuids(cls, context: RequestContext, uuids: list[str]) -> InstanceFaultList:
        rows = [r[0] for r in db.instance_fault_get_by_instance_uuids(list(uuids)).values() if r]
        return cast("InstanceFaultList", base.obj_make_list(context, cls(), InstanceFault, rows))
