"""Queries of the console_auth_tokens table (the serial console proxy's
one-time tokens; novalite/console/tokens.py)."""

from __future__ import annotations

import sqlalchemy as sa

from novalite.db import models
from novalite.db.api import _session
from novalite.db.retry import retry_on_db_error


@retry_on_db_error(idempotent=False)
def token_create(values: dict) -> None:
    with _session() as s:
        s.add(models.ConsoleAuthToken(**values))


@retry_on_db_error(idempotent=False)
def token_consume(token_hash: str, now: int) -> dict | None:
    """The token's row, removed in the same transaction (so a token serves
    once, also when two clients race with it); None when there is no such
    token or it expired."""
    with _session() as s:
        row = s.scalar(sa.select(models.ConsoleAuthToken).filter_by(token_hash=token_hash))
        if row is None:
            return None
        found = row.as_dict()
        res = s.execute(sa.delete(models.ConsoleAuthToken).where(
            models.ConsoleAuthToken.id == row.id))
        if not getattr(res, "rowcount", 0):
            return None
        return found if found["expires"] > now else None


@retry_on_db_error
def token_destroy_expired(now: int) -> int:
    with _session() as s:
        res = s.execute(sa.delete(models.ConsoleAuthToken).where(
            models.ConsoleAuthToken.expires <= now))
        return int(getattr(res, "rowcount", 0) or 0)
