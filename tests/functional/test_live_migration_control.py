"""A running live migration through the HTTP API on the FakeDriver: force
complete (2.22), abort (2.24) and abort before it copies (2.65).

The fake's copy takes [fake_driver] live_migration_delay (long here), so the
migration stays ``running`` until the test forces or aborts it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from novalite import context as nl_context
from novalite.compute import task_states
from novalite.objects import migration as mig
from novalite.objects.instance import Instance
from tests.functional.stack import Stack

HEADER = "OpenStack-API-Version"
HOSTS = ("lmc-a", "lmc-b")


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    s = Stack(str(tmp_path_factory.mktemp("lmc")), auth="novalite",
              computes=[(h, "fake.FakeDriver") for h in HOSTS],
              overrides={("fake_driver", "live_migration_delay"): 600.0})
    s.start()
    try:
        yield s
    finally:
        _release_fake_copies(s)
        s.stop()


def _release_fake_copies(s: Stack) -> None:
    """A test that failed half-way may leave a fake copy waiting (a delete
    would wait for it): let it finish."""
    for svc in s.computes.values():
        driver = getattr(getattr(svc, "manager", None), "driver", None)
        for job in list(getattr(driver, "_lm_jobs", {}).values()):
            job.done.set()


def call(stack: Stack, version: str | None, method: str, path: str, body: Any = None) -> Any:
    headers = {HEADER: f"compute {version}"} if version else {}
    return stack.compute(method, path, body, headers=headers)


def message(resp: Any, code: int) -> str:
    assert resp.status_code == code, resp.text
    return str(next(iter(resp.json().values()))["message"])


def _poll(what: str, fn: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.1)


@pytest.fixture
def server(stack: Stack) -> Iterator[dict]:
    created = call(stack, "2.52", "POST", "/servers", {"server": {
        "name": "lmc", "flavorRef": "1", "imageRef": stack.image_id, "networks": "none"}})
    assert created.status_code == 202, created.text
    sid = created.json()["server"]["id"]
    server = stack.wait_status(sid, "ACTIVE")
    try:
        yield server
    finally:
        _release_fake_copies(stack)
        call(stack, None, "DELETE", f"/servers/{sid}")
        stack.wait_gone(sid)


def _live_migrate(stack: Stack, sid: str) -> dict:
    """Start a live migration; the migration once it is running."""
    resp = call(stack, "2.25", "POST", f"/servers/{sid}/action",
                {"os-migrateLive": {"host": None, "block_migration": "auto"}})
    assert resp.status_code == 202, resp.text

    def running() -> dict | None:
        listed = call(stack, "2.59", "GET", f"/servers/{sid}/migrations").json()["migrations"]
        return next((m for m in listed if m["status"] == "running"), None)

    return dict(_poll("running", running))


def _migration(stack: Stack, mid: int) -> dict:
    listed = call(stack, "2.59", "GET", "/os-migrations").json()["migrations"]
    return next(m for m in listed if m["id"] == mid)


def _events(stack: Stack, sid: str, action: str) -> dict[str, str]:
    actions = call(stack, None, "GET", f"/servers/{sid}/os-instance-actions").json()[
        "instanceActions"]
    req = next(a["request_id"] for a in actions if a["action"] == action)
    detail = call(stack, "2.51", "GET",
                  f"/servers/{sid}/os-instance-actions/{req}").json()["instanceAction"]
    return {e["event"]: e["result"] for e in detail["events"]}


def test_2_22_force_complete_finishes_the_running_migration(stack, server):
    sid, source = server["id"], server["OS-EXT-SRV-ATTR:host"]
    migration = _live_migrate(stack, sid)
    path = f"/servers/{sid}/migrations/{migration['id']}/action"
    # NOTE: no such API before 2.22; bodies as Nova's.
    assert call(stack, "2.21", "POST", path, {"force_complete": None}).status_code == 404
    assert message(call(stack, "2.22", "POST", path, {"force_complete": {}}), 400)
    assert message(call(stack, "2.22", "POST", path, {"finish": None}), 400) == \
        "There is no such action: finish"
    assert message(call(stack, "2.22", "POST", f"/servers/{sid}/migrations/99999/action",
                        {"force_complete": None}), 400) == \
        f"Migration 99999 not found for instance {sid}"
    # NOTE: still running: the fake's copy waits for the force.
    assert _migration(stack, migration["id"])["status"] == "running"

    resp = call(stack, "2.22", "POST", path, {"force_complete": None})
    assert resp.status_code == 202 and not resp.content
    done = _poll("completed", lambda: _migration(stack, migration["id"])["status"]
                 == "completed" and _migration(stack, migration["id"]))
    dest = next(h for h in HOSTS if h != source)
    assert done["dest_compute"] == dest
    shown = stack.wait_status(sid, "ACTIVE")
    assert shown["OS-EXT-SRV-ATTR:host"] == dest and shown["OS-EXT-STS:task_state"] is None
    assert _events(stack, sid, "live_migration_force_complete") == {
        "compute_live_migration_force_complete": "Success"}
    # NOTE: nothing is migrating any more: Nova's 409 for the task state.
    assert "task_state None" in message(call(stack, "2.22", "POST", path,
                                             {"force_complete": None}), 409)


def test_2_24_abort_cancels_the_running_migration(stack, server):
    sid, source = server["id"], server["OS-EXT-SRV-ATTR:host"]
    migration = _live_migrate(stack, sid)
    path = f"/servers/{sid}/migrations/{migration['id']}"
    assert call(stack, "2.23", "DELETE", path).status_code == 404
    assert message(call(stack, "2.24", "DELETE", f"/servers/{sid}/migrations/99999"), 404) \
        == f"Migration 99999 not found for instance {sid}"

    resp = call(stack, "2.24", "DELETE", path)
    assert resp.status_code == 202 and not resp.content
    cancelled = _poll("cancelled", lambda: _migration(stack, migration["id"])["status"]
                      == "cancelled")
    assert cancelled
    shown = _poll("no task", lambda: (lambda s: s if s["OS-EXT-STS:task_state"] is None
                                      else None)(stack.server(sid)))
    assert shown["status"] == "ACTIVE" and shown["OS-EXT-SRV-ATTR:host"] == source
    assert "fault" not in shown
    assert call(stack, "2.23", "GET", f"/servers/{sid}/migrations").json() == {
        "migrations": []}
    assert _events(stack, sid, "live_migration_cancel") == {
        "compute_live_migration_abort": "Success"}
    # NOTE: the guest never left: it still answers on the source.
    console = call(stack, None, "POST", f"/servers/{sid}/action",
                   {"os-getConsoleOutput": {"length": 1}})
    assert console.status_code == 200
    assert "task_state None" in message(call(stack, "2.24", "DELETE", path), 409)


def test_2_65_abort_of_a_preparing_migration(stack, server):
    """A migration the conductor placed but the source has not started
    (status preparing): 400 before 2.65, cancelled from 2.65; the source
    then ignores the late start."""
    sid, source = server["id"], server["OS-EXT-SRV-ATTR:host"]
    ctx = nl_context.get_admin_context()
    instance = Instance.get_by_uuid(ctx, sid)
    instance.task_state = task_states.MIGRATING
    instance.save(expected_task_state=[None])
    dest = next(h for h in HOSTS if h != source)
    migration = mig.Migration(
        context=ctx, instance_uuid=sid, migration_type=mig.LIVE_MIGRATION,
        status=mig.PREPARING, source_compute=source, source_node=instance.node,
        dest_compute=dest, dest_node=dest, old_instance_type_id=instance.flavor.id,
        new_instance_type_id=instance.flavor.id, user_id=instance.user_id,
        project_id=instance.project_id)
    migration.create()
    path = f"/servers/{sid}/migrations/{migration.id}"
    assert message(call(stack, "2.64", "DELETE", path), 400) == (
        f"Migration {migration.id} state of instance {sid} is preparing. Cannot abort live "
        "migration while the migration is in this state.")
    resp = call(stack, "2.65", "DELETE", path)
    assert resp.status_code == 202
    _poll("cancelled", lambda: _migration(stack, migration.id)["status"] == "cancelled")
    _poll("no task", lambda: stack.server(sid)["OS-EXT-STS:task_state"] is None)
    # NOTE: the conductor's cast arriving late finds nothing to do.
    from novalite.compute import rpcapi

    rpcapi.ComputeAPI().live_migration(ctx, Instance.get_by_uuid(ctx, sid),
                                       mig.Migration.get_by_id(ctx, migration.id), dest)
    assert call(stack, "2.65", "DELETE", path).status_code == 409
    shown = stack.wait_status(sid, "ACTIVE")
    assert shown["OS-EXT-SRV-ATTR:host"] == source
    assert _migration(stack, migration.id)["status"] == "cancelled"


def test_abort_and_force_complete_are_admin_only(stack, server):
    user = stack.make_user("lmc-member", "admin", "member")
    session = stack.login("lmc-member", user["password"], "admin")
    sid = server["id"]
    resp = stack.compute("DELETE", f"/servers/{sid}/migrations/1",
                         headers={HEADER: "compute 2.65"}, session=session)
    assert resp.status_code == 403
    resp = stack.compute("POST", f"/servers/{sid}/migrations/1/action",
                         {"force_complete": None}, headers={HEADER: "compute 2.22"},
                         session=session)
    assert resp.status_code == 403
