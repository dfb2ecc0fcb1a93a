"""Service: a running novalite binary on a host, with its heartbeat."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from oslo_utils import timeutils
from oslo_versionedobjects import fields

from novalite.conf import CONF
from novalite.db import api as db
from novalite.objects import base
from novalite.objects.instance import _db_value

if TYPE_CHECKING:
    from novalite.context import RequestContext


@base.register
class Service(base.NovaliteObject, base.NovaliteObjectDictCompat):
    # Version 1.0: Initial version
    VERSION = "1.0"

    fields = {
        "id": fields.IntegerField(),
        "host": fields.StringField(),
        "binary": fields.StringField(),
        "topic": fields.StringField(nullable=True),
        "report_count": fields.IntegerField(default=0),
        "disabled": fields.BooleanField(default=False),
        "disabled_reason": fields.StringField(nullable=True),
        "forced_down": fields.BooleanField(default=False),
        "last_seen_up": fields.DateTimeField(nullable=True),
        "rpc_version": fields.StringField(nullable=True),
        "availability_zone": fields.StringField(nullable=True),
        "created_at": fields.DateTimeField(nullable=True),
        "updated_at": fields.DateTimeField(nullable=True),
    }

    def _values(self, names: Any) -> dict[str, Any]:
        skip = ("id", "created_at", "updated_at")
        return {n: _db_value(getattr(self, n)) for n in names if n not in skip}

    @base.remotable
    def create(self) -> None:
        names = [n for n in self.fields if self.obj_attr_is_set(n)]
        self._from_db_object(self._context, self, db.service_create(self._values(names)))

    @base.remotable
    def save(self) -> None:
        values = self._values(self.obj_what_changed())
        if values:
            self._from_db_object(self._context, self, db.service_update(self.id, values))

    @base.remotable
    def heartbeat(self) -> None:
        """Record that the service is alive, with the database's clock."""
        row = db.service_update(self.id, {"last_seen_up": timeutils.utcnow(),
                                          "report_count": self.report_count + 1})
        self._from_db_object(self._context, self, row)

    @base.remotable
    def destroy(self) -> None:
        db.service_destroy(self.id)

    @classmethod
    @base.remotable
    def get_by_host_and_binary(cls, context: RequestContext, host: str, binary: str) -> Service:
        return cast("Service", cls._from_db_object(context, cls(), db.service_get_by_host_and_binary(host, binary)))

    @classmethod
    @base.remotable
    def get_by_id(cls, context: RequestContext, service_id: int) -> Service:
        return cast("Service", cls._from_db_object(context, cls(), db.service_get(service_id)))

    def is_up(self) -> bool:
        """Up when its last heartbeat is recent and it is not forced down."""
        if self.forced_down or self.last_seen_up is None:
            return False
        age = timeutils.delta_seconds(self.last_seen_up, timeutils.utcnow(with_timezone=True))
        return bool(age <= CONF.service_down_time)


@base.register
class ServiceList(base.ObjectListBase, base.NovaliteObject):
    # Version 1.0: Initial version
    VERSION = "1.0"
    fields = {"objects": fields.ListOfObjectsField("Service")}

    @classmethod
    @base.remotable
    def get_all(cls, context: RequestContext, binary: str | None = None,
                host: str | None = None) -> ServiceList:
        return cast("ServiceList", base.obj_make_list(context, cls(), Service, db.service_get_all(binary, host)))

    @classmethod
    def min_rpc_version(cls, context: RequestContext, binary: str) -> str | None:
        """Lowest RPC version among the running services of ``binary``."""
        versions = [s.rpc_version for s in cls.get_all(context, binary=binary)
                    if s.rpc_version and s.is_up()]
        if not versions:
            return None
        return cast("str | None", min(versions, key=lambda v: tuple(int(p) for p in v.split("."))))
