"""A server create's records, written in one transaction: each instance's
row, its request spec and its block device mappings, with the quota recheck
in the same transaction where the backend lets it see every racing create.

NOTE: the API used to write these one by one (three transactions per server,
two more for the recheck), and a failure between them left an instance
without its spec. One transaction is cheaper and leaves nothing behind.

The recheck (Nova's ``recheck_quota``) must count every concurrent create's
servers. Inside the transaction that holds when creates of one project
cannot interleave: on SQLite the insert takes the database's write lock
before the count reads; on PostgreSQL a transaction-scoped advisory lock of
the project is taken first, and READ COMMITTED lets the count see what the
previous holder committed. MariaDB's REPEATABLE READ snapshot would hide a
racing create, so there the recheck runs after COMMIT, as before, and a
refused create's records are deleted again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from novalite.db import models
from novalite.db import network as db_network
from novalite.db import quotas as db_quotas
from novalite.db.api import _instance_dict, _instance_values, _session, get_engine
from novalite.db.retry import retry_on_db_error

# (the project's own limits, its usage) -> None, or raise to refuse
QuotaCheck = Callable[[dict[str, int], dict[str, int]], None]


def server_records_create(instances: list[dict[str, Any]], specs: dict[str, str],
                          block_devices: list[dict[str, Any]], project_id: str,
                          check: QuotaCheck | None = None,
                          actions: list[tuple[dict[str, Any], list[dict[str, Any]]]] | None = None,
                          ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Record ``instances`` (values with their ``uuid``), the spec JSON of
    each (by instance uuid), ``block_devices`` and ``actions`` (each server's
    first instance action with its events: the timeline's first step); with
    ``check``, refuse (raise what it raises, recording nothing) when the
    project's usage counted with these servers and every racing create's is
    over its limits. Returns the instance rows and the block device rows."""
    values = [_instance_values(v) for v in instances]
    inside = check is not None and check_is_exact()
    rows = _insert(values, specs, block_devices, project_id,
                   check if inside else None, actions or [], [])
    if check is not None and not inside:
        try:
            check(*db_quotas.quota_limits_and_usage(project_id))
        except BaseException:
            server_records_destroy([v["uuid"] for v in values])
            raise
    return rows


def check_is_exact() -> bool:
    """Whether the check ``server_records_create`` makes sees every racing
    create of the project (see the module docstring)."""
    return get_engine().dialect.name in ("sqlite", "postgresql")


@retry_on_db_error
def _insert(instances: list[dict[str, Any]], specs: dict[str, str],
            block_devices: list[dict[str, Any]], project_id: str, check: QuotaCheck | None,
            actions: list[tuple[dict[str, Any], list[dict[str, Any]]]],
            attempts: list[int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The transaction; safe to run again after a lost COMMIT: the uuids are
    this call's own, so a replay that finds the first one taken returns what
    its first attempt recorded (all of it: one transaction)."""
    attempts.append(1)
    try:
        with _session() as s:
            if check is not None:
                _serialise_project_creates(s, project_id)
            rows = [models.Instance(**v) for v in instances]
            s.add_all(rows)
            s.flush()
            s.add_all([models.RequestSpec(instance_uuid=uuid, spec=spec)
                       for uuid, spec in specs.items()])
            bdms = [models.BlockDeviceMapping(**b) for b in block_devices]
            s.add_all(bdms)
            s.flush()
            if check is not None:
                check(db_quotas._effective_limits(s, project_id),
                      db_quotas._instance_usage(s, project_id))
            for action_values, events in actions:
                db_network.record_action_events(s, action_values, events)
            return [_instance_dict(r) for r in rows], [b.as_dict() for b in bdms]
    except sa.exc.IntegrityError:
        if len(attempts) > 1 and instances:
            with _session() as s:
                found = _recorded(s, [v["uuid"] for v in instances])
            if found is not None:
                return found
        raise


def _serialise_project_creates(s: orm.Session, project_id: str) -> None:
    """PostgreSQL: wait for the project's other creates to commit (the lock
    goes with this transaction). SQLite needs nothing: its insert waits for
    the write lock."""
    if s.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"server-create/{project_id}".encode()).digest()
    s.execute(sa.text("SET LOCAL lock_timeout = '60s'"))
    s.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"),
              {"k": int.from_bytes(digest[:8], "big", signed=True)})


def _recorded(s: orm.Session, uuids: list[str],
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    rows = {r.uuid: r for r in s.scalars(
        sa.select(models.Instance).where(models.Instance.uuid.in_(uuids)))}
    if set(rows) != set(uuids):
        return None
    M = models.BlockDeviceMapping
    bdms = s.scalars(sa.select(M).where(M.instance_uuid.in_(uuids)).order_by(M.id))
    return [_instance_dict(rows[u]) for u in uuids], [b.as_dict() for b in bdms]


@retry_on_db_error
def server_records_destroy(uuids: list[str]) -> None:
    """Delete what ``server_records_create`` recorded for these instances
    (a create refused after COMMIT: the servers never existed)."""
    with _session() as s:
        actions = sa.select(models.InstanceAction.id).where(
            models.InstanceAction.instance_uuid.in_(uuids))
        s.execute(sa.delete(models.InstanceActionEvent)
                  .where(models.InstanceActionEvent.action_id.in_(actions)))
        s.execute(sa.delete(models.InstanceAction)
                  .where(models.InstanceAction.instance_uuid.in_(uuids)))
        s.execute(sa.delete(models.BlockDeviceMapping)
                  .where(models.BlockDeviceMapping.instance_uuid.in_(uuids)))
        s.execute(sa.delete(models.RequestSpec)
                  .where(models.RequestSpec.instance_uuid.in_(uuids)))
        s.execute(sa.delete(models.Instance).where(models.Instance.uuid.in_(uuids)))
