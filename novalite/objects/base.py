"""Base class, registry and serializer for novalite's versioned objects.

Remotable methods run locally where the database is allowed and go to the
conductor (the ``indirection_api``) where it is not, i.e. in compute.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oslo_versionedobjects import base as ovo_base
from oslo_versionedobjects import fields

remotable = ovo_base.remotable


class NovaliteObjectRegistry(ovo_base.VersionedObjectRegistry):
    pass


register = NovaliteObjectRegistry.register


class NovaliteObject(ovo_base.VersionedObject):
    OBJ_SERIAL_NAMESPACE = "novalite_object"
    OBJ_PROJECT_NAMESPACE = "novalite"

    if TYPE_CHECKING:
        # NOTE: fields are attributes made at class creation; tell mypy so.
        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...

    def obj_reset_changes(self, fields: Any = None, recursive: bool = False) -> None:
        super().obj_reset_changes(fields, recursive=recursive)

    @classmethod
    def _from_db_object(cls, context: Any, obj: Any, db_row: dict) -> Any:
        for name in obj.fields:
            if name in db_row:
                setattr(obj, name, db_row[name])
        obj._context = context
        obj.obj_reset_changes()
        return obj


class NovaliteObjectDictCompat(ovo_base.VersionedObjectDictCompat):
    pass


class ObjectListBase(ovo_base.ObjectListBase):
    pass


class NovaliteTimestampObject:
    fields = {
        "created_at": fields.DateTimeField(nullable=True),
        "updated_at": fields.DateTimeField(nullable=True),
    }


class NovaliteObjectSerializer(ovo_base.VersionedObjectSerializer):
    OBJ_BASE_CLASS = NovaliteObject


def obj_make_list(context: Any, list_obj: Any, item_cls: Any, rows: list[dict]) -> Any:
    list_obj.objects = [item_cls._from_db_object(context, item_cls(), r) for r in rows]
    list_obj._context = context
    list_obj.obj_reset_changes()
    return list_obj


def call_original(target: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """Run a remotable method's body, bypassing the indirection API.

    NOTE: the conductor uses this; in the all-in-one the indirection API is
    set process-wide, and calling the decorated method would recurse.
    """
    attr = getattr(target, method)
    fn = getattr(attr, "__func__", attr)
    original = getattr(fn, "original_fn", None)
    if original is None:
        raise AttributeError(f"{method} is not a remotable method")
    owner = target if isinstance(target, type) else target
    return original(owner, *args, **kwargs)
