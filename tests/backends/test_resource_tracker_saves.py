"""Issue 11 item 4: the resource tracker coalesces its ComputeNode saves.

Concurrent claims on one host share saves, yet each claim returns only once
the database holds usage that includes it; a claim that does not fit still
fails, retryably; a periodic update that changes nothing writes nothing. On
SQLite, PostgreSQL and MariaDB, with the shipped FakeDriver.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from novalite import context as nl_context
from novalite import exception
from novalite.compute import vm_states
from novalite.compute.resource_tracker import ResourceTracker
from novalite.conf import CONF
from novalite.db import api as db_api
from novalite.objects.flavor import Flavor
from novalite.objects.instance import Instance
from novalite.virt import fake

HOST = "rt-host"
CLAIMS = 12


class _SaveCounter:
    """Counts the node's saves (db.compute_node_update) and makes each take
    a while, as a save through the conductor does, so that claims pile up
    behind one in progress."""

    def __init__(self, delay: float) -> None:
        self.calls = 0
        self.delay = delay
        self._original = db_api.compute_node_update

    def __call__(self, node_id: int, values: dict) -> dict:
        self.calls += 1
        time.sleep(self.delay)
        return self._original(node_id, values)


@pytest.fixture
def tracker(synced, monkeypatch) -> Iterator[tuple[ResourceTracker, _SaveCounter]]:
    # NOTE: room for CLAIMS servers of 2**i MiB each (their sum tells which
    # claims a recorded total includes), and one vCPU each.
    CONF.set_override("host", HOST)
    CONF.set_override("memory_mb", 2 ** CLAIMS - 1, group="fake_driver")
    CONF.set_override("vcpus", CLAIMS, group="fake_driver")
    CONF.set_override("ram_allocation_ratio", 1.0)
    CONF.set_override("cpu_allocation_ratio", 1.0)
    fake.FakeDriver.forget_all_hosts()
    counter = _SaveCounter(delay=0.2)
    monkeypatch.setattr(db_api, "compute_node_update", counter)
    try:
        rt = ResourceTracker(HOST, fake.FakeDriver(None))
        rt.update_available_resource(nl_context.get_admin_context())
        yield rt, counter
    finally:
        fake.FakeDriver.forget_all_hosts()
        for name in ("memory_mb", "vcpus"):
            CONF.clear_override(name, group="fake_driver")
        for name in ("host", "ram_allocation_ratio", "cpu_allocation_ratio"):
            CONF.clear_override(name)


def _instance(index: int, memory_mb: int, vcpus: int = 1) -> Instance:
    flavor = Flavor(flavorid=f"f{index}", name=f"f{index}", memory_mb=memory_mb, vcpus=vcpus,
                    root_gb=0, ephemeral_gb=0, swap=0)
    return Instance(uuid=f"5a7e5a7e-0000-4000-8000-{index:012d}", flavor=flavor,
                    system_metadata={}, vm_state=vm_states.BUILDING)


def _recorded() -> dict:
    [node] = db_api.compute_node_get_all(HOST)
    return node


def test_concurrent_claims_share_saves_and_each_is_recorded_when_it_returns(tracker):
    rt, saves = tracker
    ctx = nl_context.get_admin_context()
    start = threading.Barrier(CLAIMS)
    seen_after: dict[int, int] = {}
    errors: list[BaseException] = []

    def claim(i: int) -> None:
        try:
            start.wait()
            rt.instance_claim(ctx, _instance(i, 2 ** i))
            seen_after[i] = _recorded()["memory_mb_used"]
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(CLAIMS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    # each claim was in the database when it returned (its bit is set) ...
    assert {i for i, used in seen_after.items() if used & 2 ** i} == set(range(CLAIMS))
    # ... though far fewer saves than claims were made
    assert 1 <= saves.calls <= 3, saves.calls
    node = _recorded()
    assert (node["memory_mb_used"], node["vcpus_used"], node["running_vms"]) == (
        2 ** CLAIMS - 1, CLAIMS, CLAIMS)

    # the host is full now: one more claim fails, retryably, and writes nothing
    before = saves.calls
    with pytest.raises(exception.ComputeResourcesUnavailable) as refused:
        rt.instance_claim(ctx, _instance(CLAIMS, 1))
    assert refused.value.retryable
    assert "host rt-host has 0 MiB free RAM, f12 needs 1" in refused.value.format_message()
    assert saves.calls == before

    # concurrent releases likewise end exact, in fewer saves than releases
    releases = [threading.Thread(target=rt.release, args=(ctx, _instance(i, 0).uuid))
                for i in range(0, CLAIMS, 2)]
    for t in releases:
        t.start()
    for t in releases:
        t.join(60)
    assert saves.calls - before < len(releases)
    node = _recorded()
    odd = sum(2 ** i for i in range(1, CLAIMS, 2))
    assert (node["memory_mb_used"], node["running_vms"]) == (odd, CLAIMS // 2)


def test_a_claim_or_update_that_changes_nothing_writes_nothing(tracker):
    rt, saves = tracker
    ctx = nl_context.get_admin_context()
    rt.instance_claim(ctx, _instance(1, 2))
    assert saves.calls == 1
    stamp = _recorded()["updated_at"]
    # the same instance again: already claimed, nothing to record
    rt.instance_claim(ctx, _instance(1, 2))
    # the periodic update with nothing changed on the host
    rt.update_available_resource(ctx)
    rt.update_available_resource(ctx)
    # releasing an instance that holds no claim
    rt.release(ctx, _instance(7, 2).uuid)
    assert saves.calls == 1
    assert _recorded()["updated_at"] == stamp
    # a change of capacity is recorded by the next periodic update
    CONF.set_override("ram_allocation_ratio", 2.0)
    rt.update_available_resource(ctx)
    assert saves.calls == 2
    assert _recorded()["ram_allocation_ratio"] == 2.0
