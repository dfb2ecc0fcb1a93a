"""Aggregate: a named set of compute hosts with metadata, as Nova's.

Its ``availability_zone`` metadata is the zone of its hosts (see
novalite.db.aggregates for how the services' zones follow it); other
metadata is what AggregateInstanceExtraSpecsFilter matches flavors' extra
specs against.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from oslo_utils import uuidutils
from oslo_versionedobjects import fields

from novalite.db import aggregates as db
from novalite.objects import base

if TYPE_CHECKING:
    from novalite.context import RequestContext

AZ_KEY = db.AZ_KEY
AggregateNotFound = db.AggregateNotFound
AggregateHostNotFound = db.AggregateHostNotFound
ComputeHostNotFound = db.ComputeHostNotFound
InvalidAggregateAction = db.InvalidAggregateAction


@base.register
class Aggregate(base.NovaliteObject):
    # Version 1.0: Initial version
    VERSION = "1.0"

    fields = {
        "id": fields.IntegerField(),
        "uuid": fields.UUIDField(),
        "name": fields.StringField(),
        "hosts": fields.ListOfStringsField(default=[]),
        "metadata": fields.DictOfStringsField(default={}),
        "created_at": fields.DateTimeField(nullable=True),
        "updated_at": fields.DateTimeField(nullable=True),
    }

    @property
    def availability_zone(self) -> str | None:
        return cast("str | None", self.metadata.get(AZ_KEY))

    def _load(self, row: dict[str, Any]) -> None:
        self._from_db_object(self._context, self, row)

    @base.remotable
    def create(self) -> None:
        """Record it with its ``metadata`` (e.g. the zone) in one step."""
        uuid = self.uuid if self.obj_attr_is_set("uuid") else uuidutils.generate_uuid()
        metadata = dict(self.metadata) if self.obj_attr_is_set("metadata") else {}
        self._load(db.aggregate_create({"name": self.name, "uuid": uuid}, metadata))

    @base.remotable
    def update(self, name: str | None = None, availability_zone: str | None = None,
               set_zone: bool = False) -> None:
        """Rename and/or (``set_zone``) set the zone; None removes it."""
        values: dict[str, str | None] = {}
        if name is not None:
            values["name"] = name
        if set_zone:
            values[AZ_KEY] = availability_zone
        self._load(db.aggregate_update(self.id, values))

    @base.remotable
    def update_metadata(self, changes: dict[str, str | None]) -> None:
        """Set keys; a None value removes the key."""
        self._load(db.aggregate_metadata_set(self.id, changes))

    @base.remotable
    def add_host(self, host: str) -> None:
        self._load(db.aggregate_host_add(self.id, host))

    @base.remotable
    def delete_host(self, host: str) -> None:
        self._load(db.aggregate_host_delete(self.id, host))

    @base.remotable
    def destroy(self) -> None:
        db.aggregate_destroy(self.id)

    @classmethod
    @base.remotable
    def get_by_id(cls, context: RequestContext, aggregate_id: str) -> Aggregate:
        """By id (digits) or uuid."""
        return cast("Aggregate", cls._from_db_object(context, cls(),
                                                     db.aggregate_get(aggregate_id)))


@base.register
class AggregateList(base.ObjectListBase, base.NovaliteObject):
    # Version 1.0: Initial version
    VERSION = "1.0"
    fields = {"objects": fields.ListOfObjectsField("Aggregate")}

    @classmethod
    @base.remotable
    def get_all(cls, context: RequestContext) -> AggregateList:
        return cast("AggregateList", base.obj_make_list(context, cls(), Aggregate,
                                                        db.aggregate_get_all()))

    @classmethod
    @base.remotable
    def get_by_host(cls, context: RequestContext, host: str) -> AggregateList:
        return cast("AggregateList", base.obj_make_list(context, cls(), Aggregate,
                                                        db.aggregate_get_by_host(host)))

    @classmethod
    @base.remotable
    def get_metadata_by_host(cls, context: RequestContext) -> dict[str, dict[str, list[str]]]:
        """``{host: {key: [values]}}`` over all aggregates (the scheduler's view)."""
        return {host: {k: sorted(v) for k, v in keys.items()}
                for host, keys in db.aggregate_metadata_by_host().items()}


__all__ = ["Aggregate", "AggregateHostNotFound", "AggregateList", "AggregateNotFound",
           "ComputeHostNotFound", "InvalidAggregateAction"]
