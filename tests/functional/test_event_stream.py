"""GET /dashboard/events: the versioned notifications as a Server-Sent
Events stream, through the whole in-process stack (token auth): a member
gets their project's instance events and no other project's, an admin
every project's (with hosts), no token is 401, and the API bounds the
streams (how many, how long, keep-alives)."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from novalite.conf import CONF
from tests.functional.stack import Stack

PATH = "/dashboard/events"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # NOTE: a keep-alive each second: the API notices a closed stream within
    # a second (and the client's close, which waits for its reader's read).
    s = Stack(str(tmp_path_factory.mktemp("events")), auth="novalite",
              overrides={("notifications", "event_stream_keepalive"): 1}).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def override() -> Iterator[Any]:
    done: list[str] = []

    def set_(name: str, value: Any) -> None:
        CONF.set_override(name, value, group="notifications")
        done.append(name)

    yield set_
    for name in done:
        CONF.clear_override(name, group="notifications")


class Reader:
    """One open stream, parsed on a thread: ``events`` gets (event, data)
    pairs, ``comments`` the comment lines; ``ended`` is set at its end."""

    def __init__(self, stack: Stack, session: requests.Session) -> None:
        self.resp = session.get(stack.base_url + PATH, stream=True, timeout=30)
        self.events: queue.Queue[tuple[str, dict]] = queue.Queue()
        self.comments: queue.Queue[str] = queue.Queue()
        self.ended = threading.Event()
        if self.resp.status_code == 200:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        event, data = None, []
        try:
            for raw in self.resp.iter_lines(chunk_size=None):
                line = raw.decode()
                if line.startswith(":"):
                    self.comments.put(line[1:].strip())
                elif line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and event is not None:
                    self.events.put((event, json.loads("\n".join(data))))
                    event, data = None, []
        except (requests.RequestException, OSError, AttributeError):
            # NOTE: AttributeError: the response closed under the reader.
            pass
        finally:
            self.ended.set()

    def until(self, pred: Any, timeout: float = 20.0) -> list[tuple[str, dict]]:
        """Events read until one matches ``pred`` (that one included)."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no matching event within {timeout} s; seen {seen}"
            try:
                item = self.events.get(timeout=left)
            except queue.Empty:
                continue
            seen.append(item)
            if pred(item):
                return seen

    def close(self) -> None:
        self.resp.close()


def _data(message: dict) -> dict:
    return message["payload"]["nova_object.data"]


def _boot_and_delete(stack: Stack, session: requests.Session, name: str) -> str:
    body = {"server": {"name": name, "flavorRef": "1", "imageRef": stack.image_id}}
    resp = stack.compute("POST", "/servers", body, session=session)
    assert resp.status_code == 202, resp.text
    server_id = resp.json()["server"]["id"]
    stack.wait_status(server_id, "ACTIVE")
    assert stack.compute("DELETE", f"/servers/{server_id}", session=session).status_code == 204
    stack.wait_gone(server_id)
    return server_id


def test_no_token_is_401_in_novas_error_format(stack: Stack) -> None:
    resp = requests.get(stack.base_url + PATH, timeout=10)
    assert resp.status_code == 401
    assert resp.json()["unauthorized"]["code"] == 401


def test_streams_are_capped_and_a_freed_slot_is_reused(stack: Stack, override: Any) -> None:
    override("max_event_streams", 1)
    first = Reader(stack, stack.session)
    try:
        assert first.resp.status_code == 200, first.resp.text
        second = Reader(stack, stack.session)
        assert second.resp.status_code == 503, second.resp.text
        assert second.resp.headers["Retry-After"] == "5"
        assert "1 event stream" in second.resp.json()["serviceUnavailable"]["message"]
    finally:
        first.close()
    # NOTE: the API finds the client gone at its next keep-alive (1 s).
    deadline = time.monotonic() + 10
    while True:
        third = Reader(stack, stack.session)
        if third.resp.status_code == 200:
            third.close()
            break
        assert time.monotonic() < deadline, "the closed stream's slot was never freed"
        time.sleep(0.2)


def test_stream_sends_keepalives_and_ends_after_its_time(stack: Stack, override: Any) -> None:
    override("event_stream_seconds", 3)
    started = time.monotonic()
    reader = Reader(stack, stack.session)
    try:
        assert reader.resp.status_code == 200
        assert reader.ended.wait(10), "the stream did not end"
    finally:
        reader.close()
    assert 2.5 < time.monotonic() - started < 8
    comments = []
    while not reader.comments.empty():
        comments.append(reader.comments.get())
    assert comments.count("keep-alive") >= 1, comments


def test_member_gets_their_servers_events_and_not_another_projects(stack: Stack) -> None:
    alice = stack.make_user("alice", "proj-a")
    bob = stack.make_user("bob", "proj-b")
    a_session = stack.login("alice", alice["password"], "proj-a")
    b_session = stack.login("bob", bob["password"], "proj-b")
    reader = Reader(stack, a_session)
    try:
        assert reader.resp.status_code == 200, reader.resp.text
        assert reader.resp.headers["Content-Type"].startswith("text/event-stream")
        theirs = _boot_and_delete(stack, b_session, "bobs")
        mine = _boot_and_delete(stack, a_session, "alices")
        seen = reader.until(lambda e: e[0] == "instance.delete.end"
                            and _data(e[1])["uuid"] == mine)
    finally:
        reader.close()
    uuids = {_data(m)["uuid"] for _, m in seen}
    assert theirs not in uuids and uuids == {mine}
    types = [t for t, _ in seen]
    for expected in ("instance.create.start", "instance.create.end",
                     "instance.delete.start", "instance.delete.end"):
        assert expected in types, types
    assert types.index("instance.create.start") < types.index("instance.create.end") \
        < types.index("instance.delete.start")
    end = dict(seen)["instance.create.end"]
    assert end["priority"] == "INFO" and end["event_type"] == "instance.create.end"
    assert end["payload"]["nova_object.name"] == "InstanceCreatePayload"
    assert end["payload"]["nova_object.namespace"] == "nova"
    data = _data(end)
    assert data["state"] == "active" and data["tenant_id"] == alice["project_id"]
    assert data["display_name"] == "alices" and data["power_state"] == "running"
    # NOTE: a member does not see where the guest runs.
    assert data["host"] is None and data["node"] is None
    assert end["publisher_id"] == "novalite-compute"
    assert data["flavor"]["nova_object.name"] == "FlavorPayload"


def test_admin_gets_every_projects_events_with_hosts(stack: Stack) -> None:
    carol = stack.make_user("carol", "proj-c")
    session = stack.login("carol", carol["password"], "proj-c")
    reader = Reader(stack, stack.session)
    try:
        assert reader.resp.status_code == 200, reader.resp.text
        server_id = _boot_and_delete(stack, session, "carols")
        seen = reader.until(lambda e: e[0] == "instance.create.end"
                            and _data(e[1])["uuid"] == server_id)
    finally:
        reader.close()
    message = seen[-1][1]
    assert _data(message)["host"] == "host1"
    assert message["publisher_id"] == "novalite-compute:host1"


def test_action_ends_show_the_saved_state_and_cost_no_conductor_read(
        stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """instance.create.end shows ACTIVE and instance.power_off.end stopped
    with no task state (sent after the action's save, as Nova's); the
    build's notifications read no network info through the conductor (they
    use the ports the build allocated)."""
    from novalite.conductor import rpcapi as conductor_rpcapi

    calls: list[tuple[str, str]] = []
    real = conductor_rpcapi.ConductorAPI.object_class_action_versions

    def counting(self: Any, context: Any, objname: str, objmethod: str,
                 *args: Any, **kwargs: Any) -> Any:
        calls.append((objname, objmethod))
        return real(self, context, objname, objmethod, *args, **kwargs)

    monkeypatch.setattr(conductor_rpcapi.ConductorAPI, "object_class_action_versions",
                        counting)
    dave = stack.make_user("dave", "proj-d")
    session = stack.login("dave", dave["password"], "proj-d")
    reader = Reader(stack, session)
    try:
        assert reader.resp.status_code == 200, reader.resp.text
        body = {"server": {"name": "daves", "flavorRef": "1", "imageRef": stack.image_id}}
        resp = stack.compute("POST", "/servers", body, session=session)
        assert resp.status_code == 202, resp.text
        server_id = resp.json()["server"]["id"]
        seen = reader.until(lambda e: e[0] == "instance.create.end"
                            and _data(e[1])["uuid"] == server_id)
        build_reads = [c for c in calls if c == ("InstanceInfoCache", "get_by_instance_uuid")]
        stack.wait_status(server_id, "ACTIVE")
        resp = stack.compute("POST", f"/servers/{server_id}/action", {"os-stop": None},
                             session=session)
        assert resp.status_code == 202, resp.text
        seen += reader.until(lambda e: e[0] == "instance.power_off.end"
                             and _data(e[1])["uuid"] == server_id)
        stack.wait_status(server_id, "SHUTOFF")
        assert stack.compute("DELETE", f"/servers/{server_id}",
                             session=session).status_code == 204
        seen += reader.until(lambda e: e[0] == "instance.delete.end"
                             and _data(e[1])["uuid"] == server_id)
        stack.wait_gone(server_id)
    finally:
        reader.close()
    assert build_reads == [], calls
    got = {t: _data(m) for t, m in seen}
    create = got["instance.create.end"]
    assert (create["state"], create["task_state"]) == ("active", None)
    start = got["instance.power_off.start"]
    assert (start["state"], start["task_state"]) == ("active", "powering-off")
    end = got["instance.power_off.end"]
    assert (end["state"], end["task_state"], end["power_state"]) == \
        ("stopped", None, "shutdown")
    # NOTE: this stack has no network (no ports): the addresses are the same.
    assert end["ip_addresses"] == create["ip_addresses"]
    deleted = got["instance.delete.end"]
    assert deleted["state"] == "deleted" and deleted["deleted_at"] is not None
