"""Fault run: SIGKILL a compute (separate processes, RabbitMQ + PostgreSQL,
FakeDriver) during 20 builds and during 20 deletes, and restart it.

Servers ACTIVE before the kill stay ACTIVE (their guests outlive the process,
as on a hypervisor); every other instance ends ACTIVE, ERROR with a fault, or
deleted within a bounded time; afterwards the addresses, the quota usage, the
host's resource claims and the hypervisor's guests match the servers exactly,
and are all zero once everything is deleted."""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

import pytest

from novalite.db import network as network_db
from tests.cluster import Cluster
from tests.integration import services
from tests.procs import wait_until

HOST = "compute-k"
COMPUTE_OPTS = {"fake_driver": {"spawn_delay": 1.0},
                "compute": {"queued_build_grace": 3, "build_drain_timeout": 10,
                            "deadline_check_interval": 2}}
SETTLE_TIMEOUT = 60.0  # the bound: every instance settled this long after the restart
FLAVOR_RAM_MB = 512  # m1.tiny


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: Any) -> Any:
    tmp = str(tmp_path_factory.mktemp("kill"))
    os.chmod(tmp, 0o755)
    with services.rabbitmq_vhost() as mq, services.postgres_database() as db:
        c = Cluster(tmp, mq, db).prepare()
        c.connect()
        try:
            c.manage("network", "create", "killnet", "--cidr", "10.66.0.0/22", "--bridge",
                     "nlkill0")
            c.start_control_plane([HOST], COMPUTE_OPTS)
            yield c
        finally:
            c.stop_all()


def _boot(c: Cluster, name: str) -> str:
    resp = c.api("POST", "/servers", {"server": {"name": name, "flavorRef": "1",
                                                   "imageRef": c.image_id}})
    assert resp.status_code == 202, resp.text
    return resp.json()["server"]["id"]


def _settled(s: dict) -> bool:
    return s["OS-EXT-STS:task_state"] is None and s["status"] in ("ACTIVE", "ERROR")


def _wait_settled(c: Cluster, ids: set[str], timeout: float) -> dict[str, dict]:
    """ids → server (missing: deleted), once none is transitional."""
    last: dict[str, dict] = {}

    def done() -> bool:
        nonlocal last
        servers = c.servers()
        last = {i: servers[i] for i in ids if i in servers}
        return all(_settled(s) for s in last.values())

    try:
        wait_until(done, timeout, f"{len(ids)} servers to settle", interval=0.5)
    except AssertionError:
        raise AssertionError("not settled: " + ", ".join(
            f"{i} {s['status']}/{s['OS-EXT-STS:task_state']}" for i, s in last.items()
            if not _settled(s))) from None
    return last


def _sigkill(c: Cluster) -> None:
    proc = c.procs[HOST]
    # NOTE: the whole group: cotyledon's parent and the worker that serves.
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.popen is not None
    proc.popen.wait(30)


def _restart(c: Cluster) -> None:
    consuming = c.procs[HOST].read_log().count(f"is consuming compute, compute.{HOST}")
    c.start("novalite-compute", HOST, COMPUTE_OPTS)
    c.procs[HOST].wait_log(f"is consuming compute, compute.{HOST}", timeout=60,
                           count=consuming + 1)


def _hypervisor_guests(c: Cluster) -> set[str]:
    """The guests the compute's fake hypervisor keeps (no file: none)."""
    try:
        with open(os.path.join(c.tmp, "fake-hypervisor", f"{HOST}.json")) as f:
            return {g["uuid"] for g in json.load(f)["guests"]}
    except FileNotFoundError:
        return set()


def _hypervisor_usage(c: Cluster) -> tuple[int, int]:
    resp = c.api("GET", "/os-hypervisors/detail")
    assert resp.status_code == 200, resp.text
    (hyp,) = [h for h in resp.json()["hypervisors"] if h["service"]["host"] == HOST]
    return int(hyp["running_vms"]), int(hyp["memory_mb_used"])


def _instances_used(c: Cluster) -> int:
    return int(c.api("GET", "/limits").json()["limits"]["absolute"]["totalInstancesUsed"])


def _assert_nothing_leaked(c: Cluster) -> None:
    """Addresses, quota, claims and guests match the servers that exist."""
    def consistent() -> bool:
        servers = c.servers()
        active = {i for i, s in servers.items() if s["status"] == "ACTIVE"}
        addressed = {ip["instance_uuid"] for ip in network_db.fixed_ip_get_all()
                     if ip.get("instance_uuid")}
        return (addressed == active and _hypervisor_guests(c) == active
                and _instances_used(c) == len(servers)
                and _hypervisor_usage(c) == (len(active), len(active) * FLAVOR_RAM_MB))

    try:
        wait_until(consistent, 20, "addresses, quota, claims and guests to match")
    except AssertionError:
        servers = c.servers()
        raise AssertionError(
            f"servers {[(i, s['status']) for i, s in servers.items()]}; addresses "
            f"{[ip['instance_uuid'] for ip in network_db.fixed_ip_get_all()]}; guests "
            f"{_hypervisor_guests(c)}; quota used {_instances_used(c)}; hypervisor "
            f"{_hypervisor_usage(c)}") from None


def _delete_errors(c: Cluster, servers: dict[str, dict]) -> None:
    for sid, s in servers.items():
        if s["status"] == "ERROR":
            assert c.api("DELETE", f"/servers/{sid}").status_code == 204


def test_sigkill_during_builds_and_during_deletes_loses_and_leaks_nothing(cluster) -> None:
    c = cluster
    before = [_boot(c, f"before-{i}") for i in range(4)]
    assert {s["status"] for s in _wait_settled(c, set(before), 60).values()} == {"ACTIVE"}

    # -- 20 builds; the kill lands while some run, some wait in the compute's
    # pool (acked, lost with the process) and some are still queued
    builds = [_boot(c, f"build-{i}") for i in range(20)]
    wait_until(lambda: any(s["OS-EXT-STS:task_state"] == "spawning"
                           for s in c.servers().values()), 30, "a build to be spawning",
               interval=0.05)
    _sigkill(c)
    _restart(c)
    restarted = time.monotonic()
    settled = _wait_settled(c, set(builds), SETTLE_TIMEOUT)
    assert time.monotonic() - restarted < SETTLE_TIMEOUT
    for s in settled.values():
        if s["status"] == "ERROR":
            assert s["fault"]["message"], s
    servers = c.servers()
    assert all(servers[i]["status"] == "ACTIVE" for i in before), \
        [servers[i]["status"] for i in before]
    _assert_nothing_leaked(c)
    _delete_errors(c, settled)

    # -- 20 deletes: the kill lands among them; those sent after it wait in
    # the durable queue (the host still looks up) and come after the restart
    victims = [i for i, s in settled.items() if s["status"] == "ACTIVE"]
    victims += [_boot(c, f"victim-{i}") for i in range(20 - len(victims))]
    assert {s["status"] for s in _wait_settled(c, set(victims), 60).values()} == {"ACTIVE"}
    for n, sid in enumerate(victims):
        if n == 12:
            _sigkill(c)
        assert c.api("DELETE", f"/servers/{sid}").status_code == 204
    _restart(c)
    restarted = time.monotonic()
    wait_until(lambda: not set(victims) & set(c.servers()), SETTLE_TIMEOUT,
               "every delete to finish")
    assert time.monotonic() - restarted < SETTLE_TIMEOUT
    servers = c.servers()
    assert all(servers[i]["status"] == "ACTIVE" for i in before)
    _assert_nothing_leaked(c)

    # -- and all the way down to zero
    for sid in before:
        assert c.api("DELETE", f"/servers/{sid}").status_code == 204
    wait_until(lambda: not c.servers(), 30, "the last deletes")
    _assert_nothing_leaked(c)
    assert network_db.fixed_ip_get_all() == [] and _hypervisor_guests(c) == set()
