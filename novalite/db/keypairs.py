"""Key pair queries (per user, by name; soft-deleted like Nova's)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from novalite import exception
from novalite.db import models
from novalite.db.api import _session, _soft_delete
from novalite.db.retry import retry_on_db_error


@retry_on_db_error(idempotent=False)
def key_pair_create(values: dict) -> dict:
    """Record a key pair; KeyPairExists when the user has one by that name."""
    try:
        with _session() as s:
            row = models.KeyPair(**values)
            s.add(row)
            s.flush()
            return row.as_dict()
    except sa_exc.IntegrityError:
        raise exception.KeyPairExists(key_name=values["name"]) from None


@retry_on_db_error
def key_pair_get(user_id: str, name: str) -> dict:
    with _session() as s:
        row = s.scalar(sa.select(models.KeyPair).filter_by(user_id=user_id, name=name,
                                                           deleted=0))
        if row is None:
            raise exception.KeypairNotFound(user_id=user_id, name=name)
        return row.as_dict()


@retry_on_db_error
def key_pair_get_all_by_user(user_id: str) -> list[dict]:
    with _session() as s:
        q = (sa.select(models.KeyPair).filter_by(user_id=user_id, deleted=0)
             .order_by(models.KeyPair.name, models.KeyPair.id))
        return [r.as_dict() for r in s.scalars(q)]


@retry_on_db_error
def key_pair_count_by_user(user_id: str) -> int:
    with _session() as s:
        q = sa.select(sa.func.count()).select_from(models.KeyPair).filter_by(
            user_id=user_id, deleted=0)
        return int(s.scalar(q) or 0)


@retry_on_db_error(idempotent=False)
def key_pair_destroy(user_id: str, name: str) -> None:
    with _session() as s:
        row = s.scalar(sa.select(models.KeyPair).filter_by(user_id=user_id, name=name,
                                                           deleted=0))
        if row is None:
            raise exception.KeypairNotFound(user_id=user_id, name=name)
        _soft_delete(row)

