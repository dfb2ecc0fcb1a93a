"""Flavor: a size for an instance."""

from __future__ import annotations

from typing import Any

from oslo_versionedobjects import fields

from novalite.db import api as db
from novalite.objects import base


@base.register
class Flavor(base.NovaliteObject, base.NovaliteObjectDictCompat):
    # Version 1.0: Initial version
    VERSION = "1.0"

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
    def _from_db_object(cls, context: Any, obj: Any, db_row: dict) -> Any:
        row = dict(db_row)
        row["extra_specs"] = row.get("extra_specs") or {}
        return super()._from_db_object(context, obj, row)

    @classmethod
    @base.remotable
    def get_by_flavor_id(cls, context: Any, flavorid: str) -> Flavor:
        return cls._from_db_object(context, cls(), db.flavor_get_by_flavor_id(flavorid))

    @classmethod
    @base.remotable
    def get_by_name(cls, context: Any, name: str) -> Flavor:
        return cls._from_db_object(context, cls(), db.flavor_get_by_name(name))

    def to_snapshot(self) -> dict:
        """The copy of the flavor stored with an instance (JSON)."""
        return {k: getattr(self, k) for k in self.fields if self.obj_attr_is_set(k)}


@base.register
class FlavorList(base.ObjectListBase, base.NovaliteObject):
    # Version 1.0: Initial version
    VERSION = "1.0"
    fields = {"objects": fields.ListOfObjectsField("Flavor")}

    @classmethod
    @base.remotable
    def get_all(cls, context: Any, filters: dict | None = None, limit: int | None = None,
                marker: str | None = None) -> FlavorList:
        rows = db.flavor_get_all(filters, limit=limit, marker=marker)
        return base.obj_make_list(context, cls(), Flavor, rows)
