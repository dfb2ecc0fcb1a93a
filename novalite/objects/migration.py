"""Migration: one move of an instance (Nova's Migration object).

A resize, a cold or live migration and an evacuation each record one; its
``status`` follows the move's steps as Nova's does, and ``/os-migrations``
lists them. Compute reads and writes them through the conductor.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, cast

from oslo_versionedobjects import fields

from novalite.db import instance_migrations as db
from novalite.objects import base

if TYPE_CHECKING:
    from novalite.context import RequestContext

MigrationNotFound = db.MigrationNotFound

# Nova's migration types.
RESIZE = "resize"
MIGRATION = "migration"
LIVE_MIGRATION = "live-migration"
EVACUATION = "evacuation"
TYPES = (RESIZE, MIGRATION, LIVE_MIGRATION, EVACUATION)

# Nova's statuses, in the order a move goes through them.
PRE_MIGRATING = "pre-migrating"
MIGRATING = "migrating"
POST_MIGRATING = "post-migrating"
FINISHED = "finished"
CONFIRMING = "confirming"
CONFIRMED = "confirmed"
REVERTING = "reverting"
REVERTED = "reverted"
ERROR = "error"
FAILED = "failed"
ACCEPTED = "accepted"
PREPARING = "preparing"
RUNNING = "running"
DONE = "done"
COMPLETED = "completed"
CANCELLED = "cancelled"
QUEUED = "queued"
# NOTE: a live migration GET /servers/{id}/migrations shows (Nova's
# in-progress statuses).
LIVE_IN_PROGRESS = (ACCEPTED, PRE_MIGRATING, PREPARING, RUNNING, QUEUED)
# NOTE: a live migration not copying yet: 2.65 aborts it in these too.
LIVE_QUEUED = (QUEUED, PREPARING)


def _aware(value: Any) -> Any:
    if isinstance(value, datetime.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=datetime.UTC)
    return value


@base.register
class Migration(base.NovaliteObject, base.NovaliteObjectDictCompat):
    # Version 1.0: Initial version (Nova's fields, less the cross-cell and
    #              memory/disk progress ones)
    VERSION = "1.0"

    fields = {
        "id": fields.IntegerField(),
        "uuid": fields.UUIDField(),
        "instance_uuid": fields.StringField(),
        "source_compute": fields.StringField(nullable=True),
        "dest_compute": fields.StringField(nullable=True),
        "source_node": fields.StringField(nullable=True),
        "dest_node": fields.StringField(nullable=True),
        "dest_host": fields.StringField(nullable=True),
        "old_instance_type_id": fields.IntegerField(nullable=True),
        "new_instance_type_id": fields.IntegerField(nullable=True),
        "status": fields.StringField(nullable=True),
        "migration_type": fields.EnumField(TYPES, nullable=False),
        "hidden": fields.BooleanField(default=False),
        "user_id": fields.StringField(nullable=True),
        "project_id": fields.StringField(nullable=True),
        "created_at": fields.DateTimeField(nullable=True),
        "updated_at": fields.DateTimeField(nullable=True),
        "deleted_at": fields.DateTimeField(nullable=True),
        "deleted": fields.BooleanField(default=False),
    }

    @classmethod
    def _from_db_object(cls, context: RequestContext | None, obj: Any,
                        db_row: dict[str, Any]) -> Migration:
        row = dict(db_row)
        row["deleted"] = bool(row.get("deleted"))
        row["hidden"] = bool(row.get("hidden"))
        for key in ("created_at", "updated_at", "deleted_at"):
            row[key] = _aware(row.get(key))
        return cast("Migration", super()._from_db_object(context, obj, row))

    def _values(self, names: Any) -> dict[str, Any]:
        out = {}
        for name in names:
            if name in ("id", "created_at", "updated_at", "deleted_at", "deleted"):
                continue
            out[name] = getattr(self, name)
        return out

    @base.remotable
    def create(self) -> None:
        names = [n for n in self.fields if self.obj_attr_is_set(n)]
        self._from_db_object(self._context, self, db.migration_create(self._values(names)))

    @base.remotable
    def save(self) -> None:
        changes = self.obj_what_changed()
        if not changes:
            return
        self._from_db_object(self._context, self,
                             db.migration_update(self.id, self._values(changes)))

    @classmethod
    @base.remotable
    def get_by_id(cls, context: RequestContext, migration_id: int) -> Migration:
        return cls._from_db_object(context, cls(), db.migration_get(migration_id))

    @classmethod
    @base.remotable
    def get_by_uuid(cls, context: RequestContext, uuid: str) -> Migration:
        return cls._from_db_object(context, cls(), db.migration_get_by_uuid(uuid))

    @classmethod
    @base.remotable
    def get_by_instance_and_status(cls, context: RequestContext, instance_uuid: str,
                                   status: str | list[str]) -> Migration:
        statuses = [status] if isinstance(status, str) else list(status)
        return cls._from_db_object(context, cls(), db.migration_get_by_instance_and_status(
            instance_uuid, statuses))

    @property
    def is_same_host(self) -> bool:
        return bool(self.source_compute == self.dest_compute)


@base.register
class MigrationList(base.ObjectListBase, base.NovaliteObject):
    # Version 1.0: Initial version
    VERSION = "1.0"
    fields = {"objects": fields.ListOfObjectsField("Migration")}

    @classmethod
    @base.remotable
    def get_by_filters(cls, context: RequestContext, filters: dict[str, Any],
                       limit: int | None = None, marker: str | None = None) -> MigrationList:
        rows = db.migration_get_all(dict(filters), limit=limit, marker=marker)
        return cast("MigrationList", base.obj_make_list(context, cls(), Migration, rows))


__all__ = ["Migration", "MigrationList", "MigrationNotFound"]
