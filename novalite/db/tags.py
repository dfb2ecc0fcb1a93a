"""Server tags (Nova's ``tags`` table, microversion 2.26): queries by
instance, and the list filters of ``GET /servers``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from novalite.db import models
from novalite.db.api import _session
from novalite.db.retry import retry_on_db_error


@retry_on_db_error
def tag_get_by_instance_uuids(uuids: list[str]) -> dict[str, list[str]]:
    """``{uuid: [tag, ...]}`` (sorted) for the instances that have tags."""
    if not uuids:
        return {}
    out: dict[str, list[str]] = {}
    with _session() as s:
        q = (sa.select(models.Tag.resource_id, models.Tag.tag)
             .where(models.Tag.resource_id.in_(uuids)).order_by(models.Tag.tag))
        for resource_id, tag in s.execute(q):
            out.setdefault(resource_id, []).append(tag)
    return out


@retry_on_db_error
def tag_exists(uuid: str, tag: str) -> bool:
    with _session() as s:
        return s.get(models.Tag, (uuid, tag)) is not None


@retry_on_db_error(idempotent=False)
def tag_add(uuid: str, tag: str, limit: int) -> bool:
    """Add ``tag``; False when the instance had it already. Raises
    ValueError when the instance has ``limit`` tags already (checked
    first, as Nova does)."""
    with _session() as s:
        count = s.scalar(sa.select(sa.func.count()).select_from(models.Tag)
                         .where(models.Tag.resource_id == uuid)) or 0
        if count >= limit:
            raise ValueError(count)
        if s.get(models.Tag, (uuid, tag)) is not None:
            return False
        s.add(models.Tag(resource_id=uuid, tag=tag))
        return True


@retry_on_db_error
def tag_set(uuid: str, tags: list[str]) -> list[str]:
    """Replace the instance's tags with ``tags`` (duplicates once); the new set, sorted."""
    wanted = sorted(set(tags))
    with _session() as s:
        s.execute(sa.delete(models.Tag).where(models.Tag.resource_id == uuid))
        s.add_all([models.Tag(resource_id=uuid, tag=t) for t in wanted])
    return wanted


@retry_on_db_error(idempotent=False)
def tag_delete(uuid: str, tag: str) -> bool:
    """Remove ``tag``; False when the instance did not have it."""
    with _session() as s:
        result: Any = s.execute(sa.delete(models.Tag).where(
            models.Tag.resource_id == uuid, models.Tag.tag == tag))
        return bool(result.rowcount)


@retry_on_db_error
def tag_delete_all(uuid: str) -> None:
    with _session() as s:
        s.execute(sa.delete(models.Tag).where(models.Tag.resource_id == uuid))


def instance_tag_filters(filters: dict[str, Any]) -> list[Any]:
    """SQL conditions on ``instances.uuid`` for Nova's tag filters: ``tags``
    (every one), ``tags-any`` (at least one), ``not-tags`` (not every
    one), ``not-tags-any`` (none); each a list of tags."""
    uuid = models.Instance.uuid
    T = models.Tag

    def having(tags: list[str], every: bool) -> Any:
        q = sa.select(T.resource_id).where(T.tag.in_(tags))
        if every:
            q = q.group_by(T.resource_id).having(
                sa.func.count(sa.distinct(T.tag)) == len(set(tags)))
        return q

    conditions = []
    for key, every, negate in (("tags", True, False), ("tags-any", False, False),
                               ("not-tags", True, True), ("not-tags-any", False, True)):
        tags = filters.get(key)
        if not tags:
            continue
        sub = having(list(tags), every)
        conditions.append(uuid.not_in(sub) if negate else uuid.in_(sub))
    return conditions
