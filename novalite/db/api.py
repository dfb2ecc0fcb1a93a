"""Database queries. Only services with ``db_allowed`` call these: compute
never does (``disable()`` makes every call raise DBNotAllowed there)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from oslo_log import log as logging
from oslo_utils import timeutils, uuidutils
from sqlalchemy import orm
from sqlalchemy.engine import URL, Engine, make_url

from novalite import exception
from novalite.conf import CONF
from novalite.db import models

LOG = logging.getLogger(__name__)

_LOCK = threading.Lock()
_ENGINE: Engine | None = None
_SESSIONMAKER: orm.sessionmaker | None = None
_DISABLED_FOR: str | None = None


def disable(binary: str) -> None:
    """Forbid database access in this process (compute: db_allowed=False)."""
    global _DISABLED_FOR
    _DISABLED_FOR = binary


def enable() -> None:
    global _DISABLED_FOR
    _DISABLED_FOR = None


def get_url() -> URL:
    if _DISABLED_FOR:
        raise exception.DBNotAllowed(binary=_DISABLED_FOR)
    conn = CONF.database.connection or f"sqlite:///{CONF.state_path}/novalite.sqlite"
    try:
        return make_url(conn)
    except Exception as e:
        raise exception.InvalidDatabaseURL(reason=str(e)) from e


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # NOTE: WAL lets API readers proceed while the conductor writes.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def get_engine() -> Engine:
    global _ENGINE, _SESSIONMAKER
    if _DISABLED_FOR:
        raise exception.DBNotAllowed(binary=_DISABLED_FOR)
    with _LOCK:
        if _ENGINE is None:
            url = get_url()
            kw: dict[str, Any] = {"echo": CONF.database.connection_debug, "future": True}
            if url.get_backend_name() == "sqlite":
                kw["connect_args"] = {"check_same_thread": False, "timeout": 30}
            else:
                kw.update(pool_size=CONF.database.max_pool_size,
                          max_overflow=CONF.database.max_overflow,
                          pool_pre_ping=True)
            engine = sa.create_engine(url, **kw)
            if url.get_backend_name() == "sqlite":
                sa.event.listen(engine, "connect", _sqlite_pragmas)
            _ENGINE = engine
            _SESSIONMAKER = orm.sessionmaker(bind=engine, expire_on_commit=False)
        return _ENGINE


def dispose() -> None:
    """Drop the engine (tests, and after fork)."""
    global _ENGINE, _SESSIONMAKER
    with _LOCK:
        if _ENGINE is not None:
            _ENGINE.dispose()
        _ENGINE = None
        _SESSIONMAKER = None


@contextlib.contextmanager
def _session() -> Iterator[orm.Session]:
    get_engine()
    assert _SESSIONMAKER is not None
    with _SESSIONMAKER.begin() as session:
        yield session


def _soft_delete(row: Any) -> None:
    row.deleted = row.id
    row.deleted_at = timeutils.utcnow()


# -- services ---------------------------------------------------------------

def service_create(values: dict) -> dict:
    with _session() as s:
        row = models.Service(**values)
        s.add(row)
        s.flush()
        return row.as_dict()


def service_get(service_id: int) -> dict:
    with _session() as s:
        row = s.scalar(sa.select(models.Service).filter_by(id=service_id, deleted=0))
        if row is None:
            raise exception.ServiceNotFound(service_id=service_id)
        return row.as_dict()


def service_get_by_host_and_binary(host: str, binary: str) -> dict:
    with _session() as s:
        row = s.scalar(sa.select(models.Service).filter_by(host=host, binary=binary, deleted=0))
        if row is None:
            raise exception.ServiceNotFound(service_id=f"{binary} on {host}")
        return row.as_dict()


def service_get_all(binary: str | None = None, host: str | None = None) -> list[dict]:
    with _session() as s:
        q = sa.select(models.Service).filter_by(deleted=0).order_by(models.Service.id)
        if binary:
            q = q.filter_by(binary=binary)
        if host:
            q = q.filter_by(host=host)
        return [r.as_dict() for r in s.scalars(q)]


def service_update(service_id: int, values: dict) -> dict:
    with _session() as s:
        row = s.scalar(sa.select(models.Service).filter_by(id=service_id, deleted=0))
        if row is None:
            raise exception.ServiceNotFound(service_id=service_id)
        for k, v in values.items():
            setattr(row, k, v)
        s.flush()
        return row.as_dict()


def service_destroy(service_id: int) -> None:
    with _session() as s:
        row = s.scalar(sa.select(models.Service).filter_by(id=service_id, deleted=0))
        if row is None:
            raise exception.ServiceNotFound(service_id=service_id)
        _soft_delete(row)


# -- compute nodes ----------------------------------------------------------

def compute_node_get_all(host: str | None = None) -> list[dict]:
    with _session() as s:
        q = sa.select(models.ComputeNode).filter_by(deleted=0).order_by(models.ComputeNode.id)
        if host:
            q = q.filter_by(host=host)
        return [r.as_dict() for r in s.scalars(q)]


def compute_node_create(values: dict) -> dict:
    with _session() as s:
        row = models.ComputeNode(**values)
        s.add(row)
        s.flush()
        return row.as_dict()


def compute_node_update(node_id: int, values: dict) -> dict:
    with _session() as s:
        row = s.scalar(sa.select(models.ComputeNode).filter_by(id=node_id, deleted=0))
        if row is None:
            raise exception.ComputeNodeNotFound(host=node_id)
        for k, v in values.items():
            setattr(row, k, v)
        s.flush()
        return row.as_dict()


# -- flavors ----------------------------------------------------------------

def flavor_get_by_flavor_id(flavorid: str) -> dict:
    with _session() as s:
        row = s.scalar(sa.select(models.Flavor).filter_by(flavorid=str(flavorid)))
        if row is None:
            raise exception.FlavorNotFound(flavor_id=flavorid)
        return row.as_dict()


def flavor_get_by_name(name: str) -> dict:
    with _session() as s:
        row = s.scalar(sa.select(models.Flavor).filter_by(name=name))
        if row is None:
            raise exception.FlavorNotFound(flavor_id=name)
        return row.as_dict()


def flavor_get_all(filters: dict | None = None, limit: int | None = None,
                   marker: str | None = None) -> list[dict]:
    filters = filters or {}
    with _session() as s:
        q = sa.select(models.Flavor).filter_by(disabled=False)
        if filters.get("min_memory_mb") is not None:
            q = q.where(models.Flavor.memory_mb >= filters["min_memory_mb"])
        if filters.get("min_root_gb") is not None:
            q = q.where(models.Flavor.root_gb >= filters["min_root_gb"])
        if filters.get("is_public") is not None:
            q = q.filter_by(is_public=filters["is_public"])
        q = q.order_by(models.Flavor.flavorid, models.Flavor.id)
        if marker is not None:
            mrow = s.scalar(sa.select(models.Flavor).filter_by(flavorid=str(marker)))
            if mrow is None:
                raise exception.Invalid(reason=f"marker [{marker}] not found")
            q = q.where(sa.or_(models.Flavor.flavorid > mrow.flavorid,
                               sa.and_(models.Flavor.flavorid == mrow.flavorid,
                                       models.Flavor.id > mrow.id)))
        if limit is not None:
            q = q.limit(limit)
        return [r.as_dict() for r in s.scalars(q)]


def flavor_create(values: dict) -> dict:
    with _session() as s:
        row = models.Flavor(**values)
        s.add(row)
        s.flush()
        return row.as_dict()


# -- instances --------------------------------------------------------------

def _instance_dict(row: models.Instance) -> dict:
    d = row.as_dict()
    d["metadata"] = d.pop("metadata_", None) or {}
    return d


def _instance_values(values: dict) -> dict:
    values = dict(values)
    if "metadata" in values:
        values["metadata_"] = values.pop("metadata")
    return values


def instance_create(values: dict) -> dict:
    values = _instance_values(values)
    values.setdefault("uuid", uuidutils.generate_uuid())
    with _session() as s:
        row = models.Instance(**values)
        s.add(row)
        s.flush()
        return _instance_dict(row)


def _instance_query(uuid: str, read_deleted: bool = False) -> sa.Select:
    q = sa.select(models.Instance).filter_by(uuid=uuid)
    if not read_deleted:
        q = q.filter_by(deleted=0)
    return q


def instance_get_by_uuid(uuid: str, read_deleted: bool = False) -> dict:
    with _session() as s:
        row = s.scalar(_instance_query(uuid, read_deleted))
        if row is None:
            raise exception.InstanceNotFound(instance_id=uuid)
        return _instance_dict(row)


_SORTABLE = {"created_at", "display_name", "uuid", "id", "updated_at", "host", "vm_state"}


def instance_get_all_by_filters(filters: dict, sort_key: str = "created_at",
                                sort_dir: str = "desc", limit: int | None = None,
                                marker: str | None = None) -> list[dict]:
    """Filters: project_id, host, vm_state (str or list), task_state_not_null,
    display_name (regex, applied in Python so every backend agrees),
    image_ref, flavor_id, changes_since, deleted (bool), uuids, updated_before."""
    if sort_key not in _SORTABLE:
        raise exception.Invalid(reason=f"sort key {sort_key!r} is not supported")
    filters = _with_datetimes(filters, ("changes_since", "created_before", "updated_before"))
    with _session() as s:
        M = models.Instance
        q = sa.select(M)
        if not filters.get("deleted") and not filters.get("changes_since"):
            q = q.where(M.deleted == 0)
        for key in ("project_id", "host", "image_ref", "reservation_id"):
            if filters.get(key) is not None:
                q = q.where(getattr(M, key) == filters[key])
        if filters.get("vm_state") is not None:
            states = filters["vm_state"]
            states = [states] if isinstance(states, str) else list(states)
            q = q.where(M.vm_state.in_(states))
        if filters.get("host_is_null"):
            q = q.where(M.host.is_(None))
        if filters.get("created_before") is not None:
            q = q.where(M.created_at < filters["created_before"])
        if filters.get("task_state_not_null"):
            q = q.where(M.task_state.is_not(None))
        if filters.get("uuids") is not None:
            q = q.where(M.uuid.in_(list(filters["uuids"])))
        if filters.get("changes_since") is not None:
            q = q.where(M.updated_at >= filters["changes_since"])
        if filters.get("updated_before") is not None:
            q = q.where(sa.func.coalesce(M.updated_at, M.created_at) < filters["updated_before"])
        col = getattr(M, sort_key)
        order = [col.desc() if sort_dir == "desc" else col.asc(),
                 M.id.desc() if sort_dir == "desc" else M.id.asc()]
        q = q.order_by(*order)
        rows = [_instance_dict(r) for r in s.scalars(q)]
    rows = _python_filters(rows, filters)
    if marker is not None:
        idx = next((i for i, r in enumerate(rows) if r["uuid"] == marker), None)
        if idx is None:
            raise exception.Invalid(reason=f"marker [{marker}] not found")
        rows = rows[idx + 1:]
    if limit is not None:
        rows = rows[:limit]
    return rows


def _with_datetimes(filters: dict, keys: tuple[str, ...]) -> dict:
    """Date filters as naive UTC datetimes.

    NOTE: filters that crossed RPC arrive as ISO strings; compared as text
    by SQLite ('2026-11-24T…' vs '2026-11-24 …') they would match every row
    of the day.
    """
    out = dict(filters)
    for key in keys:
        value = out.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            value = timeutils.parse_isotime(value)
        if value.tzinfo is not None:
            value = timeutils.normalize_time(value)
        out[key] = value
    return out


def _python_filters(rows: list[dict], filters: dict) -> list[dict]:
    import re

    if filters.get("display_name"):
        try:
            pat = re.compile(filters["display_name"])
        except re.error as e:
            raise exception.Invalid(reason=f"name filter is not a valid regular expression: {e}") from e
        rows = [r for r in rows if pat.search(r["display_name"] or "")]
    if filters.get("flavor_id") is not None:
        rows = [r for r in rows if (r["flavor"] or {}).get("flavorid") == str(filters["flavor_id"])]
    return rows


def instance_update(uuid: str, values: dict,
                    expected_task_state: Sequence[str | None] | None = None,
                    expected_vm_state: Sequence[str] | None = None) -> dict:
    """Update an instance, atomically checking its current states first.

    The compare-and-swap is what makes delete-during-build safe: a build step
    that expects task_state SPAWNING fails cleanly once delete set DELETING.
    """
    values = _instance_values(values)
    values["updated_at"] = timeutils.utcnow()
    with _session() as s:
        M = models.Instance
        stmt = sa.update(M).where(M.uuid == uuid, M.deleted == 0)
        if expected_task_state is not None:
            states = list(expected_task_state)
            cond = [M.task_state.in_([x for x in states if x is not None])]
            if None in states:
                cond.append(M.task_state.is_(None))
            stmt = stmt.where(sa.or_(*cond))
        if expected_vm_state is not None:
            stmt = stmt.where(M.vm_state.in_(list(expected_vm_state)))
        result: Any = s.execute(stmt.values(**values).execution_options(synchronize_session=False))
        row = s.scalar(_instance_query(uuid))
        if row is None:
            raise exception.InstanceNotFound(instance_id=uuid)
        if result.rowcount == 0:
            from novalite.compute import task_states  # local: avoid an import cycle

            if row.task_state == task_states.DELETING:
                raise exception.UnexpectedDeletingTaskState(instance_uuid=uuid)
            raise exception.Conflict(
                reason=f"instance {uuid} is in vm_state {row.vm_state} task_state "
                       f"{row.task_state}; expected task_state {expected_task_state} "
                       f"vm_state {expected_vm_state}")
        return _instance_dict(row)


def instance_destroy(uuid: str) -> dict:
    with _session() as s:
        row = s.scalar(_instance_query(uuid))
        if row is None:
            raise exception.InstanceNotFound(instance_id=uuid)
        _soft_delete(row)
        row.vm_state = "deleted"
        row.task_state = None
        row.terminated_at = timeutils.utcnow()
        s.flush()
        return _instance_dict(row)


def instance_count_by_project(project_id: str) -> int:
    with _session() as s:
        q = sa.select(sa.func.count()).select_from(models.Instance).filter_by(
            project_id=project_id, deleted=0)
        return int(s.scalar(q) or 0)


# -- instance faults --------------------------------------------------------

def instance_fault_create(values: dict) -> dict:
    with _session() as s:
        row = models.InstanceFault(**values)
        s.add(row)
        s.flush()
        return row.as_dict()


def instance_fault_get_by_instance_uuids(uuids: list[str], latest: bool = True) -> dict[str, list[dict]]:
    if not uuids:
        return {}
    with _session() as s:
        M = models.InstanceFault
        q = sa.select(M).where(M.instance_uuid.in_(uuids)).order_by(M.created_at.desc(), M.id.desc())
        out: dict[str, list[dict]] = {u: [] for u in uuids}
        for r in s.scalars(q):
            if latest and out[r.instance_uuid]:
                continue
            out[r.instance_uuid].append(r.as_dict())
        return out


# -- images -----------------------------------------------------------------

def image_create(values: dict) -> dict:
    values = dict(values)
    values.setdefault("uuid", uuidutils.generate_uuid())
    with _session() as s:
        row = models.Image(**values)
        s.add(row)
        s.flush()
        return row.as_dict()


def image_get(image_id: str) -> dict:
    with _session() as s:
        row = s.scalar(sa.select(models.Image).filter_by(uuid=image_id, deleted=0))
        if row is None:
            raise exception.ImageNotFound(image_id=image_id)
        return row.as_dict()


def image_get_all(filters: dict | None = None) -> list[dict]:
    filters = filters or {}
    with _session() as s:
        q = sa.select(models.Image).filter_by(deleted=0).order_by(models.Image.created_at.desc(),
                                                                 models.Image.id.desc())
        if filters.get("name") is not None:
            q = q.filter_by(name=filters["name"])
        if filters.get("ids") is not None:
            q = q.where(models.Image.uuid.in_(filters["ids"]))
        if filters.get("status") is not None:
            q = q.filter_by(status=filters["status"])
        return [r.as_dict() for r in s.scalars(q)]


def image_update(image_id: str, values: dict, expected_status: str | None = None) -> dict:
    """Update an image; with ``expected_status``, only if it still has that
    status (one conditional UPDATE, so two uploads cannot both start), else
    ImageStatusTransition."""
    M = models.Image
    with _session() as s:
        if expected_status is not None:
            done = s.execute(sa.update(M).where(M.uuid == image_id, M.deleted == 0,
                                                M.status == expected_status)
                             .values(status=values.get("status", expected_status))
                             .execution_options(synchronize_session=False))
            if not done.rowcount:  # type: ignore[attr-defined]
                current = s.scalar(sa.select(M.status).filter_by(uuid=image_id, deleted=0))
                if current is None:
                    raise exception.ImageNotFound(image_id=image_id)
                raise exception.ImageStatusTransition(
                    current=current, new=values.get("status", expected_status))
        row = s.scalar(sa.select(M).filter_by(uuid=image_id, deleted=0))
        if row is None:
            raise exception.ImageNotFound(image_id=image_id)
        for k, v in values.items():
            setattr(row, k, v)
        s.flush()
        return row.as_dict()


def image_destroy(image_id: str) -> dict:
    with _session() as s:
        row = s.scalar(sa.select(models.Image).filter_by(uuid=image_id, deleted=0))
        if row is None:
            raise exception.ImageNotFound(image_id=image_id)
        _soft_delete(row)
        row.status = "deleted"
        s.flush()
        return row.as_dict()
