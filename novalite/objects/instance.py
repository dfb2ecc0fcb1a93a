"""Instance: a guest and its states."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from oslo_utils import versionutils
from oslo_versionedobjects import fields

from novalite.db import api as db
from novalite.objects import base
from novalite.objects.flavor import Flavor
from novalite.objects.instance_fault import InstanceFault, InstanceFaultList

if TYPE_CHECKING:
    from novalite.context import RequestContext

_EMPTY: dict[str, Any] = {"metadata": dict, "system_metadata": dict, "build_attempts": list}
_FLAVORS = ("flavor", "old_flavor", "new_flavor")
_NOT_DB = ("flavor", "old_flavor", "new_flavor", "fault", "id", "created_at", "updated_at", "deleted_at", "deleted")


def _storage(name: str) -> str:
    # NOTE: where oslo.versionedobjects keeps a field's value (its
    # ``_get_attrname``); the functional tests read every field back.
    return "_obj_" + name


def _trusted_flavor(snapshot: dict[str, Any]) -> Flavor:
    """The instance's flavor snapshot (written from a Flavor's fields) as a
    Flavor, without per-field coercion."""
    flavor = Flavor()
    for name, value in snapshot.items():
        if name in Flavor.fields:
            object.__setattr__(flavor, _storage(name), value)
    flavor.obj_reset_changes()
    return flavor


def _first(items: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    return items[0] if items else None


def _db_value(value: Any) -> Any:
    # NOTE: the columns hold naive UTC; objects hold aware datetimes.
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        return value.astimezone(datetime.UTC).replace(tzinfo=None)
    return value


@base.register
class Instance(base.NovaliteObject, base.NovaliteObjectDictCompat):
    # Version 1.0: Initial version
    # Version 1.1: get_by_uuid() takes project_id (the API's scoped read)
    # Version 1.2: key_data, user_data, auto_disk_config (were system_metadata
    #              keys), as Nova's Instance fields
    # Version 1.3: display_description (microversion 2.19)
    # Version 1.4: old_flavor, new_flavor (a resize waiting to be confirmed
    #              or reverted, as Nova's)
    # Version 1.5: locked_by ('owner' or 'admin', as Nova's)
    VERSION = "1.5"

    fields = {
        "id": fields.IntegerField(),
        "uuid": fields.UUIDField(),
        "display_name": fields.StringField(nullable=True),
        "display_description": fields.StringField(nullable=True),
        "hostname": fields.StringField(nullable=True),
        "project_id": fields.StringField(nullable=True),
        "user_id": fields.StringField(nullable=True),
        "host": fields.StringField(nullable=True),
        "node": fields.StringField(nullable=True),
        "availability_zone": fields.StringField(nullable=True),
        "image_ref": fields.StringField(nullable=True),
        "flavor": fields.ObjectField("Flavor", nullable=True),
        "old_flavor": fields.ObjectField("Flavor", nullable=True),
        "new_flavor": fields.ObjectField("Flavor", nullable=True),
        "vm_state": fields.StringField(nullable=True),
        "task_state": fields.StringField(nullable=True),
        "power_state": fields.IntegerField(nullable=True),
        "launched_at": fields.DateTimeField(nullable=True),
        "terminated_at": fields.DateTimeField(nullable=True),
        "launch_index": fields.IntegerField(nullable=True),
        "reservation_id": fields.StringField(nullable=True),
        "access_ip_v4": fields.StringField(nullable=True),
        "access_ip_v6": fields.StringField(nullable=True),
        "key_name": fields.StringField(nullable=True),
        "key_data": fields.StringField(nullable=True),
        "user_data": fields.StringField(nullable=True),
        "auto_disk_config": fields.BooleanField(default=False),
        "config_drive": fields.BooleanField(default=False),
        "locked": fields.BooleanField(default=False),
        "locked_by": fields.StringField(nullable=True),
        "metadata": fields.DictOfStringsField(default={}),
        "system_metadata": fields.DictOfNullableStringsField(default={}),
        "build_attempts": fields.ListOfStringsField(default=[]),
        "fault": fields.ObjectField("InstanceFault", nullable=True),
        "created_at": fields.DateTimeField(nullable=True),
        "updated_at": fields.DateTimeField(nullable=True),
        "deleted_at": fields.DateTimeField(nullable=True),
        "deleted": fields.BooleanField(default=False),
    }

    def obj_make_compatible(self, primitive: dict[str, Any], target_version: str) -> None:
        super().obj_make_compatible(primitive, target_version)
        if versionutils.convert_version_to_tuple(target_version) < (1, 2):
            for name in ("key_data", "user_data", "auto_disk_config"):
                primitive.pop(name, None)
        if versionutils.convert_version_to_tuple(target_version) < (1, 3):
            primitive.pop("display_description", None)
        if versionutils.convert_version_to_tuple(target_version) < (1, 4):
            primitive.pop("old_flavor", None)
            primitive.pop("new_flavor", None)
        if versionutils.convert_version_to_tuple(target_version) < (1, 5):
            primitive.pop("locked_by", None)

    @classmethod
    def _from_db_object(cls, context: RequestContext | None, obj: Any, db_row: dict[str, Any],
                        fault: dict[str, Any] | None = None) -> Instance:
        row = dict(db_row)
        row["auto_disk_config"] = bool(row.get("auto_disk_config"))
        flavors = {name: row.pop(name, None) for name in _FLAVORS}
        row["deleted"] = bool(row.get("deleted"))
        row["metadata"] = row.get("metadata") or {}
        row["system_metadata"] = row.get("system_metadata") or {}
        row["build_attempts"] = row.get("build_attempts") or []
        super()._from_db_object(context, obj, row)
        for name, flavor in flavors.items():
            setattr(obj, name, Flavor(**flavor) if flavor else None)
        obj.fault = (InstanceFault._from_db_object(context, InstanceFault(), fault)
                     if fault else None)
        obj.obj_reset_changes()
        return cast("Instance", obj)

    @classmethod
    def _from_trusted_row(cls, context: RequestContext, db_row: dict[str, Any], fault: dict[str, Any] | None) -> Instance:
        """``_from_db_object`` for rows the database typed already: values are
        stored without the per-field coercion of ``setattr``, which was most
        of the time of listing 1,000 servers (benchmarks/bench_servers_detail.py).

        NOTE: reads use it; the columns' types are the fields' (naive UTC
        datetimes are made aware as the DateTimeField would).
        """
        obj = cls()
        obj._context = context
        for name in cls.fields:
            if name in _FLAVORS or name == "fault" or name not in db_row:
                continue
            value = db_row[name]
            if isinstance(value, datetime.datetime) and value.tzinfo is None:
                value = value.replace(tzinfo=datetime.UTC)
            elif name in ("deleted", "auto_disk_config"):
                value = bool(value)
            elif value is None and name in _EMPTY:
                value = _EMPTY[name]()
            object.__setattr__(obj, _storage(name), value)
        for name in _FLAVORS:
            flavor = db_row.get(name)
            setattr(obj, name, _trusted_flavor(flavor) if flavor else None)
        obj.fault = (InstanceFault._from_db_object(context, InstanceFault(), fault)
                     if fault else None)
        obj.obj_reset_changes()
        return obj

    def _db_values(self, names: Any) -> dict[str, Any]:
        values = {n: _db_value(getattr(self, n)) for n in names if n not in _NOT_DB}
        for name in _FLAVORS:
            if name in names:
                flavor = getattr(self, name)
                values[name] = flavor.to_snapshot() if flavor else None
        return values

    @base.remotable
    def create(self) -> None:
        names = [n for n in self.fields if self.obj_attr_is_set(n)]
        row = db.instance_create(self._db_values(names))
        self._from_db_object(self._context, self, row)

    @base.remotable
    def save(self, expected_task_state: Any = None, expected_vm_state: Any = None) -> None:
        """Persist changed fields; with ``expected_*`` only if the stored
        states are among those given (else Conflict / UnexpectedDeletingTaskState)."""
        changes = self.obj_what_changed()
        if isinstance(expected_task_state, str):
            expected_task_state = [expected_task_state]
        if isinstance(expected_vm_state, str):
            expected_vm_state = [expected_vm_state]
        values = self._db_values(changes)
        if not values and expected_task_state is None and expected_vm_state is None:
            return
        row = db.instance_update(self.uuid, values, expected_task_state=expected_task_state,
                                 expected_vm_state=expected_vm_state)
        fault: Any = getattr(self, "fault") if self.obj_attr_is_set("fault") else None  # noqa: B009
        self._from_db_object(self._context, self, row)
        self.fault = fault
        self.obj_reset_changes(["fault"])

    @base.remotable
    def destroy(self) -> None:
        row = db.instance_destroy(self.uuid)
        self._from_db_object(self._context, self, row)

    @classmethod
    @base.remotable
    def get_by_uuid(cls, context: RequestContext, uuid: str, read_deleted: bool = False,
                    project_id: str | None = None) -> Instance:
        """Within ``project_id`` when given: another project's instance is
        not found."""
        row = db.instance_get_by_uuid(uuid, read_deleted=read_deleted, project_id=project_id)
        faults = db.instance_fault_get_by_instance_uuids([uuid])
        fault = faults[uuid][0] if faults.get(uuid) else None
        return cls._from_trusted_row(context, row, fault)

    def update_metadata(self, change: Callable[[dict[str, Any], str], dict[str, Any]]) -> dict[str, Any]:
        """The API's metadata writes: ``change(current, vm_state)`` gives the
        new metadata, applied under the row lock (see
        ``db.instance_metadata_update``); returns it.

        NOTE: not remotable: ``change`` is code, and only the API (which has
        the database) changes user metadata.
        """
        row = db.instance_metadata_update(self.uuid, change)
        self.metadata = row["metadata"]
        self.vm_state = row["vm_state"]
        self.obj_reset_changes(["metadata", "vm_state"])
        return dict(self.metadata)

    def refresh_from(self, other: Instance) -> None:
        for name in self.fields:
            if other.obj_attr_is_set(name):
                setattr(self, name, getattr(other, name))
        self.obj_reset_changes()

    def add_fault(self, exc: BaseException, host: str | None) -> InstanceFault:
        fault = InstanceFault.from_exception(self._context, self.uuid, exc, host)
        fault.create()
        self.fault = fault
        self.obj_reset_changes(["fault"])
        return fault


@base.register
class InstanceList(base.ObjectListBase, base.NovaliteObject):
    # Version 1.0: Initial version
    # Version 1.1: Instance 1.1
    # Version 1.2: Instance 1.2
    VERSION = "1.2"
    fields = {"objects": fields.ListOfObjectsField("Instance")}
    child_versions = {"1.0": "1.0", "1.1": "1.1", "1.2": "1.2"}

    @classmethod
    @base.remotable
    def get_by_filters(cls, context: RequestContext, filters: dict[str, Any], sort_key: str = "created_at",
                       sort_dir: str = "desc", limit: int | None = None,
                       marker: str | None = None, with_faults: bool = False) -> InstanceList:
        return cls._get_by_filters(context, filters, sort_key, sort_dir, limit, marker,
                                   with_faults)

    @classmethod
    def _get_by_filters(cls, context: RequestContext, filters: dict[str, Any], sort_key: str, sort_dir: str,
                        limit: int | None, marker: str | None,
                        with_faults: bool) -> InstanceList:
        rows = db.instance_get_all_by_filters(filters, sort_key=sort_key, sort_dir=sort_dir,
                                              limit=limit, marker=marker)
        faults: dict[str, Any] = {}
        if with_faults:
            uuids = [r["uuid"] for r in rows if r["vm_state"] in ("error", "deleted")]
            faults = db.instance_fault_get_by_instance_uuids(uuids)
        lst = cls()
        lst.objects = [Instance._from_trusted_row(context, r, _first(faults.get(r["uuid"])))
                       for r in rows]
        lst._context = context
        lst.obj_reset_changes()
        return lst

    @classmethod
    @base.remotable
    def get_by_host(cls, context: RequestContext, host: str) -> InstanceList:
        return cls._get_by_filters(context, {"host": host}, "id", "asc", None, None, False)


__all__ = ["Instance", "InstanceList", "InstanceFaultList"]
