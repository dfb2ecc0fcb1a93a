"""Host aggregate queries: aggregates, their hosts and metadata.

An aggregate's ``availability_zone`` metadata is the zone of its hosts, as
in Nova. novalite keeps each compute service's zone in its ``services``
row (what the scheduler, the zone list and server create read), so every
change that moves a host between zones writes that row here, in the same
transaction: a host's zone is its aggregate's, or
``[DEFAULT] default_availability_zone`` when no aggregate of it names one.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from novalite import exception
from novalite.conf import CONF
from novalite.db import models
from novalite.db.api import _session
from novalite.db.retry import retry_on_db_error

AZ_KEY = "availability_zone"
COMPUTE_BINARY = "novalite-compute"


class AggregateNotFound(exception.NotFound):
    msg_fmt = "Aggregate %(aggregate_id)s could not be found."


class AggregateNameExists(exception.Conflict):
    msg_fmt = "Aggregate %(aggregate_name)s already exists."


class AggregateHostExists(exception.Conflict):
    msg_fmt = "Aggregate %(aggregate_id)s already has host %(host)s."


class AggregateHostNotFound(exception.NotFound):
    msg_fmt = "Aggregate %(aggregate_id)s has no host %(host)s."


class ComputeHostNotFound(exception.NotFound):
    msg_fmt = "Compute host %(host)s could not be found."


class InvalidAggregateAction(exception.Invalid):
    msg_fmt = ("Cannot %(action)s aggregate %(aggregate_id)s. Reason: %(reason)s.")


def _row(s: Any, aggregate_id: int | str) -> models.Aggregate:
    q = sa.select(models.Aggregate)
    q = (q.filter_by(id=int(aggregate_id)) if str(aggregate_id).isdigit()
         else q.filter_by(uuid=str(aggregate_id)))
    row = s.scalar(q)
    if row is None:
        raise AggregateNotFound(aggregate_id=aggregate_id)
    return row


def _hosts(s: Any, agg_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in agg_ids}
    q = (sa.select(models.AggregateHost.aggregate_id, models.AggregateHost.host)
         .where(models.AggregateHost.aggregate_id.in_(agg_ids))
         .order_by(models.AggregateHost.id))
    for agg_id, host in s.execute(q):
        out[agg_id].append(host)
    return out


def _metadata(s: Any, agg_ids: list[int]) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {i: {} for i in agg_ids}
    q = (sa.select(models.AggregateMetadata.aggregate_id, models.AggregateMetadata.key,
                   models.AggregateMetadata.value)
         .where(models.AggregateMetadata.aggregate_id.in_(agg_ids)))
    for agg_id, key, value in s.execute(q):
        out[agg_id][key] = value
    return out


def _dicts(s: Any, rows: list[models.Aggregate]) -> list[dict]:
    ids = [r.id for r in rows]
    hosts, meta = (_hosts(s, ids), _metadata(s, ids)) if ids else ({}, {})
    return [{**r.as_dict(), "hosts": hosts[r.id], "metadata": meta[r.id]} for r in rows]


def _zone_of_host(s: Any, host: str) -> str | None:
    """The zone the aggregates of ``host`` give it (None: none does)."""
    q = (sa.select(models.AggregateMetadata.value)
         .join(models.AggregateHost,
               models.AggregateHost.aggregate_id == models.AggregateMetadata.aggregate_id)
         .where(models.AggregateHost.host == host, models.AggregateMetadata.key == AZ_KEY)
         .order_by(models.AggregateMetadata.aggregate_id))
    return s.scalar(q)


def _sync_zones(s: Any, hosts: list[str]) -> None:
    """Write each host's zone into its compute services' rows."""
    for host in hosts:
        zone = _zone_of_host(s, host) or CONF.default_availability_zone
        s.execute(sa.update(models.Service)
                  .where(models.Service.host == host, models.Service.binary == COMPUTE_BINARY,
                         models.Service.deleted == 0)
                  .values(availability_zone=zone))


def _check_zone_conflict(s: Any, agg: models.Aggregate, host: str, zone: str | None,
                         action: str) -> None:
    """Nova's rule: a host is in one zone, so no two of its aggregates name
    different zones."""
    if zone is None:
        return
    q = (sa.select(models.Aggregate.name, models.AggregateMetadata.value)
         .join(models.AggregateHost, models.AggregateHost.aggregate_id == models.Aggregate.id)
         .join(models.AggregateMetadata,
               models.AggregateMetadata.aggregate_id == models.Aggregate.id)
         .where(models.AggregateHost.host == host, models.AggregateMetadata.key == AZ_KEY,
                models.Aggregate.id != agg.id))
    for name, other in s.execute(q):
        if other != zone:
            raise InvalidAggregateAction(
                action=action, aggregate_id=agg.id,
                reason=f"host {host} is already in availability zone {other!r} "
                       f"(aggregate {name!r}), which conflicts with {zone!r}")


@retry_on_db_error(idempotent=False)
def aggregate_create(values: dict, metadata: dict[str, str] | None = None) -> dict:
    try:
        with _session() as s:
            if s.scalar(sa.select(models.Aggregate.id).filter_by(name=values["name"])):
                raise AggregateNameExists(aggregate_name=values["name"])
            row = models.Aggregate(**values)
            s.add(row)
            s.flush()
            for key, value in (metadata or {}).items():
                s.add(models.AggregateMetadata(aggregate_id=row.id, key=key, value=value))
            s.flush()
            return _dicts(s, [row])[0]
    except sa_exc.IntegrityError:
        raise AggregateNameExists(aggregate_name=values["name"]) from None


@retry_on_db_error
def aggregate_get(aggregate_id: int | str) -> dict:
    """By id (digits) or uuid."""
    with _session() as s:
        return _dicts(s, [_row(s, aggregate_id)])[0]


@retry_on_db_error
def aggregate_get_all() -> list[dict]:
    with _session() as s:
        return _dicts(s, list(s.scalars(sa.select(models.Aggregate)
                                        .order_by(models.Aggregate.id))))


@retry_on_db_error
def aggregate_get_by_host(host: str) -> list[dict]:
    with _session() as s:
        q = (sa.select(models.Aggregate)
             .join(models.AggregateHost, models.AggregateHost.aggregate_id == models.Aggregate.id)
             .where(models.AggregateHost.host == host).order_by(models.Aggregate.id))
        return _dicts(s, list(s.scalars(q)))


@retry_on_db_error
def aggregate_metadata_by_host() -> dict[str, dict[str, set[str]]]:
    """``{host: {key: {values}}}`` over every aggregate of every host (what
    the scheduler's aggregate filters read, once per request)."""
    with _session() as s:
        q = (sa.select(models.AggregateHost.host, models.AggregateMetadata.key,
                       models.AggregateMetadata.value)
             .join(models.AggregateMetadata,
                   models.AggregateMetadata.aggregate_id == models.AggregateHost.aggregate_id))
        out: dict[str, dict[str, set[str]]] = {}
        for host, key, value in s.execute(q):
            out.setdefault(host, {}).setdefault(key, set()).add(value)
        return out


@retry_on_db_error(idempotent=False)
def aggregate_update(aggregate_id: int | str, values: dict) -> dict:
    """Rename and/or set the zone (``availability_zone`` in ``values``:
    the zone metadata, None removing it)."""
    try:
        with _session() as s:
            row = _row(s, aggregate_id)
            if "name" in values and values["name"] != row.name:
                if s.scalar(sa.select(models.Aggregate.id).filter_by(name=values["name"])):
                    raise AggregateNameExists(aggregate_name=values["name"])
                row.name = values["name"]
            if AZ_KEY in values:
                _set_metadata(s, row, {AZ_KEY: values[AZ_KEY]}, "update")
            s.flush()
            return _dicts(s, [row])[0]
    except sa_exc.IntegrityError:
        raise AggregateNameExists(aggregate_name=values.get("name")) from None


def _set_metadata(s: Any, row: models.Aggregate, changes: dict[str, str | None],
                  action: str) -> None:
    """Set (None: remove) keys; keeps the hosts' zones in step."""
    hosts = _hosts(s, [row.id])[row.id]
    if AZ_KEY in changes:
        for host in hosts:
            _check_zone_conflict(s, row, host, changes[AZ_KEY], action)
    M = models.AggregateMetadata
    for key, value in changes.items():
        existing = s.scalar(sa.select(M).filter_by(aggregate_id=row.id, key=key))
        if value is None:
            if existing is not None:
                s.delete(existing)
        elif existing is None:
            s.add(M(aggregate_id=row.id, key=key, value=value))
        else:
            existing.value = value
    s.flush()
    if AZ_KEY in changes:
        _sync_zones(s, hosts)


@retry_on_db_error(idempotent=False)
def aggregate_metadata_set(aggregate_id: int | str, changes: dict[str, str | None]) -> dict:
    with _session() as s:
        row = _row(s, aggregate_id)
        _set_metadata(s, row, changes, "set_metadata")
        return _dicts(s, [row])[0]


@retry_on_db_error(idempotent=False)
def aggregate_host_add(aggregate_id: int | str, host: str) -> dict:
    with _session() as s:
        row = _row(s, aggregate_id)
        found = s.scalar(sa.select(models.Service.id).filter_by(
            host=host, binary=COMPUTE_BINARY, deleted=0))
        if found is None:
            raise ComputeHostNotFound(host=host)
        if s.scalar(sa.select(models.AggregateHost.id).filter_by(aggregate_id=row.id,
                                                                 host=host)):
            raise AggregateHostExists(aggregate_id=row.id, host=host)
        zone = _metadata(s, [row.id])[row.id].get(AZ_KEY)
        _check_zone_conflict(s, row, host, zone, "add host to")
        s.add(models.AggregateHost(aggregate_id=row.id, host=host))
        s.flush()
        _sync_zones(s, [host])
        return _dicts(s, [row])[0]


@retry_on_db_error(idempotent=False)
def aggregate_host_delete(aggregate_id: int | str, host: str) -> dict:
    with _session() as s:
        row = _row(s, aggregate_id)
        link = s.scalar(sa.select(models.AggregateHost).filter_by(aggregate_id=row.id,
                                                                  host=host))
        if link is None:
            raise AggregateHostNotFound(aggregate_id=row.id, host=host)
        s.delete(link)
        s.flush()
        _sync_zones(s, [host])
        return _dicts(s, [row])[0]


@retry_on_db_error(idempotent=False)
def aggregate_destroy(aggregate_id: int | str) -> None:
    """Nova refuses to delete an aggregate that still has hosts (400)."""
    with _session() as s:
        row = _row(s, aggregate_id)
        if _hosts(s, [row.id])[row.id]:
            raise InvalidAggregateAction(action="delete", aggregate_id=row.id,
                                         reason="host aggregate is not empty")
        s.execute(sa.delete(models.AggregateMetadata).filter_by(aggregate_id=row.id))
        s.delete(row)
