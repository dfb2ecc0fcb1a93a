"""Queries of Nova's ``migrations`` table (resize, cold and live migration,
evacuation): one row per move of an instance, its status following the
move's steps."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from oslo_utils import timeutils, uuidutils

from novalite import exception
from novalite.db import models
from novalite.db.api import _session
from novalite.db.retry import retry_on_db_error


class MigrationNotFound(exception.NotFound):
    msg_fmt = "Migration %(migration_id)s could not be found."


def _dict(row: models.Migration) -> dict[str, Any]:
    return row.as_dict()


@retry_on_db_error(idempotent=False)
def migration_create(values: dict[str, Any]) -> dict[str, Any]:
    values = dict(values)
    values.setdefault("uuid", uuidutils.generate_uuid())
    with _session() as s:
        row = models.Migration(**values)
        s.add(row)
        s.flush()
        return _dict(row)


@retry_on_db_error
def migration_update(migration_id: int, values: dict[str, Any]) -> dict[str, Any]:
    values = dict(values)
    values["updated_at"] = timeutils.utcnow()
    with _session() as s:
        row = s.get(models.Migration, migration_id)
        if row is None or row.deleted:
            raise MigrationNotFound(migration_id=migration_id)
        for key, value in values.items():
            setattr(row, key, value)
        s.flush()
        return _dict(row)


@retry_on_db_error
def migration_get(migration_id: int) -> dict[str, Any]:
    with _session() as s:
        row = s.get(models.Migration, migration_id)
        if row is None or row.deleted:
            raise MigrationNotFound(migration_id=migration_id)
        return _dict(row)


@retry_on_db_error
def migration_get_by_uuid(uuid: str) -> dict[str, Any]:
    with _session() as s:
        row = s.scalar(sa.select(models.Migration).filter_by(uuid=uuid, deleted=0))
        if row is None:
            raise MigrationNotFound(migration_id=uuid)
        return _dict(row)


@retry_on_db_error
def migration_get_by_instance_and_status(instance_uuid: str,
                                         statuses: Sequence[str]) -> dict[str, Any]:
    """The instance's newest migration in one of ``statuses``."""
    with _session() as s:
        row = s.scalar(sa.select(models.Migration)
                       .filter_by(instance_uuid=instance_uuid, deleted=0)
                       .where(models.Migration.status.in_(list(statuses)))
                       .order_by(models.Migration.id.desc()).limit(1))
        if row is None:
            raise MigrationNotFound(migration_id=f"of instance {instance_uuid} in status "
                                                 f"{'/'.join(statuses)}")
        return _dict(row)


# NOTE: the filters GET /os-migrations takes (Nova's), and what the periodic
# tasks need (statuses, updated before, host as source or destination).
_SIMPLE = ("instance_uuid", "source_compute", "dest_compute", "migration_type", "user_id",
           "project_id", "status")


@retry_on_db_error
def migration_get_all(filters: dict[str, Any], limit: int | None = None,
                      marker: str | None = None) -> list[dict[str, Any]]:
    """Newest first (created_at, id), as Nova lists them. Filters: those in
    ``_SIMPLE`` (a status may be a list), ``host`` (source or destination),
    ``changes_since``/``changes_before`` (updated_at, else created_at),
    ``updated_before``. ``marker``: a migration uuid (MigrationNotFound
    when unknown)."""
    M = models.Migration
    q = sa.select(M).filter_by(deleted=0, hidden=False)
    for key in _SIMPLE:
        value = filters.get(key)
        if value is None:
            continue
        col = getattr(M, key)
        q = q.where(col.in_(list(value)) if isinstance(value, (list, tuple)) else col == value)
    if filters.get("host"):
        q = q.where(sa.or_(M.source_compute == filters["host"],
                           M.dest_compute == filters["host"]))
    changed = sa.func.coalesce(M.updated_at, M.created_at)
    if filters.get("changes_since") is not None:
        q = q.where(changed >= _naive(filters["changes_since"]))
    if filters.get("changes_before") is not None:
        q = q.where(changed <= _naive(filters["changes_before"]))
    if filters.get("updated_before") is not None:
        q = q.where(changed < _naive(filters["updated_before"]))
    with _session() as s:
        if marker is not None:
            mrow = s.scalar(sa.select(M).filter_by(uuid=marker, deleted=0))
            if mrow is None:
                raise MigrationNotFound(migration_id=marker)
            q = q.where(sa.or_(M.created_at < mrow.created_at,
                               sa.and_(M.created_at == mrow.created_at, M.id < mrow.id)))
        q = q.order_by(M.created_at.desc(), M.id.desc())
        if limit is not None:
            q = q.limit(limit)
        return [_dict(r) for r in s.scalars(q)]


def _naive(value: datetime.datetime | str) -> datetime.datetime:
    """A naive UTC datetime (filters that crossed RPC arrive as ISO text)."""
    if isinstance(value, str):
        value = timeutils.parse_isotime(value)
    if value.tzinfo is not None:
        return value.astimezone(datetime.UTC).replace(tzinfo=None)
    return value
