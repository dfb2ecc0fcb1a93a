"""Base class, registry and serializer for novalite's versioned objects.

Remotable methods run locally where the database is allowed and go to the
conductor (the ``indirection_api``) where it is not, i.e. in compute. The
``indirection_api`` is read per call from the running service's route
(``novalite.persistence``), never set on the class for a whole process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oslo_versionedobjects import base as ovo_base
from oslo_versionedobjects import fields

from novalite import persistence

if TYPE_CHECKING:
    from novalite.context import RequestContext

remotable = ovo_base.remotable


class NovaliteObjectRegistry(ovo_base.VersionedObjectRegistry):
    pass


register = NovaliteObjectRegistry.register


class _ServiceRoute:
    """``indirection_api`` as oslo.versionedobjects reads it (``self.`` or
    ``cls.indirection_api`` in each remotable call): the route of the
    service running the call."""

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        return persistence.current()


class NovaliteObject(ovo_base.VersionedObject):
    OBJ_SERIAL_NAMESPACE = "novalite_object"
    OBJ_PROJECT_NAMESPACE = "novalite"
    indirection_api = _ServiceRoute()

    if TYPE_CHECKING:
        # NOTE: fields are attributes made at class creation; tell mypy so.
        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...

    def obj_reset_changes(self, fields: Any = None, recursive: bool = False) -> None:
        super().obj_reset_changes(fields, recursive=recursive)

    @classmethod
    def _from_db_object(cls, context: RequestContext | None, obj: Any,
                        db_row: dict[str, Any]) -> Any:
        for name in obj.fields:
            if name in db_row:
                setattr(obj, name, db_row[name])
        obj._context = context
        obj.obj_reset_changes()
        return obj


class NovaliteObjectDictCompat(ovo_base.VersionedObjectDictCompat):
    pass


if TYPE_CHECKING:
    _ListBase = ovo_base.ObjectListBase[Any]
else:
    _ListBase = ovo_base.ObjectListBase


class ObjectListBase(_ListBase):
    pass


class NovaliteTimestampObject:
    fields = {
        "created_at": fields.DateTimeField(nullable=True),
        "updated_at": fields.DateTimeField(nullable=True),
    }


class NovaliteObjectSerializer(ovo_base.VersionedObjectSerializer):
    OBJ_BASE_CLASS = NovaliteObject


def obj_make_list(context: RequestContext | None, list_obj: Any, item_cls: Any,
                  rows: list[dict[str, Any]]) -> Any:
    list_obj.objects = [item_cls._from_db_object(context, item_cls(), r) for r in rows]
    list_obj._context = context
    list_obj.obj_reset_changes()
    return list_obj
