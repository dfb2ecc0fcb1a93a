"""novalite.metrics without a stack: libvirt's bulk stats as counters, the
RPC client wrapper against a real inproc:// transport, a member's view of
the registry, [metrics] enabled = False, and a compute's own listener."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import oslo_messaging as messaging
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from novalite import config, rpc
from novalite.conf import CONF
from novalite.metrics import exposition, instances, listener
from novalite.metrics import rpc as metrics_rpc
from novalite.virt.stats import InstanceStats, from_libvirt


def test_libvirt_record_sums_every_disk_and_interface() -> None:
    record = {"cpu.time": 2_500_000_000, "balloon.rss": 1024, "balloon.current": 4096,
              "block.count": 2, "block.0.rd.bytes": 100, "block.1.rd.bytes": 50,
              "block.0.wr.bytes": 7, "block.0.rd.reqs": 3, "block.1.rd.reqs": 1,
              "block.0.wr.reqs": 2,
              "net.count": 1, "net.0.rx.bytes": 900, "net.0.tx.bytes": 800,
              "net.0.rx.pkts": 9, "net.0.tx.pkts": 8}
    s = from_libvirt(record)
    assert s.cpu_seconds == 2.5 and s.memory_bytes == 1024 * 1024
    assert (s.disk_read_bytes, s.disk_write_bytes) == (150, 7)
    assert (s.disk_read_requests, s.disk_write_requests) == (4, 2)
    assert (s.net_rx_bytes, s.net_tx_bytes, s.net_rx_packets, s.net_tx_packets) == (
        900, 800, 9, 8)
    # NOTE: a shut-off domain has no cpu/block/net groups: unknown, not 0.
    assert from_libvirt({}) == InstanceStats()


def _samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [(s.name, s.labels, s.value) for f in text_string_to_metric_families(text)
            for s in f.samples]


def test_a_member_sees_only_series_of_their_project() -> None:
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    instances.record("unit-host", {mine: ("proj-a", InstanceStats(cpu_seconds=3.0)),
                                   theirs: ("proj-b", InstanceStats(cpu_seconds=4.0))})
    try:
        text = exposition.render("proj-a", everything=False, cloud=False).decode()
        assert _samples(text) == [("novalite_instance_cpu_seconds_total",
                                   {"instance": mine, "project_id": "proj-a"}, 3.0)]
        assert exposition.render(None, everything=False, cloud=False) == b""
        everything = exposition.render(cloud=False).decode()
        assert mine in everything and theirs in everything
        assert "novalite_instance_step_seconds" in everything
    finally:
        instances.forget("unit-host")


@pytest.fixture
def bus() -> Iterator[messaging.Target]:
    config.register_base_opts()
    rpc.cleanup()
    CONF.set_override("transport_url", "inproc://")
    target = messaging.Target(topic=f"metrics-unit-{uuid.uuid4().hex[:6]}", server="s1")

    class Endpoint:
        def echo(self, ctxt: dict, arg: int) -> int:
            return arg

        def boom(self, ctxt: dict) -> None:
            raise ValueError("boom")

    server = messaging.get_rpc_server(rpc.get_transport(), target, [Endpoint()],
                                      executor="threading")
    server.start()
    try:
        yield target
    finally:
        server.stop()
        server.wait()
        rpc.cleanup()
        CONF.clear_override("transport_url")


def _count(topic: str, method: str) -> float:
    return sum(s.value for f in metrics_rpc.CALL_SECONDS.collect() for s in f.samples
               if s.name.endswith("_count") and s.labels["topic"] == topic
               and s.labels["method"] == method)


def test_rpc_calls_are_timed_and_failures_counted(bus: messaging.Target) -> None:
    client = metrics_rpc.TimedClient(messaging.get_rpc_client(rpc.get_transport(), bus))
    assert client.prepare(timeout=10).call({}, "echo", arg=7) == 7
    assert _count(bus.topic, "echo") == 1
    with pytest.raises(Exception, match="boom"):
        client.call({}, "boom")
    errors = [s for f in metrics_rpc.ERRORS.collect() for s in f.samples
              if s.labels.get("topic") == bus.topic and s.name.endswith("_total")]
    assert [(s.labels["method"], s.value) for s in errors] == [("boom", 1.0)]
    CONF.set_override("enabled", False, group="metrics")
    try:
        assert client.call({}, "echo", arg=1) == 1
        assert _count(bus.topic, "echo") == 1
    finally:
        CONF.clear_override("enabled", group="metrics")


def test_a_compute_listener_serves_the_registry() -> None:
    server, thread = listener.start("127.0.0.1", 0)
    try:
        resp = requests.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10)
        assert resp.status_code == 200
        assert "novalite_instance_step_seconds" in resp.text
        assert "novalite_bus_queue_depth" in resp.text
    finally:
        listener.stop(server, thread)
    assert not thread.is_alive()
