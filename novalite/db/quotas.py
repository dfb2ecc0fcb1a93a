"""Quota queries: a project's own limits, and its usage counted from what
it has (Nova's counting quotas: no usage table to drift out of step)."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator

import sqlalchemy as sa
from oslo_concurrency import lockutils
from sqlalchemy import exc as sa_exc

from novalite import exception
from novalite.conf import CONF
from novalite.db import models
from novalite.db.api import _session, get_engine


def quota_get_all_by_project(project_id: str) -> dict[str, int]:
    """The project's own limits, by resource (resources it has none for are absent)."""
    with _session() as s:
        q = sa.select(models.Quota.resource, models.Quota.hard_limit).filter_by(
            project_id=project_id)
        return {resource: limit for resource, limit in s.execute(q)}


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


def quota_destroy_all_by_project(project_id: str) -> None:
    with _session() as s:
        s.execute(sa.delete(models.Quota).filter_by(project_id=project_id))


def instance_usage_by_project(project_id: str) -> dict[str, int]:
    """The project's servers (not deleted) and their vCPUs and RAM, from the
    flavor each server was built with."""
    with _session() as s:
        q = sa.select(models.Instance.flavor).filter_by(project_id=project_id, deleted=0)
        instances = cores = ram = 0
        for (flavor,) in s.execute(q):
            flavor = flavor or {}
            instances += 1
            cores += int(flavor.get("vcpus") or 0)
            ram += int(flavor.get("memory_mb") or 0)
        return {"instances": instances, "cores": cores, "ram": ram}


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
    with engine.connect() as conn:
        if backend == "postgresql":
            key = int.from_bytes(digest[:8], "big", signed=True)
            conn.execute(sa.text(f"SET lock_timeout = '{int(timeout)}s'"))
            try:
                conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            except sa_exc.OperationalError as e:
                raise exception.NovaliteException(
                    f"Timed out after {timeout}s waiting for the quota lock of project "
                    f"{project_id}") from e
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.rollback()
        else:
            name = f"novalite-quota-{digest.hex()[:40]}"
            got = conn.execute(sa.text("SELECT GET_LOCK(:n, :t)"),
                               {"n": name, "t": timeout}).scalar()
            if got != 1:
                raise exception.NovaliteException(
                    f"Timed out after {timeout}s waiting for the quota lock of project "
                    f"{project_id}")
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT RELEASE_LOCK(:n)"), {"n": name})
                conn.rollback()
