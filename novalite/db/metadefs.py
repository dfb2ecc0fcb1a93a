"""Metadata definitions namespaces (Glance's metadefs catalog): one row per
namespace; its parts (resource type associations, properties, objects,
tags) are changed by a function applied under the row's lock, so two
requests changing the same namespace cannot lose each other's change."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from novalite import exception
from novalite.db import models
from novalite.db.api import _session
from novalite.db.retry import retry_on_db_error

M = models.MetadefNamespace
PARTS = ("resource_types", "properties", "objects", "tags")


class NamespaceNotFound(exception.NotFound):
    msg_fmt = "Metadata definition namespace=%(namespace)s was not found."


class NamespaceExists(exception.Conflict):
    msg_fmt = "Metadata definition namespace=%(namespace)s already exists."


def _dict(row: models.MetadefNamespace) -> dict:
    out = row.as_dict()
    out["resource_types"] = list(row.resource_types or [])
    out["properties"] = dict(row.properties or {})
    out["objects"] = list(row.objects or [])
    out["tags"] = list(row.tags or [])
    return out


@retry_on_db_error(idempotent=False)
def create(values: dict) -> dict:
    try:
        with _session() as s:
            row = M(**values)
            s.add(row)
            s.flush()
            return _dict(row)
    except sa.exc.IntegrityError:
        raise NamespaceExists(namespace=values["namespace"]) from None


@retry_on_db_error
def get(namespace: str) -> dict:
    with _session() as s:
        row = s.scalar(sa.select(M).filter_by(namespace=namespace))
        if row is None:
            raise NamespaceNotFound(namespace=namespace)
        return _dict(row)


@retry_on_db_error
def get_all() -> list[dict]:
    with _session() as s:
        return [_dict(r) for r in s.scalars(sa.select(M).order_by(M.namespace))]


@retry_on_db_error(idempotent=False)
def update(namespace: str, change: Callable[[dict], dict]) -> dict:
    """Apply ``change`` (the namespace as a dict → the values to write) to
    the locked row; NamespaceExists when it renames onto another one."""
    try:
        with _session() as s:
            row = s.scalar(sa.select(M).filter_by(namespace=namespace).with_for_update())
            if row is None:
                raise NamespaceNotFound(namespace=namespace)
            values = change(_dict(row))
            for key, value in values.items():
                setattr(row, key, value)
            if not values:
                return _dict(row)
            row.updated_at = models._now()
            s.flush()
            return _dict(row)
    except sa.exc.IntegrityError:
        raise NamespaceExists(namespace=namespace) from None


@retry_on_db_error
def delete(namespace: str) -> None:
    with _session() as s:
        if not s.execute(sa.delete(M).where(M.namespace == namespace)).rowcount:  # type: ignore[attr-defined]
            raise NamespaceNotFound(namespace=namespace)
