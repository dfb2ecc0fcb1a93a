"""Fault run: the conductor stops for 90 s (separate processes, RabbitMQ +
PostgreSQL, FakeDriver) while builds run and while more are asked for.

Nothing is lost: builds in flight on the computes wait for their conductor
calls ([conductor] call_timeout) or send again one the stopping conductor
dropped, builds asked for meanwhile wait in the conductor's durable queue; the computes, whose heartbeats could not be
recorded, are not taken for dead; every build ends ACTIVE once the conductor
is back."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.cluster import Cluster
from tests.integration import services
from tests.procs import wait_until

COMPUTES = ["compute-x", "compute-y"]
OUTAGE = 90.0  # the figure
RESUME_TIMEOUT = 60.0
# NOTE: one attempt of a conductor call outlasts the outage, so calls queued
# meanwhile are answered once; a call the stopping conductor dropped is sent
# again after 100 s, 10 s after the conductor is back.
COMPUTE_OPTS = {"fake_driver": {"spawn_delay": 3.0}, "conductor": {"call_timeout": 100}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: Any) -> Any:
    tmp = str(tmp_path_factory.mktemp("conductor-stop"))
    with services.rabbitmq_vhost() as mq, services.postgres_database() as db:
        c = Cluster(tmp, mq, db).prepare()
        c.connect()
        try:
            c.manage("network", "create", "stopnet", "--cidr", "10.67.0.0/24", "--bridge",
                     "nlstop0")
            c.start_control_plane(COMPUTES, COMPUTE_OPTS)
            yield c
        finally:
            c.stop_all()


def _boot(c: Cluster, names: list[str]) -> list[str]:
    ids = []
    for name in names:
        resp = c.api("POST", "/servers", {"server": {"name": name, "flavorRef": "1",
                                                       "imageRef": c.image_id}})
        assert resp.status_code == 202, resp.text
        ids.append(resp.json()["server"]["id"])
    return ids


def _compute_states(c: Cluster) -> dict[str, str]:
    services_ = c.api("GET", "/os-services").json()["services"]
    return {s["host"]: s["state"] for s in services_ if s["binary"] == "nova-compute"}


def test_conductor_stopped_for_90s_during_builds_loses_nothing(cluster) -> None:
    c = cluster
    pids = {h: c.procs[h].pid for h in COMPUTES}
    in_flight = _boot(c, [f"in-flight-{i}" for i in range(8)])
    wait_until(lambda: sum(s["OS-EXT-STS:task_state"] in ("networking", "spawning")
                           for s in c.servers().values()) >= 2, 30,
               "builds in flight on the computes", interval=0.05)

    conductor = c.procs["conductor"]
    stopped_at = time.monotonic()
    conductor.stop()
    asked_during = _boot(c, [f"during-early-{i}" for i in range(6)])
    time.sleep(max(0.0, stopped_at + OUTAGE / 2 - time.monotonic()))
    asked_during += _boot(c, [f"during-late-{i}" for i in range(6)])
    time.sleep(max(0.0, stopped_at + OUTAGE - 5 - time.monotonic()))
    servers = c.servers()
    assert not [s for s in servers.values() if s["status"] == "ERROR"], \
        "nothing fails while the conductor is away"
    assert time.monotonic() - stopped_at < OUTAGE
    time.sleep(max(0.0, stopped_at + OUTAGE - time.monotonic()))

    c.start("novalite-conductor", "conductor")
    back = time.monotonic()
    ids = set(in_flight + asked_during)

    def all_active() -> bool:
        mine = [s for i, s in c.servers().items() if i in ids]
        assert not [s for s in mine if s["status"] == "ERROR"], \
            [(s["name"], s.get("fault")) for s in mine if s["status"] == "ERROR"]
        return len(mine) == len(ids) and all(
            s["status"] == "ACTIVE" and s["OS-EXT-STS:task_state"] is None for s in mine)

    wait_until(all_active, RESUME_TIMEOUT, "every build to resume and finish", interval=0.5)
    resumed_in = time.monotonic() - back
    wait_until(lambda: set(_compute_states(c).values()) == {"up"}, 15,
               "the computes to show up again")
    # the computes were never restarted or replaced, and kept their servers
    assert {h: c.procs[h].pid for h in COMPUTES} == pids
    assert all(c.procs[h].popen.poll() is None for h in COMPUTES)  # type: ignore[union-attr]
    hosts = {s["OS-EXT-SRV-ATTR:host"] for i, s in c.servers().items() if i in ids}
    assert hosts == set(COMPUTES), hosts
    assert resumed_in < RESUME_TIMEOUT
    for sid in ids:
        assert c.api("DELETE", f"/servers/{sid}").status_code == 204
    wait_until(lambda: not c.servers(), 60, "the deletes")
