"""The ``inproc://`` transport under oslo.messaging's real RPC server, client,
notifier and notification listener (threading executor, global CONF: 18.3
fails sends with a private ConfigOpts)."""

from __future__ import annotations

import queue
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import oslo_messaging
import pytest
from oslo_config import cfg
from oslo_messaging import transport as msg_transport

from novalite.messaging.inproc import InProcDriver, InProcExchangeManager

EXMODS = ["oslo_messaging.rpc.dispatcher"]

# NOTE: 18.3 warns on any executor argument, "threading" included.
pytestmark = pytest.mark.filterwarnings("ignore:Using the 'executor' argument")


def make_transport(exmods: list[str] | None = None, notifications: bool = False
                   ) -> oslo_messaging.Transport:
    """``inproc://`` by its entry point, or built by hand where the package
    (and so the entry point) is not installed."""
    get = (oslo_messaging.get_notification_transport if notifications
           else oslo_messaging.get_rpc_transport)
    try:
        transport = get(cfg.CONF, url="inproc://", allowed_remote_exmods=exmods)
    except oslo_messaging.DriverLoadFailure:
        url = oslo_messaging.TransportURL.parse(cfg.CONF, "inproc://")
        driver = InProcDriver(cfg.CONF, url, default_exchange=cfg.CONF.control_exchange,
                              allowed_remote_exmods=exmods)
        cls = msg_transport.NotificationTransport if notifications else msg_transport.RPCTransport
        transport = cls(driver)
    assert isinstance(transport._driver, InProcDriver)
    return transport


class NotAllowedError(Exception):
    """From a module the client does not allow: arrives as RemoteError."""


class Endpoint:
    def __init__(self, name: str, sink: queue.Queue) -> None:
        self.name = name
        self.sink = sink

    def echo(self, ctxt: dict, value: Any) -> dict:
        return {"server": self.name, "value": value}

    def record(self, ctxt: dict, value: Any) -> None:
        self.sink.put((self.name, value))

    def fail_builtin(self, ctxt: dict) -> None:
        raise ValueError("bad value")

    def fail_custom(self, ctxt: dict) -> None:
        raise NotAllowedError("not for export")


class Bus:
    """One transport, a fresh topic, and the servers started on them."""

    def __init__(self) -> None:
        self.transport = make_transport(EXMODS)
        self.topic = f"test-{uuid.uuid4().hex[:8]}"
        self.sink: queue.Queue = queue.Queue()
        self.servers: list[Any] = []

    def start_server(self, name: str, transport: oslo_messaging.Transport | None = None) -> Any:
        server = oslo_messaging.get_rpc_server(
            transport or self.transport, oslo_messaging.Target(topic=self.topic, server=name),
            [Endpoint(name, self.sink)], executor="threading",
            access_policy=oslo_messaging.DefaultRPCAccessPolicy)
        server.start()
        self.servers.append(server)
        return server

    def client(self, timeout: float = 5, **target: Any) -> oslo_messaging.RPCClient:
        return oslo_messaging.get_rpc_client(
            self.transport, oslo_messaging.Target(topic=self.topic, **target), timeout=timeout)

    def received(self, count: int, timeout: float = 5, quiet: float = 0.1) -> list:
        """``count`` deliveries, then proof that no further one comes."""
        got = [self.sink.get(timeout=timeout) for _ in range(count)]
        with pytest.raises(queue.Empty):
            self.sink.get(timeout=quiet)
        return got

    def close(self) -> None:
        # NOTE: the waits run side by side: each takes up to a second, the
        # time futurist's idle workers need to notice their pool's shutdown.
        for server in self.servers:
            server.stop()
        waits = [threading.Thread(target=server.wait) for server in self.servers]
        for thread in waits:
            thread.start()
        for thread in waits:
            thread.join()
        self.transport.cleanup()


@pytest.fixture
def bus() -> Iterator[Bus]:
    b = Bus()
    try:
        yield b
    finally:
        b.close()


def test_call_returns_result(bus: Bus) -> None:
    bus.start_server("a")
    result = bus.client().call({}, "echo", value=[1, {"k": "v"}])
    assert result == {"server": "a", "value": [1, {"k": "v"}]}


def test_cast_is_delivered(bus: Bus) -> None:
    bus.start_server("a")
    bus.client().cast({}, "record", value=7)
    assert bus.received(1) == [("a", 7)]


def test_topic_message_reaches_exactly_one_server(bus: Bus) -> None:
    bus.start_server("a")
    bus.start_server("b")
    client = bus.client()
    for i in range(20):
        client.cast({}, "record", value=i)
    got = bus.received(20)
    assert sorted(value for _, value in got) == list(range(20))
    assert {name for name, _ in got} <= {"a", "b"}


def test_server_target_reaches_only_that_server(bus: Bus) -> None:
    bus.start_server("a")
    bus.start_server("b")
    client = bus.client(server="b")
    for i in range(5):
        client.cast({}, "record", value=i)
    assert bus.received(5) == [("b", i) for i in range(5)]
    assert bus.client(server="a").call({}, "echo", value=1)["server"] == "a"


def test_fanout_reaches_every_server(bus: Bus) -> None:
    bus.start_server("a")
    bus.start_server("b")
    bus.client(fanout=True).cast({}, "record", value="all")
    assert sorted(bus.received(2)) == [("a", "all"), ("b", "all")]


def test_call_without_server_times_out(bus: Bus) -> None:
    start = time.monotonic()
    with pytest.raises(oslo_messaging.MessagingTimeout, match=bus.topic):
        bus.client(timeout=0.2).call({}, "echo", value=1)
    assert 0.15 < time.monotonic() - start < 2


def test_unknown_method_raises_no_such_method(bus: Bus) -> None:
    bus.start_server("a")
    with pytest.raises(oslo_messaging.NoSuchMethod):
        bus.client().call({}, "no_such_method")


def test_server_exceptions_travel_like_a_real_driver(bus: Bus) -> None:
    bus.start_server("a")
    client = bus.client()
    with pytest.raises(ValueError, match="bad value"):
        client.call({}, "fail_builtin")
    with pytest.raises(oslo_messaging.RemoteError) as info:
        client.call({}, "fail_custom")
    assert info.value.exc_type == "NotAllowedError"


def test_messages_travel_as_json(bus: Bus) -> None:
    bus.start_server("a")
    client = bus.client()
    with pytest.raises(ValueError):
        client.cast({}, "record", value=object())
    sent = {"nested": [1, 2]}
    result = client.call({}, "echo", value=sent)
    assert result["value"] == sent and result["value"] is not sent
    assert client.call({}, "echo", value=(1, 2))["value"] == [1, 2]


def test_server_stops_and_waits_cleanly(bus: Bus) -> None:
    server = bus.start_server("a")
    assert bus.client().call({}, "echo", value=1)["server"] == "a"
    start = time.monotonic()
    server.stop()
    server.wait()
    assert time.monotonic() - start < 5
    # NOTE: what is sent to a stopped server waits in its queue, as in a
    # durable broker queue, and a server of that name started later gets it.
    bus.client(server="a").cast({}, "record", value="late")
    with pytest.raises(queue.Empty):
        bus.sink.get(timeout=0.1)
    bus.start_server("a")
    assert bus.received(1) == [("a", "late")]


def test_fanout_misses_a_stopped_server(bus: Bus) -> None:
    bus.start_server("a")
    stopped = bus.start_server("b")
    stopped.stop()
    bus.client(fanout=True).cast({}, "record", value="now")
    assert bus.received(1) == [("a", "now")]


def test_notifications_reach_the_listener(bus: Bus) -> None:
    transport = make_transport(notifications=True)
    sink: queue.Queue = queue.Queue()

    class Info:
        def info(self, ctxt: dict, publisher_id: str, event_type: str, payload: dict,
                 metadata: dict) -> None:
            sink.put((publisher_id, event_type, payload))

    listener = oslo_messaging.get_notification_listener(
        transport, [oslo_messaging.Target(topic=bus.topic)], [Info()], executor="threading")
    listener.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            notifier = oslo_messaging.Notifier(transport, publisher_id="compute.host1",
                                               driver="messaging", topics=[bus.topic])
        notifier.info({}, "instance.create.end", {"uuid": "u-1"})
        assert sink.get(timeout=5) == ("compute.host1", "instance.create.end", {"uuid": "u-1"})
    finally:
        listener.stop()
        listener.wait()
        transport.cleanup()


def test_cleanup_of_one_transport_keeps_the_others_queues(bus: Bus) -> None:
    other = make_transport()
    oslo_messaging.get_rpc_client(other, oslo_messaging.Target(topic=bus.topic)).cast(
        {}, "record", value="kept")
    other.cleanup()
    bus.start_server("a")
    assert bus.received(1) == [("a", "kept")]


def test_last_cleanup_drops_the_queues() -> None:
    first = Bus()
    live = InProcExchangeManager.live_drivers()
    if live != 1:
        first.close()
    assert live == 1, "an inproc transport leaked from an earlier test (not cleaned up)"
    first.client().cast({}, "record", value="dropped")
    first.close()
    second = Bus()
    second.topic = first.topic
    try:
        second.start_server("a")
        second.client().cast({}, "record", value="fresh")
        assert second.received(1) == [("a", "fresh")]
    finally:
        second.close()


def test_calls_do_not_poll(bus: Bus) -> None:
    """200 calls: about 10 s at fake://'s 50 ms polling, well under 2 s here."""
    bus.start_server("a")
    client = bus.client()
    client.call({}, "echo", value=0)
    start = time.monotonic()
    for i in range(200):
        assert client.call({}, "echo", value=i)["value"] == i
    assert time.monotonic() - start < 2.0
