"""What validating a token read from the database (its user, project and
roles), kept for a few seconds so that a client's burst of requests with
one token costs one read, not one per request.

Promises:

* Only the database part is cached. The token is still decrypted (a key
  rotated out fails at once) and its expiry checked on every request.
* Any identity write committed in this process (a revocation, a password
  change, a user or project disabled or deleted, a role removed: any write
  to ``users``, ``projects``, ``role_assignments`` or ``revoked_tokens``)
  empties the cache, so this process honours it at once; a read that
  raced with such a write is not kept.
* A write made by another process (a second API worker, novalite-manage)
  is honoured within ``[identity] token_cache_time`` seconds, as
  keystonemiddleware's token cache does (its default is 300 s). 0 turns
  the cache off.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from novalite.conf import CONF
from novalite.db import models

# NOTE: the tables token_subject reads.
_TABLES = frozenset(t.__tablename__ for t in (models.User, models.Project,
                                              models.RoleAssignment, models.RevokedToken))
_MODELS = (models.User, models.Project, models.RoleAssignment, models.RevokedToken)
_MAX_ENTRIES = 4096
_FLAG = "novalite_identity_written"

Subject = tuple[dict[str, Any], dict[str, Any] | None, list[str]]

_lock = threading.Lock()
_entries: dict[str, tuple[float, int, Subject]] = {}
_generation = 0


def generation() -> int:
    """Take before reading the database; hand to ``put`` with what was read."""
    return _generation


def get(token_id: str) -> Subject | None:
    ttl = CONF.identity.token_cache_time
    if ttl <= 0:
        return None
    with _lock:
        entry = _entries.get(token_id)
    if entry is None:
        return None
    stored_at, gen, subject = entry
    if gen != _generation or time.monotonic() - stored_at >= ttl:
        return None
    user, project, roles = subject
    return dict(user), dict(project) if project is not None else None, list(roles)


def put(token_id: str, subject: Subject, gen: int) -> None:
    """Keep ``subject``, read after ``generation()`` returned ``gen``,
    unless an identity write was committed since."""
    if CONF.identity.token_cache_time <= 0:
        return
    with _lock:
        if gen != _generation:
            return
        if len(_entries) >= _MAX_ENTRIES:
            _entries.clear()
        _entries[token_id] = (time.monotonic(), gen, subject)


def invalidate() -> None:
    global _generation
    with _lock:
        _generation += 1
        _entries.clear()


# -- noticing identity writes ---------------------------------------------------

def _after_flush(session: orm.Session, _context: Any) -> None:
    if any(isinstance(obj, _MODELS)
           for objs in (session.new, session.dirty, session.deleted) for obj in objs):
        session.info[_FLAG] = True


def _do_orm_execute(state: orm.ORMExecuteState) -> None:
    if state.is_select:
        return
    table = getattr(state.statement, "table", None)
    if isinstance(table, sa.Table) and table.name in _TABLES:
        state.session.info[_FLAG] = True


def _after_commit(session: orm.Session) -> None:
    if session.info.pop(_FLAG, False):
        invalidate()


def _after_rollback(session: orm.Session) -> None:
    session.info.pop(_FLAG, None)


def install() -> None:
    """Listen to every ORM session of this process (idempotent)."""
    for name, fn in (("after_flush", _after_flush), ("do_orm_execute", _do_orm_execute),
                     ("after_commit", _after_commit), ("after_rollback", _after_rollback)):
        if not sa.event.contains(orm.Session, name, fn):
            sa.event.listen(orm.Session, name, fn)


install()
