"""The scheduler's batches and host snapshot (issue 11 item 4): concurrent
requests share one database read and never take the same capacity twice;
the read happens outside the selection lock; a snapshot older than
``[scheduler] host_state_max_age_ms`` is read again.

The hosts come from a HostManager whose ``read_reports`` returns in-memory
ComputeNode/Service objects (what the database read returns), so each test
controls what a read sees and when it finishes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from oslo_messaging.rpc.dispatcher import ExpectedException

from novalite import config, exception, objects
from novalite import context as nl_context
from novalite.conf import CONF
from novalite.objects.compute_node import ComputeNode
from novalite.objects.request_spec import RequestSpec
from novalite.objects.service import Service
from novalite.scheduler.filters import FilterHandler
from novalite.scheduler.filters.availability_zone_filter import AvailabilityZoneFilter
from novalite.scheduler.filters.compute_filter import ComputeFilter
from novalite.scheduler.filters.resource_filters import CoreFilter, DiskFilter, RamFilter
from novalite.scheduler.host_manager import HostManager, Reports
from novalite.scheduler.manager import SchedulerManager
from novalite.scheduler.weighers import WeightHandler
from novalite.scheduler.weighers.resources import CPUWeigher, DiskWeigher, RAMWeigher

config.register_base_opts()
objects.register_all()

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
UUIDS = [f"6f2d4a0e-7c1b-4a53-9a52-3c8f0d7e1b{i:02d}" for i in range(20)]


def node(host: str, memory_mb: int = 2048, memory_mb_used: int = 0,
         updated_at: datetime = T0) -> ComputeNode:
    return ComputeNode(host=host, hypervisor_hostname=host, hypervisor_type="fake",
                       vcpus=8, vcpus_used=0, memory_mb=memory_mb,
                       memory_mb_used=memory_mb_used, local_gb=100, local_gb_used=0,
                       running_vms=0, cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0,
                       disk_allocation_ratio=1.0, created_at=T0, updated_at=updated_at)


def service(host: str) -> Service:
    return Service(host=host, binary="novalite-compute", disabled=False, disabled_reason=None,
                   forced_down=False, availability_zone=None,
                   last_seen_up=datetime.now(UTC))


class ScriptedHosts(HostManager):
    """``read_reports`` returns ``self.nodes``; ``gate`` (when set) holds a
    read until the test opens it; ``error`` makes a read fail."""

    def __init__(self, nodes: list[ComputeNode]) -> None:
        super().__init__()
        self.nodes = nodes
        self.reads = 0
        self.gate: threading.Event | None = None
        self.reading = threading.Event()
        self.error: Exception | None = None
        self.lock_held_while_reading: list[bool] = []

    def read_reports(self, context: Any) -> Reports:
        self.reads += 1
        self.lock_held_while_reading.append(self.lock.locked())
        self.reading.set()
        if self.gate is not None:
            assert self.gate.wait(20), "the test never opened the gate"
        if self.error is not None:
            raise self.error
        return [(n, service(n.host)) for n in self.nodes]


@pytest.fixture
def max_age() -> Iterator[Any]:
    def set_ms(ms: int) -> None:
        CONF.set_override("host_state_max_age_ms", ms, group="scheduler")

    set_ms(60_000)
    yield set_ms
    CONF.clear_override("host_state_max_age_ms", group="scheduler")


@pytest.fixture
def make_scheduler(max_age: Any) -> Iterator[Any]:
    made: list[SchedulerManager] = []

    def make(nodes: list[ComputeNode]) -> tuple[SchedulerManager, ScriptedHosts]:
        hosts = ScriptedHosts(nodes)
        mgr = SchedulerManager(host="scheduler-test", host_manager=hosts)
        mgr.filter_handler = FilterHandler.from_classes(
            [ComputeFilter, AvailabilityZoneFilter, RamFilter, DiskFilter, CoreFilter])
        mgr.weight_handler = WeightHandler.from_classes([RAMWeigher, CPUWeigher, DiskWeigher])
        made.append(mgr)
        return mgr, hosts

    yield make
    for mgr in made:
        gate = getattr(mgr.host_manager, "gate", None)
        if gate is not None:
            gate.set()
        mgr.cleanup_host()


def spec(memory_mb: int = 2048, name: str = "m1.small") -> dict[str, Any]:
    """An older sender's dict (the scheduler takes both)."""
    return {"flavor_memory_mb": memory_mb, "flavor_vcpus": 1, "flavor_root_gb": 1,
            "flavor_name": name}


def select(mgr: SchedulerManager, request: dict[str, Any] | RequestSpec,
           uuids: list[str]) -> list[dict[str, str]]:
    """As the RPC dispatcher calls it; raises what the caller would get."""
    try:
        return mgr.select_destinations(nl_context.get_admin_context(), request, uuids)
    except ExpectedException as wrapped:
        raise wrapped.exc_info[1] from None


def where(selected: list[dict[str, str]]) -> list[tuple[str, str]]:
    """The hosts and nodes chosen (a selection also says why others were
    refused: the timeline's schedule step)."""
    return [(d["host"], d["nodename"]) for d in selected]


def in_threads(mgr: SchedulerManager, requests: list[tuple[dict[str, Any], list[str]]]
               ) -> list[Any]:
    """Run the requests concurrently; each result or the exception it raised."""
    results: list[Any] = [None] * len(requests)

    def run(i: int) -> None:
        try:
            results[i] = select(mgr, *requests[i])
        except Exception as exc:  # noqa: BLE001  # the test inspects it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    return _join(threads, results)


def _join(threads: list[threading.Thread], results: list[Any]) -> list[Any]:
    for t in threads:
        t.join(30)
        assert not t.is_alive(), "a select_destinations call hangs"
    return results


def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def queue_behind_a_held_read(mgr: SchedulerManager, hosts: ScriptedHosts,
                             requests: list[tuple[dict[str, Any], list[str]]]) -> list[Any]:
    """Queue every request while the first read is held, then let it finish:
    they are all answered from that one read, in one batch."""
    hosts.gate = threading.Event()
    results: list[Any] = [None] * len(requests)

    def run(i: int) -> None:
        try:
            results[i] = select(mgr, *requests[i])
        except Exception as exc:  # noqa: BLE001  # the test inspects it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    wait_until(lambda: mgr.selection_queue.waiting == len(requests))
    hosts.gate.set()
    return _join(threads, results)


def test_one_batch_gives_each_request_distinct_capacity(make_scheduler):
    mgr, hosts = make_scheduler([node("host-a"), node("host-b")])
    results = queue_behind_a_held_read(mgr, hosts, [(spec(), [u]) for u in UUIDS[:3]])
    placed = [r[0]["host"] for r in results if isinstance(r, list)]
    failed = [r for r in results if not isinstance(r, list)]
    assert sorted(placed) == ["host-a", "host-b"]
    assert len(failed) == 1 and isinstance(failed[0], exception.NoValidHost)
    assert "RamFilter removed 2 of 2 hosts" in str(failed[0])
    assert "host-a: 0 MiB free RAM" in str(failed[0])
    assert hosts.reads == 1, "the batch shares one read"


def test_a_request_that_fits_nowhere_fails_alone(make_scheduler):
    mgr, hosts = make_scheduler([node("host-a", memory_mb=4096)])
    results = queue_behind_a_held_read(mgr, hosts, [
        (spec(), [UUIDS[0]]), (spec(65536, "m1.huge"), [UUIDS[1]]), (spec(), [UUIDS[2]])])
    assert where(results[0]) == [("host-a", "host-a")]
    assert where(results[2]) == [("host-a", "host-a")]
    assert isinstance(results[1], exception.NoValidHost)
    assert "flavor 'm1.huge' needs 65536 MiB RAM" in str(results[1])


def test_many_concurrent_requests_never_overcommit(make_scheduler):
    """20 requests for 10 slots, arriving as they come (several batches)."""
    mgr, hosts = make_scheduler([node(f"host-{i}", memory_mb=4096) for i in range(5)])
    results = in_threads(mgr, [(spec(), [u]) for u in UUIDS])
    placed = [r[0]["host"] for r in results if isinstance(r, list)]
    assert len(placed) == 10
    assert all(placed.count(f"host-{i}") == 2 for i in range(5))
    assert all(isinstance(r, exception.NoValidHost) for r in results if not isinstance(r, list))


def test_multi_instance_request_that_fails_hands_back_what_it_took(make_scheduler):
    mgr, hosts = make_scheduler([node("host-a")])
    with pytest.raises(exception.NoValidHost):
        select(mgr, spec(), UUIDS[:2])
    assert where(select(mgr, spec(), [UUIDS[2]])) == [("host-a", "host-a")]


def test_the_read_happens_outside_the_selection_lock(make_scheduler):
    mgr, hosts = make_scheduler([node("host-a", memory_mb=8192)])
    select(mgr, spec(), [UUIDS[0]])
    # A second read, held in the database: a selection still goes ahead
    # on the snapshot there is (it is within the age bound).
    hosts.gate = threading.Event()
    hosts.reading.clear()
    refresh = threading.Thread(target=hosts.get_all_host_states,
                               args=(nl_context.get_admin_context(),))
    refresh.start()
    try:
        assert hosts.reading.wait(10)
        assert where(select(mgr, spec(), [UUIDS[1]])) == [("host-a", "host-a")]
        assert refresh.is_alive(), "the selection did not wait for the read"
    finally:
        hosts.gate.set()
        refresh.join(10)
    assert hosts.lock_held_while_reading == [False, False]


def test_a_newer_report_replaces_the_state_and_later_consumes_stay(make_scheduler):
    mgr, hosts = make_scheduler([node("host-a", memory_mb=6144), node("host-b", memory_mb=1024)])
    select(mgr, spec(), [UUIDS[0]])            # host-a: 4096 free
    state_b = hosts.snapshot.by_host["host-b"] if hosts.snapshot else None
    # host-a reports anew (the first instance landed: 2048 used), the read is
    # held; meanwhile another instance is placed on host-a from the snapshot.
    hosts.nodes = [node("host-a", memory_mb=6144, memory_mb_used=2048,
                        updated_at=T0 + timedelta(seconds=60)), node("host-b", memory_mb=1024)]
    hosts.gate = threading.Event()
    hosts.reading.clear()
    refresh = threading.Thread(target=hosts.get_all_host_states,
                               args=(nl_context.get_admin_context(),))
    refresh.start()
    assert hosts.reading.wait(10)
    assert where(select(mgr, spec(), [UUIDS[1]])) == [("host-a", "host-a")]
    hosts.gate.set()
    refresh.join(10)
    assert hosts.snapshot is not None
    a = hosts.snapshot.by_host["host-a"]
    # The new report (2048 used) plus the instance placed after it was read.
    assert (a.memory_mb_used, a.free_ram_mb) == (4096, 2048)
    # host-b's report did not change: same state object.
    assert hosts.snapshot.by_host["host-b"] is state_b


def test_a_snapshot_older_than_the_bound_is_read_again(make_scheduler, max_age):
    mgr, hosts = make_scheduler([node("host-a")])
    assert select(mgr, spec(1024), [UUIDS[0]])[0]["host"] == "host-a"
    assert select(mgr, spec(1024), [UUIDS[1]])[0]["host"] == "host-a"
    assert hosts.reads == 1, "within the bound the snapshot is shared"
    hosts.nodes = [node("host-b")]
    max_age(50)
    time.sleep(0.1)
    assert select(mgr, spec(1024), [UUIDS[2]])[0]["host"] == "host-b"
    assert hosts.reads == 2


def test_a_failed_read_fails_the_requests_waiting_for_it_then_recovers(make_scheduler):
    mgr, hosts = make_scheduler([node("host-a")])
    hosts.error = RuntimeError("database is down")
    with pytest.raises(RuntimeError, match="database is down"):
        select(mgr, spec(), [UUIDS[0]])
    hosts.error = None
    assert where(select(mgr, spec(), [UUIDS[1]])) == [("host-a", "host-a")]


def test_no_hosts_at_all(make_scheduler):
    mgr, _hosts = make_scheduler([])
    with pytest.raises(exception.NoValidHost, match="there are no compute hosts"):
        select(mgr, spec(), [UUIDS[0]])


def test_no_valid_host_names_ten_hosts_per_filter_and_counts_the_rest(make_scheduler):
    mgr, _hosts = make_scheduler([node(f"host-{i:02d}", memory_mb=1024) for i in range(25)])
    with pytest.raises(exception.NoValidHost) as err:
        select(mgr, spec(), [UUIDS[0]])
    text = str(err.value)
    assert "RamFilter removed 25 of 25 hosts (host-00: 1024 MiB free RAM" in text
    assert "host-09: 1024 MiB free RAM and 15 more)" in text
    assert "host-10" not in text
