"""Quota queries: a project's own limits, and its usage counted from what
it has (Nova's counting quotas: no usage table to drift out of step)."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator

import sqlalchemy as sa
from oslo_concurrency import lockutils
from oslo_log import log as logging
from sqlalchemy import exc as sa_exc
from sqlalchemy import orm

from novalite import exception
from novalite.conf import CONF
from novalite.db import models, retry
from novalite.db.api import _session, get_engine
from novalite.db.retry import retry_on_db_error

LOG = logging.getLogger(__name__)


@retry_on_db_error
def quota_get_all_by_project(project_id: str) -> dict[str, int]:
    """The project's own limits, by resource (resources it has none for are absent)."""
    with _session() as s:
        return _own_limits(s, project_id)


def _own_limits(s: orm.Session, project_id: str) -> dict[str, int]:
    """``quota_get_all_by_project`` inside the caller's transaction."""
    q = sa.select(models.Quota.resource, models.Quota.hard_limit).filter_by(
        project_id=project_id)
    return {resource: limit for resource, limit in s.execute(q)}


def _effective_limits(s: orm.Session, project_id: str) -> dict[str, int]:
    """Inside the caller's transaction: the project's own limits, else the
    ``default`` quota class's (the configured defaults are the caller's):
    one transaction where a create needs both."""
    q = sa.select(models.QuotaClass.resource, models.QuotaClass.hard_limit).filter_by(
        class_name="default")
    limits = {resource: limit for resource, limit in s.execute(q)}
    limits.update(_own_limits(s, project_id))
    return limits


@retry_on_db_error
def quota_set(project_id: str, limits: dict[str, int]) -> None:
    """Create or update the project's own limits for these resources, in one
    transaction."""
    for _ in range(3):
        try:
            with _session() as s:
                rows = {r.resource: r for r in s.scalars(
                    sa.select(models.Quota).filter_by(project_id=project_id).where(
                        models.Quota.resource.in_(list(limits))))}
                for resource, limit in limits.items():
                    if resource in rows:
                        rows[resource].hard_limit = limit
                    else:
                        s.add(models.Quota(project_id=project_id, resource=resource,
                                           hard_limit=limit))
            return
        except sa_exc.IntegrityError:
            # NOTE: a concurrent set created the same row first; the retry updates it.
            continue
    raise RuntimeError(f"could not set quotas of project {project_id}: concurrent updates")


@retry_on_db_error
def quota_class_get_all_by_name(class_name: str) -> dict[str, int]:
    """The limits a quota class sets, by resource (others are absent)."""
    with _session() as s:
        q = sa.select(models.QuotaClass.resource, models.QuotaClass.hard_limit).filter_by(
            class_name=class_name)
        return {resource: limit for resource, limit in s.execute(q)}


@retry_on_db_error
def quota_class_set(class_name: str, limits: dict[str, int]) -> None:
    """Create or update a quota class's limits for these resources, in one
    transaction."""
    for _ in range(3):
        try:
            with _session() as s:
                rows = {r.resource: r for r in s.scalars(
                    sa.select(models.QuotaClass).filter_by(class_name=class_name).where(
                        models.QuotaClass.resource.in_(list(limits))))}
                for resource, limit in limits.items():
                    if resource in rows:
                        rows[resource].hard_limit = limit
                    else:
                        s.add(models.QuotaClass(class_name=class_name, resource=resource,
                                                hard_limit=limit))
            return
        except sa_exc.IntegrityError:
            # NOTE: a concurrent set created the same row first; the retry updates it.
            continue
    raise RuntimeError(f"could not set quota class {class_name}: concurrent updates")


@retry_on_db_error
def quota_destroy_all_by_project(project_id: str) -> None:
    with _session() as s:
        s.execute(sa.delete(models.Quota).filter_by(project_id=project_id))


@retry_on_db_error
def instance_usage_by_project(project_id: str) -> dict[str, int]:
    """The project's servers (not deleted) and their vCPUs and RAM, from the
    flavor each server was built with."""
    with _session() as s:
        return _instance_usage(s, project_id)


def _instance_usage(s: orm.Session, project_id: str) -> dict[str, int]:
    """``instance_usage_by_project`` inside the caller's transaction."""
    q = sa.select(models.Instance.flavor).filter_by(project_id=project_id, deleted=0)
    instances = cores = ram = 0
    for (flavor,) in s.execute(q):
        flavor = flavor or {}
        instances += 1
        cores += int(flavor.get("vcpus") or 0)
        ram += int(flavor.get("memory_mb") or 0)
    return {"instances": instances, "cores": cores, "ram": ram}


@retry_on_db_error
def quota_limits_and_usage(project_id: str) -> tuple[dict[str, int], dict[str, int]]:
    """The project's limits (its own, else the default quota class's) and its
    server usage, read in one transaction."""
    with _session() as s:
        return _effective_limits(s, project_id), _instance_usage(s, project_id)


@contextlib.contextmanager
def project_lock(project_id: str, timeout: int = 60) -> Iterator[None]:
    """Hold the project's quota lock: one holder at a time across threads,
    processes and hosts sharing the database (PostgreSQL advisory lock,
    MariaDB named lock; on SQLite, which only one host uses, a lock file
    next to the database). The holder's own writes may use any connection.

    NOTE: a lock, not a row: no table to create rows in, and no row lock
    that the holder's own inserts from another session would wait behind.
    """
    engine = get_engine()
    backend = engine.url.get_backend_name()
    digest = hashlib.sha256(project_id.encode()).digest()
    if backend == "sqlite":
        with lockutils.lock(f"quota-{digest.hex()[:32]}", lock_file_prefix="novalite-",
                            external=True,
                            lock_path=os.path.join(CONF.state_path, "locks")):
            yield
        return
    conn = _locked_connection(engine, project_id, digest, timeout)
    try:
        yield
    finally:
        _unlock(conn, digest)


@retry_on_db_error
def _locked_connection(engine: sa.Engine, project_id: str, digest: bytes,
                       timeout: int) -> sa.Connection:
    """A connection of its own holding the project's lock (a fresh one on
    each retry: the lock dies with the connection that took it)."""
    conn = engine.connect()
    try:
        if engine.url.get_backend_name() == "postgresql":
            conn.execute(sa.text(f"SET lock_timeout = '{int(timeout)}s'"))
            try:
                conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _pg_key(digest)})
            except sa_exc.OperationalError as e:
                if retry.classify(e) is not None:
                    raise
                raise exception.NovaliteException(
                    f"Timed out after {timeout}s waiting for the quota lock of project "
                    f"{project_id}") from e
        else:
            got = conn.execute(sa.text("SELECT GET_LOCK(:n, :t)"),
                               {"n": _mysql_name(digest), "t": timeout}).scalar()
            if got != 1:
                raise exception.NovaliteException(
                    f"Timed out after {timeout}s waiting for the quota lock of project "
                    f"{project_id}")
    except BaseException:
        conn.close()
        raise
    return conn


def _unlock(conn: sa.Connection, digest: bytes) -> None:
    try:
        if conn.engine.url.get_backend_name() == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _pg_key(digest)})
        else:
            conn.execute(sa.text("SELECT RELEASE_LOCK(:n)"), {"n": _mysql_name(digest)})
        conn.rollback()
    except sa_exc.DBAPIError as e:
        # NOTE: a lock held by a connection the server dropped (a restart)
        # is already released; the holder's work is done, so not an error.
        if retry.classify(e) != "disconnect":
            raise
        LOG.warning("Quota lock's connection was lost before unlocking (the lock went "
                    "with it): %s", str(e).splitlines()[0])
    finally:
        conn.close()


def _pg_key(digest: bytes) -> int:
    return int.from_bytes(digest[:8], "big", signed=True)


def _mysql_name(digest: bytes) -> str:
    return f"novalite-quota-{digest.hex()[:40]}"
