"""Database calls survive the server dropping their connection and deadlocks
(issue 10, item 11), on the real PostgreSQL and MariaDB.

The server really drops the connection: an admin connection terminates the
backend (``pg_terminate_backend`` / ``KILL``) at the chosen moment of the
call, found with SQLAlchemy's engine events. Deadlocks are real ones between
two threads."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pymysql
import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from novalite import exception
from novalite.conf import CONF
from novalite.db import api as db
from novalite.db import quotas as db_quotas
from novalite.db.api import _session
from novalite.db.retry import classify, retry_on_db_error

BACKENDS = pytest.mark.parametrize("database_url", ["postgresql", "mariadb"], indirect=True)


@pytest.fixture(autouse=True)
def quick_retries():
    for name, value in (("db_retry_interval", 0.05), ("db_max_retry_interval", 0.2)):
        CONF.set_override(name, value, group="database")
    yield
    for name in ("db_retry_interval", "db_max_retry_interval", "db_max_retries"):
        CONF.clear_override(name, group="database")


def _kill(dbapi_conn: Any) -> None:
    """Have the server drop this connection, from an admin connection."""
    if isinstance(dbapi_conn, psycopg.Connection):
        pid = dbapi_conn.info.backend_pid
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                             autocommit=True, connect_timeout=5) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    else:
        thread_id = dbapi_conn.thread_id()
        admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="",
                                connect_timeout=5, autocommit=True)
        try:
            with admin.cursor() as cur:
                cur.execute(f"KILL {int(thread_id)}")
        finally:
            admin.close()


@contextlib.contextmanager
def killing(event: str, times: int = 1,
            when: Callable[[str], bool] = lambda stmt: True) -> Iterator[list[str]]:
    """Drop the connection at ``event`` ('before_cursor_execute' for a
    statement ``when`` accepts, or 'commit'), ``times`` times."""
    engine = db.get_engine()
    killed: list[str] = []

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if len(killed) < times and when(statement):
            killed.append(statement)
            _kill(conn.connection.dbapi_connection)

    def on_commit(conn: Any) -> None:
        if len(killed) < times:
            killed.append("COMMIT")
            _kill(conn.connection.dbapi_connection)

    fn = on_execute if event == "before_cursor_execute" else on_commit
    sa.event.listen(engine, event, fn)
    try:
        yield killed
    finally:
        sa.event.remove(engine, event, fn)


def _instance(**kw: Any) -> dict:
    return db.instance_create({"project_id": "p", "user_id": "u", "vm_state": "building",
                               "task_state": "scheduling", "display_name": "retry", **kw})


@BACKENDS
def test_update_survives_the_server_dropping_its_connection_mid_transaction(synced):
    inst = _instance()
    with killing("before_cursor_execute", when=lambda s: s.startswith("UPDATE")) as killed:
        out = db.instance_update(inst["uuid"], {"task_state": "spawning"},
                                 expected_task_state=["scheduling"])
    assert killed, "the connection was never dropped: the test proved nothing"
    assert out["task_state"] == "spawning"
    assert db.instance_get_by_uuid(inst["uuid"])["task_state"] == "spawning"


@BACKENDS
def test_create_dropped_before_commit_is_recorded_once(synced):
    with killing("before_cursor_execute", when=lambda s: s.startswith("INSERT")) as killed:
        inst = _instance(display_name="once")
    assert killed
    rows = db.instance_get_all_by_filters({"display_name": "^once$"})
    assert [r["uuid"] for r in rows] == [inst["uuid"]]


@BACKENDS
def test_server_record_whose_commit_was_lost_is_recorded_once(synced):
    """A lost COMMIT may or may not have been recorded; the retry finds out
    by the instance's own uuid instead of recording a second server."""
    with killing("commit") as killed:
        inst = _instance(display_name="ambiguous")
    assert killed == ["COMMIT"]
    rows = db.instance_get_all_by_filters({"display_name": "^ambiguous$"})
    assert [r["uuid"] for r in rows] == [inst["uuid"]]


@contextlib.contextmanager
def answer_lost_after_commit() -> Iterator[list[str]]:
    """The other side of a lost COMMIT: the server recorded it, the answer
    never came. The only fabricated part is that answer: after the real
    commit the connection is really dropped and the error it would have
    given is raised from the commit."""
    from sqlalchemy import orm

    lost: list[str] = []
    conns: list[Any] = []

    def before(session: Any) -> None:
        conns.append(session.connection().connection.dbapi_connection)

    def answer_lost(session: Any) -> None:
        if not lost:
            lost.append("after COMMIT")
            _kill(conns[-1])
            raise sa_exc.OperationalError("COMMIT", {}, _DroppedAnswer(
                "server closed the connection unexpectedly"), connection_invalidated=True)

    sa.event.listen(orm.Session, "before_commit", before)
    sa.event.listen(orm.Session, "after_commit", answer_lost)
    try:
        yield lost
    finally:
        sa.event.remove(orm.Session, "after_commit", answer_lost)
        sa.event.remove(orm.Session, "before_commit", before)


@BACKENDS
def test_server_record_committed_but_its_answer_lost_is_not_recorded_twice(synced):
    with answer_lost_after_commit() as lost:
        inst = _instance(display_name="committed")
    assert lost
    rows = db.instance_get_all_by_filters({"display_name": "^committed$"})
    assert [r["uuid"] for r in rows] == [inst["uuid"]]


@BACKENDS
def test_state_change_committed_but_its_answer_lost_is_no_conflict(synced):
    """A build step's compare-and-swap whose first attempt was recorded: the
    replay finds the state already moved (by itself) and succeeds."""
    inst = _instance()
    with answer_lost_after_commit() as lost:
        out = db.instance_update(inst["uuid"], {"task_state": "spawning"},
                                 expected_task_state=["scheduling"])
    assert lost
    assert out["task_state"] == "spawning"
    # while a real conflict is still one
    with pytest.raises(exception.Conflict):
        db.instance_update(inst["uuid"], {"task_state": "networking"},
                           expected_task_state=["scheduling"])


class _DroppedAnswer(Exception):
    sqlstate = None


@BACKENDS
def test_create_whose_commit_was_lost_is_not_replayed(synced):
    """Rows without a key of their own (here a fault) are not created twice:
    the lost COMMIT's error is returned instead."""
    inst = _instance()
    with killing("commit") as killed, pytest.raises(sa_exc.DBAPIError) as info:
        db.instance_fault_create({"instance_uuid": inst["uuid"], "code": 500,
                                  "message": "boom"})
    assert killed == ["COMMIT"]
    assert classify(info.value) == "disconnect"
    assert len(db.instance_fault_get_by_instance_uuids([inst["uuid"]], latest=False)
               [inst["uuid"]]) <= 1


@BACKENDS
def test_idempotent_update_whose_commit_was_lost_is_run_again(synced):
    db.flavor_create({"flavorid": "r1", "name": "retry", "vcpus": 1, "memory_mb": 64,
                      "root_gb": 1})
    with killing("commit") as killed:
        specs = db.flavor_extra_specs_update("r1", {"hw:a": "1"})
    assert killed == ["COMMIT"]
    assert specs == {"hw:a": "1"}
    assert db.flavor_get_by_flavor_id("r1")["extra_specs"] == {"hw:a": "1"}


@BACKENDS
def test_retries_are_bounded(synced):
    CONF.set_override("db_max_retries", 2, group="database")
    with killing("before_cursor_execute", times=100,
                 when=lambda s: s.startswith("SELECT") and "instances" in s) as killed:
        with pytest.raises(sa_exc.DBAPIError):
            db.instance_get_all_by_filters({})
    assert len(killed) == 3, killed


@BACKENDS
def test_quota_lock_holder_survives_losing_the_lock_connection(synced):
    """A restart drops the lock's connection mid-hold; the holder's work is
    done and the lock is gone with it: leaving the block is no error."""
    with killing("before_cursor_execute",
                 when=lambda s: "unlock" in s.lower() or "release_lock" in s.lower()) as killed:
        with db_quotas.project_lock("p-lock"):
            _instance(display_name="under-lock")
    assert len(killed) == 1, killed
    # and the lock can be taken again at once
    with db_quotas.project_lock("p-lock", timeout=5):
        pass


@retry_on_db_error
def _lock_two(first: int, second: int, barrier: threading.Barrier, attempts: list) -> None:
    attempts.append(first)
    with _session() as s:
        M = sa.table("instances", sa.column("id"), sa.column("display_name"))
        s.execute(sa.update(M).where(M.c.id == first).values(display_name=f"t{first}"))
        if len(attempts) <= 2:
            barrier.wait(timeout=10)
        s.execute(sa.update(M).where(M.c.id == second).values(display_name=f"t{first}"))


@BACKENDS
def test_deadlock_victim_is_run_again(synced):
    a, b = _instance(), _instance()
    ids = [db.instance_get_by_uuid(x["uuid"]) for x in (a, b)]
    id_a, id_b = (int(i["id"]) for i in ids)
    barrier = threading.Barrier(2)
    attempts: list = []
    errors: list = []

    def run(first: int, second: int) -> None:
        try:
            _lock_two(first, second, barrier, attempts)
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(id_a, id_b)),
               threading.Thread(target=run, args=(id_b, id_a))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(attempts) == 3, f"expected one deadlock victim run again: {attempts}"


@BACKENDS
def test_a_port_release_whose_commit_was_lost_is_run_again(synced):
    """A build's network step releases what an earlier attempt made; a
    PostgreSQL restart at that COMMIT put a build in ERROR (CI, 2026-12-07).
    Run again, the release ends with the ports gone, whatever the first
    attempt did (a second run finds nothing left to change)."""
    from novalite.db import network as db_network
    from novalite.network import manage

    net = manage.create_network("retry", "10.96.0.0/28", bridge="nlretry0")
    db_network.fixed_ip_allocate(net["uuid"], "inst-retry", "h")
    with killing("commit") as killed:
        released = db_network.fixed_ip_release_by_instance("inst-retry")
    assert killed == ["COMMIT"]
    assert released == 1
    assert db_network.port_get_all(device_id="inst-retry") == []
    assert db_network.fixed_ip_release_by_instance("inst-retry") == 0
