"""Retrying database calls across disconnects and deadlocks.

A PostgreSQL or MariaDB restart, a failover, or InnoDB choosing a deadlock
victim should cost a request a short wait, not a 500 or an instance in ERROR.
The retry loop is oslo.db's (``oslo_db.api.wrap_db_retry``: growing
interval, a bounded number of attempts, jitter on deadlocks); what counts as
retriable is decided here, on SQLAlchemy's own exceptions, because novalite's
engine does not use oslo.db's exception translation (which would replace the
``IntegrityError`` every query module relies on).

Which calls may be run again:

- A deadlock or serialization failure: the server rolled the whole
  transaction back, so any call can run again in a fresh transaction.
- A lost connection before COMMIT was sent: the server rolls back a
  transaction whose connection dies, so again any call.
- A lost connection *during* COMMIT: the transaction may or may not have
  committed. Only calls marked idempotent run again; a create or a
  compare-and-swap update raises, because running it again could record a
  second row or report a conflict with its own first attempt.

Calls nested inside a retried call do not retry themselves: the outermost
call runs again as a whole (retries would otherwise multiply).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

from oslo_db import api as oslo_db_api
from oslo_log import log as logging
from sqlalchemy import exc as sa_exc

from novalite.conf import CONF

LOG = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

_AT_COMMIT = "_novalite_db_at_commit"
_NESTING = threading.local()

# NOTE: PostgreSQL SQLSTATEs: class 08 is "connection exception"; 57P01-03
# are an administrator's or a crash's shutdown and "cannot connect now"
# (starting up / shutting down); 40P01 deadlock, 40001 serialization failure.
_PG_DISCONNECT_STATES = ("57P01", "57P02", "57P03")
_PG_DEADLOCK_STATES = ("40P01", "40001")
# NOTE: psycopg reports failures to connect without a SQLSTATE; these are the
# ones that mean "the server is not there right now", not "wrong password" or
# "no such database".
_PG_CONNECT_MESSAGES = ("connection refused", "the database system is",
                        "server closed the connection", "no connection to the server",
                        "could not receive data", "could not send data", "timeout expired",
                        "terminating connection", "connection is lost", "consuming input failed")
# NOTE: MySQL/MariaDB client and server error numbers: 2002/2003 cannot
# connect, 2006 gone away, 2013 lost during query, 1053 server shutdown,
# 1927 connection killed, 4031 idle client disconnected; 1213 deadlock,
# 1205 lock wait timeout.
_MYSQL_DISCONNECT_ERRNOS = (2002, 2003, 2006, 2013, 1053, 1927, 4031)
_MYSQL_DEADLOCK_ERRNOS = (1213, 1205)


def mark_at_commit(exc: BaseException) -> None:
    """Record that ``exc`` was raised by COMMIT (see the module docstring)."""
    setattr(exc, _AT_COMMIT, True)


def classify(exc: BaseException) -> str | None:
    """'disconnect', 'deadlock' or None (not a transient database error)."""
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    errno = orig.args[0] if orig is not None and orig.args and isinstance(
        orig.args[0], int) else None
    text = str(orig).lower()
    if sqlstate in _PG_DEADLOCK_STATES or errno in _MYSQL_DEADLOCK_ERRNOS:
        return "deadlock"
    if isinstance(exc, sa_exc.OperationalError) and "database is locked" in text:
        return "deadlock"  # SQLite's busy timeout ran out
    if exc.connection_invalidated:
        return "disconnect"
    if sqlstate is not None and (sqlstate.startswith("08") or sqlstate in _PG_DISCONNECT_STATES):
        return "disconnect"
    if errno in _MYSQL_DISCONNECT_ERRNOS:
        return "disconnect"
    if (isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)) and sqlstate is None
            and any(m in text for m in _PG_CONNECT_MESSAGES)):
        return "disconnect"
    return None


def should_retry(exc: BaseException, idempotent: bool, name: str) -> bool:
    kind = classify(exc)
    if kind is None:
        return False
    if kind == "disconnect" and getattr(exc, _AT_COMMIT, False) and not idempotent:
        LOG.warning("Database connection lost while committing %s; not retrying it, as "
                    "the first attempt may have been recorded: %s", name, exc.args[0])
        return False
    LOG.warning("Database %s in %s; retrying: %s", kind, name, str(exc).splitlines()[0])
    return True


def retry_on_db_error(func: F | None = None, *, idempotent: bool = True) -> Any:
    """Run the decorated database call again after a transient error.

    ``idempotent=False`` for calls whose second run after a committed first
    one would differ (creates, deletes that raise NotFound when repeated,
    compare-and-swap updates): they are still retried when the error came
    before COMMIT.
    """
    def decorate(f: F) -> F:
        name = f.__qualname__

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if getattr(_NESTING, "depth", 0):
                return f(*args, **kwargs)
            retrying = oslo_db_api.wrap_db_retry(
                retry_interval=CONF.database.db_retry_interval,
                max_retries=CONF.database.db_max_retries,
                inc_retry_interval=CONF.database.db_inc_retry_interval,
                max_retry_interval=CONF.database.db_max_retry_interval,
                exception_checker=functools.partial(should_retry, idempotent=idempotent,
                                                    name=name))
            _NESTING.depth = 1
            try:
                return retrying(f)(*args, **kwargs)
            finally:
                _NESTING.depth = 0

        return cast(F, wrapper)

    if func is not None:
        return decorate(func)
    return decorate
