"""Database queries. Only services with ``db_allowed`` call these: compute
never does (``disable()`` makes every call raise DBNotAllowed there)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from oslo_log import log as logging
from oslo_utils import timeutils, uuidutils
from sqlalchemy import orm
from sqlalchemy.engine import URL, Engine, make_url

from novalite import exception, filemodes, persistence
from novalite.conf import CONF
from novalite.db import models, retry
from novalite.db.retry import retry_on_db_error

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


def disabled() -> bool:
    return _DISABLED_FOR is not None


def _check_allowed() -> None:
    if _DISABLED_FOR:
        raise exception.DBNotAllowed(binary=_DISABLED_FOR)
    if persistence.current() is not None:
        # NOTE: code running as compute inside a process that has a database
        # (the all-in-one): it must go through the conductor as it would on
        # its own host.
        raise exception.DBNotAllowed(binary="novalite-compute")


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
    _check_allowed()
    with _LOCK:
        if _ENGINE is None:
            url = get_url()
            kw: dict[str, Any] = {"echo": CONF.database.connection_debug, "future": True}
            if url.get_backend_name() == "sqlite":
                kw["connect_args"] = {"check_same_thread": False, "timeout": 30}
                filemodes.private_sqlite(url.database)
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


# NOTE: SQLite has one writer at a time, and a connection that finds the
# database locked sleeps in its busy handler (1, 2, 5 ... 100 ms steps) or,
# in WAL mode, fails at once when its read snapshot is older than the last
# commit (then the retry decorator sleeps). Under load, most of a write's
# time was such sleeps (instance_update: 1.5 ms of CPU, 90-220 ms of wall).
# One transaction at a time per process, waiting on a lock that wakes the
# next thread as soon as it is free, keeps the writers of one process off
# each other; other processes still meet the busy handler.
_SQLITE_TURN = threading.RLock()


def _writer_turn(engine: Engine) -> contextlib.AbstractContextManager[Any]:
    if engine.dialect.name == "sqlite":
        return _SQLITE_TURN
    return contextlib.nullcontext()


@contextlib.contextmanager
def _session() -> Iterator[orm.Session]:
    """One transaction, committed at the end of the block.

    An error raised by COMMIT itself is marked (``retry.mark_at_commit``):
    after it the transaction may or may not have been recorded, so only
    idempotent calls may run again.
    """
    engine = get_engine()
    assert _SESSIONMAKER is not None
    with _writer_turn(engine), _SESSIONMAKER() as session:
        session.begin()
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        try:
            session.commit()
        except sa.exc.DBAPIError as e:
            retry.mark_at_commit(e)
            raise


def _soft_delete(row: Any) -> None:
    row.deleted = row.id
    row.deleted_at = timeutils.utcnow()


# -- services ---------------------------------------------------------------

@retry_on_db_error(idempotent=False)
def service_create(values: dict) -> dict:
    with _session() as s:
        row = models.Service(**values)
        s.add(row)
        s.flush()
        return row.as_dict()


@retry_on_db_error
def service_get(service_id: int) -> dict:
    with _session() as s:
        row = s.scalar(sa.select(models.Service).filter_by(id=service_id, deleted=0))
        if row is None:
            raise exception.ServiceNotFound(service_id=service_id)
        return row.as_dict()


@retry_on_db_error
def service_get_by_host_and_binary(host: str, binary: str) -> dict:
    with _session() as s:
        row = s.scalar(sa.select(models.Service).filter_by(host=host, binary=binary, deleted=0))
        if row is None:
            raise exception.ServiceNotFound(service_id=f"{binary} on {host}")
        return row.as_dict()


@retry_on_db_error
def service_get_all(binary: str | None = None, host: str | None = None) -> list[dict]:
    with _session() as s:
        q = sa.select(models.Service).filter_by(deleted=0).order_by(models.Service.id)
        if binary:
            q = q.filter_by(binary=binary)
        if host:
            q = q.filter_by(host=host)
        return [r.as_dict() for r in s.scalars(q)]


@retry_on_db_error
def service_update(service_id: int, values: dict) -> dict:
    with _session() as s:
        row = s.scalar(sa.select(models.Service).filter_by(id=service_id, deleted=0))
        if row is None:
            raise exception.ServiceNotFound(service_id=service_id)
        for k, v in values.items():
            setattr(row, k, v)
        s.flush()
        return row.as_dict()


@retry_on_db_error(idempotent=False)
def service_destroy(service_id: int) -> None:
    with _session() as s:
        row = s.scalar(sa.select(models.Service).filter_by(id=service_id, deleted=0))
        if row is None:
            raise exception.ServiceNotFound(service_id=service_id)
        _soft_delete(row)


# -- compute nodes ----------------------------------------------------------

@retry_on_db_error
def compute_node_get_all(host: str | None = None) -> list[dict]:
    with _session() as s:
        q = sa.select(models.ComputeNode).filter_by(deleted=0).order_by(models.ComputeNode.id)
        if host:
            q = q.filter_by(host=host)
        return [r.as_dict() for r in s.scalars(q)]


@retry_on_db_error(idempotent=False)
def compute_node_create(values: dict) -> dict:
    with _session() as s:
        row = models.ComputeNode(**values)
        s.add(row)
        s.flush()
        return row.as_dict()


@retry_on_db_error
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

# NOTE: the columns a flavor list may be sorted by (Nova's, less those
# novalite does not have); ties are broken by id.
FLAVOR_SORT_KEYS = ("created_at", "disabled", "ephemeral_gb", "flavorid", "id", "is_public",
                    "memory_mb", "name", "root_gb", "rxtx_factor", "swap", "vcpus")


def _flavor_row(s: orm.Session, flavorid: str) -> models.Flavor:
    row = s.scalar(sa.select(models.Flavor).filter_by(flavorid=str(flavorid)))
    if row is None:
        raise exception.FlavorNotFound(flavor_id=flavorid)
    return row


@retry_on_db_error
def flavor_get_by_flavor_id(flavorid: str) -> dict:
    with _session() as s:
        row = _flavor_row(s, flavorid)
        return row.as_dict()


@retry_on_db_error
def flavor_get_by_name(name: str) -> dict:
    with _session() as s:
        row = s.scalar(sa.select(models.Flavor).filter_by(name=name))
        if row is None:
            raise exception.FlavorNotFound(flavor_id=name)
        return row.as_dict()


@retry_on_db_error
def flavor_get_all(filters: dict | None = None, limit: int | None = None,
                   marker: str | None = None, sort_key: str = "flavorid",
                   sort_dir: str = "asc") -> list[dict]:
    """Flavors by ``filters`` (``is_public``: True/False, None for all, and
    with ``project_id`` True also means the private flavors that project may
    use; ``disabled``; ``min_memory_mb``; ``min_root_gb``), one page after the
    flavor ``marker`` (a flavorid) in ``sort_key`` order."""
    filters = filters or {}
    if sort_key not in FLAVOR_SORT_KEYS:
        raise exception.Invalid(reason=f"sort_key {sort_key!r} is not one of "
                                       f"{', '.join(FLAVOR_SORT_KEYS)}")
    if sort_dir not in ("asc", "desc"):
        raise exception.Invalid(reason=f"sort_dir {sort_dir!r} is not 'asc' or 'desc'")
    col = getattr(models.Flavor, sort_key)
    ident = models.Flavor.id
    with _session() as s:
        q = sa.select(models.Flavor)
        if filters.get("disabled") is not None:
            q = q.filter_by(disabled=filters["disabled"])
        if filters.get("min_memory_mb") is not None:
            q = q.where(models.Flavor.memory_mb >= filters["min_memory_mb"])
        if filters.get("min_root_gb") is not None:
            q = q.where(models.Flavor.root_gb >= filters["min_root_gb"])
        if filters.get("is_public") is not None:
            q = q.where(_public_filter(filters["is_public"], filters.get("project_id")))
        if sort_dir == "asc":
            q = q.order_by(col.asc(), ident.asc())
        else:
            q = q.order_by(col.desc(), ident.desc())
        if marker is not None:
            mrow = s.scalar(sa.select(models.Flavor).filter_by(flavorid=str(marker)))
            if mrow is None:
                raise exception.MarkerNotFound(marker=marker)
            mval = getattr(mrow, sort_key)
            if sort_dir == "asc":
                q = q.where(sa.or_(col > mval, sa.and_(col == mval, ident > mrow.id)))
            else:
                q = q.where(sa.or_(col < mval, sa.and_(col == mval, ident < mrow.id)))
        if filters.get("name") is not None:
            # NOTE: 2.102's name filter, a regular expression searched as
            # Nova's (RE2 here, as the server name filter): applied in Python,
            # so the page is cut here too.
            pat = _filter_regex("name", filters["name"])
            rows = [r.as_dict() for r in s.scalars(q)]
            rows = [r for r in rows if pat.search(r["name"] or "")]
            return rows[:limit] if limit is not None else rows
        if limit is not None:
            q = q.limit(limit)
        return [r.as_dict() for r in s.scalars(q)]


def _public_filter(is_public: bool, project_id: str | None) -> Any:
    clause = models.Flavor.is_public == is_public
    if is_public and project_id is not None:
        clause = sa.or_(clause, models.Flavor.id.in_(
            sa.select(models.FlavorProject.flavor_id).filter_by(project_id=project_id)))
    return clause


@retry_on_db_error
def flavor_accessible(flavorid: str, project_id: str | None) -> bool:
    """Whether the flavor is public or on the project's access list."""
    with _session() as s:
        q = sa.select(models.Flavor.id).filter_by(flavorid=str(flavorid)).where(
            _public_filter(True, project_id))
        return s.scalar(q) is not None


@retry_on_db_error(idempotent=False)
def flavor_create(values: dict) -> dict:
    """Record a flavor; FlavorIdExists/FlavorExists when its id or name is taken."""
    try:
        with _session() as s:
            row = models.Flavor(**values)
            s.add(row)
            s.flush()
            return row.as_dict()
    except sa.exc.IntegrityError:
        with _session() as s:
            taken = s.scalar(sa.select(models.Flavor.id).filter_by(
                flavorid=str(values.get("flavorid"))))
        if taken is not None:
            raise exception.FlavorIdExists(flavor_id=values.get("flavorid")) from None
        raise exception.FlavorExists(name=values.get("name")) from None


@retry_on_db_error
def flavor_update_description(flavorid: str, description: str | None) -> dict:
    """Change a flavor's description (the one field Nova lets change, 2.55)."""
    with _session() as s:
        row = _flavor_row(s, flavorid)
        row.description = description
        s.flush()
        return row.as_dict()


@retry_on_db_error(idempotent=False)
def flavor_destroy(flavorid: str) -> None:
    with _session() as s:
        row = _flavor_row(s, flavorid)
        s.execute(sa.delete(models.FlavorProject).filter_by(flavor_id=row.id))
        s.delete(row)


@retry_on_db_error
def flavor_access_get_by_flavor_id(flavorid: str) -> list[str]:
    """The projects on a flavor's access list."""
    with _session() as s:
        row = _flavor_row(s, flavorid)
        q = (sa.select(models.FlavorProject.project_id).filter_by(flavor_id=row.id)
             .order_by(models.FlavorProject.id))
        return list(s.scalars(q))


@retry_on_db_error(idempotent=False)
def flavor_access_add(flavorid: str, project_id: str) -> None:
    try:
        with _session() as s:
            row = _flavor_row(s, flavorid)
            s.add(models.FlavorProject(flavor_id=row.id, project_id=project_id))
            s.flush()
    except sa.exc.IntegrityError:
        raise exception.FlavorAccessExists(flavor_id=flavorid, project_id=project_id) from None


@retry_on_db_error(idempotent=False)
def flavor_access_remove(flavorid: str, project_id: str) -> None:
    with _session() as s:
        row = _flavor_row(s, flavorid)
        access = s.scalar(sa.select(models.FlavorProject).filter_by(
            flavor_id=row.id, project_id=project_id))
        if access is None:
            raise exception.FlavorAccessNotFound(flavor_id=flavorid, project_id=project_id)
        s.delete(access)


def _flavor_for_update(s: orm.Session, flavorid: str) -> models.Flavor:
    # NOTE: extra specs live in one JSON column, so two writers of different
    # keys must not both read the old value. A no-op UPDATE first takes the
    # row lock on PostgreSQL/MariaDB and the write lock on SQLite, whose
    # driver would otherwise read outside the transaction.
    s.execute(sa.update(models.Flavor).filter_by(flavorid=str(flavorid))
              .values(flavorid=models.Flavor.flavorid))
    row = s.scalar(sa.select(models.Flavor).filter_by(flavorid=str(flavorid))
                   .with_for_update())
    if row is None:
        raise exception.FlavorNotFound(flavor_id=flavorid)
    return row


@retry_on_db_error
def flavor_extra_specs_update(flavorid: str, specs: dict[str, str]) -> dict[str, str]:
    """Add or change extra specs; returns all of the flavor's."""
    with _session() as s:
        row = _flavor_for_update(s, flavorid)
        row.extra_specs = {**(row.extra_specs or {}), **specs}
        return dict(row.extra_specs)


@retry_on_db_error(idempotent=False)
def flavor_extra_specs_delete(flavorid: str, key: str) -> None:
    with _session() as s:
        row = _flavor_for_update(s, flavorid)
        specs = dict(row.extra_specs or {})
        if key not in specs:
            raise exception.FlavorExtraSpecsNotFound(flavor_id=flavorid, extra_specs_key=key)
        del specs[key]
        row.extra_specs = specs


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
    return _instance_insert(values, [])


@retry_on_db_error
def _instance_insert(values: dict, attempts: list[int]) -> dict:
    """Insert the instance row; safe to run again after a lost COMMIT: a
    replay that finds the uuid taken returns the row its first attempt
    recorded (the uuid is this call's own), so a build is recorded once."""
    attempts.append(1)
    try:
        with _session() as s:
            row = models.Instance(**values)
            s.add(row)
            s.flush()
            return _instance_dict(row)
    except sa.exc.IntegrityError:
        if len(attempts) > 1:
            with _session() as s:
                row = s.scalar(_instance_query(values["uuid"]))
                if row is not None:
                    return _instance_dict(row)
        raise


def _instance_query(uuid: str, read_deleted: bool = False,
                    project_id: str | None = None) -> sa.Select:
    q = sa.select(models.Instance).filter_by(uuid=uuid)
    if not read_deleted:
        q = q.filter_by(deleted=0)
    if project_id is not None:
        q = q.filter_by(project_id=project_id)
    return q


@retry_on_db_error
def instance_get_by_uuid(uuid: str, read_deleted: bool = False,
                         project_id: str | None = None) -> dict:
    """The instance; with ``project_id`` only if it belongs to that project
    (otherwise InstanceNotFound, as if it did not exist)."""
    with _session() as s:
        row = s.scalar(_instance_query(uuid, read_deleted, project_id))
        if row is None:
            raise exception.InstanceNotFound(instance_id=uuid)
        return _instance_dict(row)


_SORTABLE = {"created_at", "display_name", "uuid", "id", "updated_at", "host", "vm_state",
             "task_state", "power_state", "launched_at", "terminated_at", "hostname",
             "image_ref", "key_name", "project_id", "user_id", "availability_zone",
             "node", "launch_index", "reservation_id", "access_ip_v4", "access_ip_v6",
             "config_drive", "locked", "deleted_at"}
# NOTE: filters the database cannot apply the same way on every backend
# (regular expressions; a key inside the flavor JSON): applied in Python,
# which makes paging happen in Python too.
_PYTHON_FILTERS = ("display_name", "flavor_id", "ip")


@retry_on_db_error
def instance_get_all_by_filters(filters: dict, sort_key: str = "created_at",
                                sort_dir: str = "desc", limit: int | None = None,
                                marker: str | None = None) -> list[dict]:
    """Filters: project_id, user_id, host, node, vm_state (str or list),
    task_state_not_null, display_name (regex, searched as Nova's
    ``re.search``, applied in Python with RE2 so every backend agrees and
    no pattern can take exponential time), ip (regex matched at the start of
    a fixed address, as Nova's ``re.match``),
    image_ref, flavor_id, changes_since, deleted (bool: deleted ones too),
    only_deleted, uuids,
    reservation_id, updated_before, created_before.

    The marker must be among the rows the filters select (else Invalid
    "marker [x] not found"); the page starts after it.
    """
    if sort_key not in _SORTABLE:
        raise exception.Invalid(reason=f"sort key {sort_key!r} is not supported")
    filters = _with_datetimes(filters, ("changes_since", "created_before", "updated_before"))
    python_side = any(filters.get(k) is not None for k in _PYTHON_FILTERS)
    M = models.Instance
    with _session() as s:
        q = _instance_filters(sa.select(M), filters)
        col = getattr(M, sort_key)
        desc = sort_dir == "desc"
        # NOTE: NULLs first ascending and last descending on every backend
        # (PostgreSQL's default is the opposite; MariaDB has no NULLS FIRST),
        # so the marker's page boundary (``_after``) is the same everywhere.
        nulls = sa.case((col.is_(None), 0), else_=1)
        if desc:
            q = q.order_by(nulls.desc(), col.desc(), M.id.desc())
        else:
            q = q.order_by(nulls.asc(), col.asc(), M.id.asc())
        if python_side:
            rows = _python_filters(s, [_instance_dict(r) for r in s.scalars(q)], filters)
            if marker is not None:
                idx = next((i for i, r in enumerate(rows) if r["uuid"] == marker), None)
                if idx is None:
                    raise exception.Invalid(reason=f"marker [{marker}] not found")
                rows = rows[idx + 1:]
            return rows[:limit] if limit is not None else rows
        if marker is not None:
            mrow = s.scalar(_instance_filters(sa.select(M), filters).where(M.uuid == marker))
            if mrow is None:
                raise exception.Invalid(reason=f"marker [{marker}] not found")
            q = q.where(_after(col, M.id, getattr(mrow, sort_key), mrow.id, desc))
        if limit is not None:
            q = q.limit(limit)
        return [_instance_dict(r) for r in s.scalars(q)]


def _after(col: Any, id_col: Any, value: Any, row_id: int, desc: bool) -> Any:
    """Rows after the marker in (sort key, id) order; NULLs sort first
    ascending and last descending (the ORDER BY makes it so)."""
    if desc:
        if value is None:
            return sa.and_(col.is_(None), id_col < row_id)
        return sa.or_(col < value, col.is_(None), sa.and_(col == value, id_col < row_id))
    if value is None:
        return sa.or_(col.is_not(None), sa.and_(col.is_(None), id_col > row_id))
    return sa.or_(col > value, sa.and_(col == value, id_col > row_id))


def _instance_filters(q: sa.Select, filters: dict) -> sa.Select:
    M = models.Instance
    if not filters.get("deleted") and not filters.get("changes_since"):
        q = q.where(M.deleted == 0)
    if filters.get("only_deleted"):
        q = q.where(M.deleted != 0)
    for key in ("project_id", "user_id", "host", "node", "image_ref", "reservation_id"):
        if filters.get(key) is not None:
            q = q.where(getattr(M, key) == filters[key])
    if filters.get("vm_state") is not None:
        states = filters["vm_state"]
        states = [states] if isinstance(states, str) else list(states)
        q = q.where(M.vm_state.in_(states))
    if filters.get("task_state") is not None:
        tasks = list(filters["task_state"])
        cond = [M.task_state.in_([t for t in tasks if t is not None])]
        if None in tasks:
            cond.append(M.task_state.is_(None))
        q = q.where(sa.or_(*cond))
    if filters.get("host_is_null"):
        q = q.where(M.host.is_(None))
    if filters.get("created_before") is not None:
        q = q.where(M.created_at < filters["created_before"])
    if filters.get("task_state_not_null"):
        q = q.where(M.task_state.is_not(None))
    if filters.get("uuids") is not None:
        q = q.where(M.uuid.in_(list(filters["uuids"])))
    if filters.get("changes_since") is not None:
        q = q.where(sa.func.coalesce(M.updated_at, M.created_at) >= filters["changes_since"])
    if filters.get("updated_before") is not None:
        q = q.where(sa.func.coalesce(M.updated_at, M.created_at) < filters["updated_before"])
    if filters.get("locked") is not None:
        q = q.where(M.locked == bool(filters["locked"]))
    if any(filters.get(k) for k in ("tags", "tags-any", "not-tags", "not-tags-any")):
        from novalite.db import tags

        q = q.where(*tags.instance_tag_filters(filters))
    return q


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


def _filter_regex(name: str, value: str) -> Any:
    """``value`` compiled by RE2, whose matching time is linear in the text.

    NOTE: Python's ``re`` backtracks: ``(a+)+$`` against a few dozen
    characters takes minutes while holding the GIL, which froze the whole
    API process (and, in the all-in-one, every service's heartbeat). The
    databases' own operators are no answer either (MariaDB's PCRE2
    backtracks; PostgreSQL's engine can be exponential too), so every
    backend filters here with RE2. RE2 has no backreferences or lookaround;
    such a pattern is refused with a clear error rather than run slowly.
    """
    import re2

    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(value, options)
    except re2.error as e:
        reason = e.args[0].decode(errors="replace") if e.args and \
            isinstance(e.args[0], bytes) else str(e)
        raise exception.Invalid(reason=f"{name} filter {value!r} is not a valid regular "
                                       f"expression (RE2 syntax: no backreferences or "
                                       f"lookaround): {reason}") from None


def _python_filters(s: orm.Session, rows: list[dict], filters: dict) -> list[dict]:
    if filters.get("display_name"):
        # NOTE: Nova matches the name with re.search and the address with
        # re.match (anchored at its start).
        pat = _filter_regex("name", filters["display_name"])
        rows = [r for r in rows if pat.search(r["display_name"] or "")]
    if filters.get("flavor_id") is not None:
        rows = [r for r in rows if (r["flavor"] or {}).get("flavorid") == str(filters["flavor_id"])]
    if filters.get("ip") is not None:
        pat = _filter_regex("ip", filters["ip"])
        addresses = instance_addresses_get(s, [r["uuid"] for r in rows])
        rows = [r for r in rows
                if any(pat.match(a["address"]) for a in addresses.get(r["uuid"], []))]
    return rows


@retry_on_db_error
def instance_addresses_get(s: orm.Session | None, uuids: list[str]) -> dict[str, list[dict]]:
    """The fixed addresses of many instances in one query:
    ``{uuid: [{address, mac, network_name}, ...]}`` in allocation order:
    the addresses of the ports whose device is the instance."""
    if not uuids:
        return {}
    if s is None:
        with _session() as session:
            return instance_addresses_get(session, uuids)
    out: dict[str, list[dict]] = {}
    port, alloc, network = models.Port, models.IPAllocation, models.Network
    q = (sa.select(port.device_id, alloc.address, port.mac, network.name)
         .join(alloc, alloc.port_id == port.id)
         .join(network, network.id == port.network_id)
         .where(port.device_id.in_(uuids)).order_by(port.id, alloc.id))
    for uuid, address, mac, net_name in s.execute(q):
        out.setdefault(uuid, []).append({"address": address, "mac": mac,
                                         "network_name": net_name})
    return out


def instance_update(uuid: str, values: dict,
                    expected_task_state: Sequence[str | None] | None = None,
                    expected_vm_state: Sequence[str] | None = None,
                    expected_host: str | None = None) -> dict:
    """Update an instance, atomically checking its current states (and,
    with ``expected_host``, its host) first.

    The compare-and-swap is what makes delete-during-build safe: a build step
    that expects task_state SPAWNING fails cleanly once delete set DELETING.
    """
    values = _instance_values(values)
    values["updated_at"] = timeutils.utcnow()
    return _instance_cas(uuid, values, expected_task_state, expected_vm_state, [],
                         expected_host)


@retry_on_db_error
def _instance_cas(uuid: str, values: dict, expected_task_state: Sequence[str | None] | None,
                  expected_vm_state: Sequence[str] | None, attempts: list[int],
                  expected_host: str | None = None) -> dict:
    """``instance_update``'s transaction; safe to run again after a lost
    COMMIT: a replay whose states no longer match finds the row already
    holding every value it sets (its first attempt was recorded) and
    succeeds instead of reporting a conflict with itself."""
    attempts.append(1)
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
        if expected_host is not None:
            stmt = stmt.where(M.host == expected_host)
        result: Any = s.execute(stmt.values(**values).execution_options(synchronize_session=False))
        row = s.scalar(_instance_query(uuid))
        if row is None:
            raise exception.InstanceNotFound(instance_id=uuid)
        if result.rowcount == 0 and len(attempts) > 1 and all(
                getattr(row, k) == v for k, v in values.items() if k != "updated_at"):
            return _instance_dict(row)
        if result.rowcount == 0:
            from novalite.compute import task_states  # local: avoid an import cycle

            if row.task_state == task_states.DELETING:
                raise exception.UnexpectedDeletingTaskState(instance_uuid=uuid)
            raise exception.Conflict(
                reason=f"instance {uuid} is in vm_state {row.vm_state} task_state "
                       f"{row.task_state} on host {row.host}; expected task_state "
                       f"{expected_task_state} vm_state {expected_vm_state}"
                       + (f" host {expected_host}" if expected_host is not None else ""))
        if "host" in values:
            # NOTE: its ports' binding follows the server to its new host, and
            # goes with it (shelve offload), as Nova's migrate_instance_finish
            # and unbinding do with Neutron's binding:host_id.
            port = models.Port
            s.execute(sa.update(port)
                      .where(port.device_id == uuid, port.device_owner.like("compute:%"))
                      .values(binding_host=values["host"],
                              status="ACTIVE" if values["host"] else "DOWN")
                      .execution_options(synchronize_session=False))
        return _instance_dict(row)


@retry_on_db_error(idempotent=False)
def instance_destroy(uuid: str) -> dict:
    with _session() as s:
        row = s.scalar(_instance_query(uuid))
        if row is None:
            raise exception.InstanceNotFound(instance_id=uuid)
        _soft_delete(row)
        row.vm_state = "deleted"
        row.task_state = None
        row.terminated_at = timeutils.utcnow()
        # NOTE: as Nova's instance_destroy: a deleted server keeps no tags.
        s.execute(sa.delete(models.Tag).where(models.Tag.resource_id == uuid))
        s.flush()
        return _instance_dict(row)


@retry_on_db_error(idempotent=False)
def instance_metadata_update(uuid: str, change: Callable[[dict, str], dict]) -> dict:
    """Replace an instance's metadata with ``change(current metadata,
    vm_state)``, read and written in one transaction with the row locked, so
    two writers of different keys both land (no read-then-write race).
    ``change`` may raise to refuse (quota, state); nothing is written then."""
    with _session() as s:
        M = models.Instance
        # NOTE: as _flavor_for_update: the no-op UPDATE takes the row lock on
        # PostgreSQL/MariaDB and the write lock on SQLite before the read.
        s.execute(sa.update(M).where(M.uuid == uuid, M.deleted == 0)
                  .values(uuid=M.uuid).execution_options(synchronize_session=False))
        row = s.scalar(_instance_query(uuid).with_for_update())
        if row is None:
            raise exception.InstanceNotFound(instance_id=uuid)
        row.metadata_ = dict(change(dict(row.metadata_ or {}), row.vm_state))
        row.updated_at = timeutils.utcnow()
        s.flush()
        return _instance_dict(row)


@retry_on_db_error
def instance_count_by_project(project_id: str) -> int:
    with _session() as s:
        q = sa.select(sa.func.count()).select_from(models.Instance).filter_by(
            project_id=project_id, deleted=0)
        return int(s.scalar(q) or 0)


# -- instance faults --------------------------------------------------------

@retry_on_db_error(idempotent=False)
def instance_fault_create(values: dict) -> dict:
    with _session() as s:
        row = models.InstanceFault(**values)
        s.add(row)
        s.flush()
        return row.as_dict()


@retry_on_db_error
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

@retry_on_db_error(idempotent=False)
def image_create(values: dict) -> dict:
    values = dict(values)
    values.setdefault("uuid", uuidutils.generate_uuid())
    with _session() as s:
        row = models.Image(**values)
        s.add(row)
        s.flush()
        return row.as_dict()


@retry_on_db_error
def image_get(image_id: str) -> dict:
    with _session() as s:
        row = s.scalar(sa.select(models.Image).filter_by(uuid=image_id, deleted=0))
        if row is None:
            raise exception.ImageNotFound(image_id=image_id)
        return row.as_dict()


@retry_on_db_error
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


@retry_on_db_error(idempotent=False)
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


@retry_on_db_error(idempotent=False)
def image_destroy(image_id: str) -> dict:
    with _session() as s:
        row = s.scalar(sa.select(models.Image).filter_by(uuid=image_id, deleted=0))
        if row is None:
            raise exception.ImageNotFound(image_id=image_id)
        _soft_delete(row)
        row.status = "deleted"
        s.flush()
        return row.as_dict()
