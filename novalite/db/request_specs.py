"""Request spec queries: one row per instance, the RequestSpec object's
primitive as JSON (as Nova's API database keeps it)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from novalite import exception
from novalite.db import models
from novalite.db.api import _session
from novalite.db.retry import retry_on_db_error


@retry_on_db_error(idempotent=False)
def request_spec_create(instance_uuid: str, spec: str) -> dict[str, Any]:
    with _session() as s:
        row = models.RequestSpec(instance_uuid=instance_uuid, spec=spec)
        s.add(row)
        s.flush()
        return row.as_dict()


@retry_on_db_error
def request_spec_get_by_instance_uuid(instance_uuid: str) -> dict[str, Any]:
    with _session() as s:
        row = s.scalar(sa.select(models.RequestSpec).filter_by(instance_uuid=instance_uuid))
        if row is None:
            raise exception.RequestSpecNotFound(instance_uuid=instance_uuid)
        return row.as_dict()


@retry_on_db_error
def request_specs_get_by_instance_uuids(instance_uuids: list[str]) -> list[dict[str, Any]]:
    """The specs of many instances in one query (those that have one)."""
    if not instance_uuids:
        return []
    with _session() as s:
        q = sa.select(models.RequestSpec).where(
            models.RequestSpec.instance_uuid.in_(instance_uuids))
        return [row.as_dict() for row in s.scalars(q)]


@retry_on_db_error
def request_spec_update(instance_uuid: str, spec: str) -> None:
    with _session() as s:
        done = s.execute(sa.update(models.RequestSpec)
                         .where(models.RequestSpec.instance_uuid == instance_uuid)
                         .values(spec=spec))
        if not getattr(done, "rowcount", 0):
            raise exception.RequestSpecNotFound(instance_uuid=instance_uuid)


@retry_on_db_error
def request_spec_destroy_by_instance_uuid(instance_uuid: str) -> int:
    """Delete the instance's spec (none is fine); returns how many rows went."""
    with _session() as s:
        done = s.execute(sa.delete(models.RequestSpec)
                         .where(models.RequestSpec.instance_uuid == instance_uuid))
        return int(getattr(done, "rowcount", 0) or 0)
