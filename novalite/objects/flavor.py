"""Flavor: a size for an instance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from oslo_versionedobjects import fields

from novalite.db import api as db
from novalite.objects import base

if TYPE_CHECKING:
    from novalite.context import RequestContext

# NOTE: the columns a flavor list may be sorted by (the API's schema offers them).
SORT_KEYS = db.FLAVOR_SORT_KEYS


@base.register
class Flavor(base.NovaliteObject, base.NovaliteObjectDictCompat):
    # Version 1.0: Initial version
    # Version 1.1: create, destroy, has_access, get_access_list, add_access,
    #              remove_access, save_extra_specs
    # Version 1.2: save_description (compute API 2.55)
    VERSION = "1.2"

    fields = {
        "id": fields.IntegerField(),
        "flavorid": fields.StringField(),
        "name": fields.StringField(),
        "memory_mb": fields.IntegerField(),
        "vcpus": fields.IntegerField(),
        "root_gb": fields.IntegerField(),
        "ephemeral_gb": fields.IntegerField(default=0),
        "swap": fields.IntegerField(default=0),
        "rxtx_factor": fields.FloatField(default=1.0),
        "is_public": fields.BooleanField(default=True),
        "disabled": fields.BooleanField(default=False),
        "description": fields.StringField(nullable=True),
        "extra_specs": fields.DictOfStringsField(default={}),
    }

    @classmethod
    def _from_db_object(cls, context: RequestContext | None, obj: Any, db_row: dict[str, Any]) -> Any:
        row = dict(db_row)
        row["extra_specs"] = row.get("extra_specs") or {}
        return super()._from_db_object(context, obj, row)

    @classmethod
    @base.remotable
    def get_by_flavor_id(cls, context: RequestContext, flavorid: str) -> Flavor:
        return cast("Flavor", cls._from_db_object(context, cls(), db.flavor_get_by_flavor_id(flavorid)))

    @classmethod
    @base.remotable
    def get_by_name(cls, context: RequestContext, name: str) -> Flavor:
        return cast("Flavor", cls._from_db_object(context, cls(), db.flavor_get_by_name(name)))

    @base.remotable
    def create(self) -> None:
        """Record the flavor; FlavorIdExists/FlavorExists when its id or name is taken."""
        values = {n: getattr(self, n) for n in self.fields
                  if n != "id" and self.obj_attr_is_set(n)}
        self._from_db_object(self._context, self, db.flavor_create(values))

    @base.remotable
    def destroy(self) -> None:
        """Delete the flavor and its access list (servers keep their copy)."""
        db.flavor_destroy(self.flavorid)

    @base.remotable
    def has_access(self, project_id: str | None) -> bool:
        """Whether the flavor is public or on ``project_id``'s access list."""
        return bool(db.flavor_accessible(self.flavorid, project_id))

    @base.remotable
    def get_access_list(self) -> list[str]:
        """The projects that may use this (private) flavor."""
        return list(db.flavor_access_get_by_flavor_id(self.flavorid))

    @base.remotable
    def add_access(self, project_id: str) -> None:
        db.flavor_access_add(self.flavorid, project_id)

    @base.remotable
    def remove_access(self, project_id: str) -> None:
        db.flavor_access_remove(self.flavorid, project_id)

    @base.remotable
    def save_extra_specs(self, to_add: dict[str, str] | None = None,
                         to_delete: list[str] | None = None) -> None:
        """Add or change ``to_add`` and delete ``to_delete`` (each key must
        exist: FlavorExtraSpecsNotFound), under the flavor's row lock."""
        specs = None
        if to_add:
            specs = db.flavor_extra_specs_update(self.flavorid, dict(to_add))
        for key in to_delete or []:
            db.flavor_extra_specs_delete(self.flavorid, key)
            specs = None
        if specs is None:
            specs = db.flavor_get_by_flavor_id(self.flavorid).get("extra_specs") or {}
        self.extra_specs = specs
        self.obj_reset_changes(["extra_specs"])

    @base.remotable
    def save_description(self, description: str | None) -> None:
        row = db.flavor_update_description(self.flavorid, description)
        self.description = row.get("description")
        self.obj_reset_changes(["description"])

    def to_snapshot(self) -> dict[str, Any]:
        """The copy of the flavor stored with an instance (JSON)."""
        return {k: getattr(self, k) for k in self.fields if self.obj_attr_is_set(k)}


@base.register
class FlavorList(base.ObjectListBase, base.NovaliteObject):
    # Version 1.0: Initial version
    # Version 1.1: get_all takes sort_key and sort_dir
    VERSION = "1.1"
    fields = {"objects": fields.ListOfObjectsField("Flavor")}

    @classmethod
    @base.remotable
    def get_all(cls, context: RequestContext, filters: dict[str, Any] | None = None, limit: int | None = None,
                marker: str | None = None, sort_key: str = "flavorid",
                sort_dir: str = "asc") -> FlavorList:
        """Flavors by ``filters`` (see ``db.api.flavor_get_all``), one page
        after the flavor ``marker`` (MarkerNotFound when there is none)."""
        rows = db.flavor_get_all(filters, limit=limit, marker=marker, sort_key=sort_key,
                                 sort_dir=sort_dir)
        return cast("FlavorList", base.obj_make_list(context, cls(), Flavor, rows))
