"""Separate processes on the real RabbitMQ and PostgreSQL (and MariaDB):
api, conductor, scheduler and two compute hosts."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import time
import uuid

import oslo_messaging as messaging
import psutil
import pytest
import requests

from novalite import rpc
from novalite.conf import CONF
from tests.cluster import Cluster
from tests.integration import services
from tests.procs import wait_until

COMPUTES = ["compute-a", "compute-b"]


@pytest.fixture(scope="module", params=["postgresql", "mariadb"])
def cluster(request, tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp(request.param))
    with services.rabbitmq_vhost() as mq, services.DATABASES[request.param]() as db:
        c = Cluster(tmp, mq, db).prepare()
        c.connect()
        try:
            c.start_control_plane(COMPUTES, {"fake_driver": {"spawn_delay": 0.2}})
            yield c
        finally:
            c.stop_all()


def _ping_client(**target_kw):
    return rpc.get_client(messaging.Target(topic=CONF.compute_topic, namespace="baseapi",
                                           version="1.0", **target_kw), timeout=20)


def _count_pings(cluster, token):
    return {h: cluster.procs[h].read_log().count(token) for h in COMPUTES}


def _wait_servers(cluster, ids, timeout=90.0):
    def done():
        servers = cluster.api("GET", "/servers/detail").json()["servers"]
        mine = [s for s in servers if s["id"] in ids]
        if len(mine) == len(ids) and all(s["status"] in ("ACTIVE", "ERROR") for s in mine):
            return mine
        return None

    return wait_until(done, timeout, "servers to finish building", interval=0.3)


def test_topic_host_and_fanout_routing(cluster):
    ctxt = cluster.context()
    fan, one, direct = (f"fan-{uuid.uuid4().hex}", f"one-{uuid.uuid4().hex}",
                        f"direct-{uuid.uuid4().hex}")
    _ping_client(fanout=True).cast(ctxt, "ping", arg=fan)
    _ping_client().cast(ctxt, "ping", arg=one)
    _ping_client(server="compute-b").cast(ctxt, "ping", arg=direct)
    wait_until(lambda: all(v == 1 for v in _count_pings(cluster, fan).values()), 20,
               "the fanout to reach both hosts")
    wait_until(lambda: sum(_count_pings(cluster, one).values()) >= 1, 20, "topic ping")
    wait_until(lambda: _count_pings(cluster, direct)["compute-b"] == 1, 20, "direct ping")
    time.sleep(1.0)  # give a wrongly duplicated delivery the time to show up
    assert sum(_count_pings(cluster, one).values()) == 1, "compute topic must reach one host"
    assert _count_pings(cluster, direct) == {"compute-a": 0, "compute-b": 1}
    # a call answers from exactly one host, by name when asked
    reply = _ping_client(server="compute-a").call(ctxt, "ping", arg="x")
    assert reply == {"service": "novalite-compute", "arg": "x"}


def test_twenty_servers_spread_over_both_hosts(cluster):
    image = cluster.image_id
    ids = []
    for i in range(20):
        resp = cluster.api("POST", "/servers", {"server": {
            "name": f"spread-{i}", "flavorRef": "1", "imageRef": image}})
        assert resp.status_code == 202, resp.text
        ids.append(resp.json()["server"]["id"])
    servers = _wait_servers(cluster, set(ids))
    assert {s["status"] for s in servers} == {"ACTIVE"}, [s.get("fault") for s in servers]
    hosts = [s["OS-EXT-SRV-ATTR:host"] for s in servers]
    assert set(hosts) == set(COMPUTES), hosts
    for sid in ids:
        assert cluster.api("DELETE", f"/servers/{sid}").status_code == 204
    wait_until(lambda: not [s for s in cluster.api("GET", "/servers").json()["servers"]
                            if s["id"] in ids], 60, "deletes")


def test_compute_has_no_database_access(cluster):
    for host in COMPUTES:
        proc = cluster.procs[host]
        with open(proc.conf) as f:
            assert "[database]" not in f.read()
        assert "DBNotAllowed" not in proc.read_log()
        for pid in [proc.pid, *proc.workers()]:
            ports = {c.raddr.port for c in psutil.Process(pid).net_connections("inet")
                     if c.raddr}
            assert not ports & {5432, 3306}, f"{host} (pid {pid}) talks to a database"


def test_malformed_rpc_messages_get_errors_and_compute_keeps_serving(cluster):
    ctxt = cluster.context()
    client = rpc.get_client(messaging.Target(topic=CONF.compute_topic, server="compute-a",
                                             version="6.1"), timeout=20)
    with pytest.raises(Exception) as info:
        client.call(ctxt, "get_console_output", instance={"not": "an object"}, length=1)
    assert not isinstance(info.value, messaging.MessagingTimeout)
    with pytest.raises(messaging.NoSuchMethod):
        client.call(ctxt, "no_such_method")
    with pytest.raises(messaging.UnsupportedVersion):
        client.prepare(version="9.0").call(ctxt, "get_console_output")
    # a message that is not even an oslo.messaging envelope
    import kombu

    with kombu.Connection(cluster.transport_url.replace("rabbit://", "amqp://")) as conn:
        producer = conn.Producer()
        producer.publish("}{ definitely not json", exchange=CONF.control_exchange,
                         routing_key="compute.compute-a", content_type="application/json",
                         declare=[])
    assert _ping_client(server="compute-a").call(ctxt, "ping", arg="alive")["arg"] == "alive"


def test_sigterm_to_one_compute_mid_build_leaves_nothing_transitional(cluster):
    ids = []
    for i in range(6):
        resp = cluster.api("POST", "/servers", {"server": {
            "name": f"term-{i}", "flavorRef": "1", "imageRef": cluster.image_id}})
        ids.append(resp.json()["server"]["id"])
    time.sleep(0.3)
    victim = cluster.procs["compute-a"]
    victim.signal(signal.SIGTERM)
    victim.popen.wait(60)
    servers = _wait_servers(cluster, set(ids), timeout=120)
    for s in servers:
        assert s["OS-EXT-STS:task_state"] is None, s
        assert s["status"] in ("ACTIVE", "ERROR"), s
        if s["status"] == "ERROR":
            assert s["fault"]["message"]
    cluster.start("novalite-compute", "compute-a", {"fake_driver": {"spawn_delay": 0.2}})
    cluster.wait_services_up(COMPUTES)


def test_broker_restart_while_compute_is_down_loses_no_cast(cluster):
    ctxt = cluster.context()
    down = cluster.procs["compute-b"]
    down.stop()
    tokens = [f"durable-{uuid.uuid4().hex}" for _ in range(10)]
    client = _ping_client(server="compute-b")
    for t in tokens:
        client.cast(ctxt, "ping", arg=t)
    subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=120)
    subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=120)
    subprocess.run(["rabbitmqctl", "await_startup"], check=True, capture_output=True,
                   timeout=120)
    cluster.start("novalite-compute", "compute-b", {"fake_driver": {"spawn_delay": 0.2}})
    wait_until(lambda: all(_count_pings(cluster, t)["compute-b"] >= 1 for t in tokens), 90,
               "every cast sent while compute was down")
    cluster.wait_services_up(COMPUTES, timeout=90)
    # and the whole stack works again after the broker restart
    resp = cluster.api("POST", "/servers", {"server": {
        "name": "after-restart", "flavorRef": "1", "imageRef": cluster.image_id}})
    sid = resp.json()["server"]["id"]
    assert _wait_servers(cluster, {sid}, timeout=120)[0]["status"] == "ACTIVE"
    assert json.dumps(resp.json())


def _stream_events(resp, until_uuid, until_type, timeout=60.0):
    """(event type, message) pairs read from an open /dashboard/events
    response until ``until_type`` about ``until_uuid``."""
    seen, event = [], None
    deadline = time.monotonic() + timeout
    for raw in resp.iter_lines(chunk_size=None):
        line = raw.decode()
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event is not None:
            message = json.loads(line[6:])
            seen.append((event, message))
            if event == until_type and \
                    message["payload"]["nova_object.data"]["uuid"] == until_uuid:
                return seen
        assert time.monotonic() < deadline, f"no {until_type} on the stream; saw {seen}"
    raise AssertionError(f"the stream ended before {until_type}; saw {seen}")


def test_versioned_notifications_on_rabbitmq_and_the_api_stream(cluster):
    """A consumer of its own (pool) on the run's vhost gets Nova's
    instance.create/delete start and end for a build on a compute process,
    and the novalite-api process streams them (its own listener pool)."""
    received = queue.Queue()

    class Consumer:
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            received.put((publisher_id, event_type, payload))

    transport = messaging.get_notification_transport(CONF)
    listener = messaging.get_notification_listener(
        transport, [messaging.Target(topic="versioned_notifications")], [Consumer()],
        pool=f"test-consumer-{uuid.uuid4().hex[:8]}")
    listener.start()
    stream = requests.get(cluster.api_url.replace("/compute/v2.1", "/dashboard/events"),
                          stream=True, timeout=(10, 30))
    try:
        assert stream.status_code == 200, stream.text
        body = {"server": {"name": "notified", "flavorRef": "1",
                           "imageRef": cluster.image_id}}
        resp = cluster.api("POST", "/servers", body)
        assert resp.status_code == 202, resp.text
        server_id = resp.json()["server"]["id"]
        [server] = _wait_servers(cluster, [server_id])
        assert server["status"] == "ACTIVE"
        assert cluster.api("DELETE", f"/servers/{server_id}").status_code == 204
        got = {}
        while "instance.delete.end" not in got:
            publisher, event_type, payload = received.get(timeout=60)
            if payload["nova_object.data"]["uuid"] == server_id:
                got[event_type] = (publisher, payload)
        streamed = [t for t, _ in _stream_events(stream, server_id, "instance.delete.end")]
    finally:
        stream.close()
        listener.stop()
        listener.wait()
        transport.cleanup()
    for phase in ("instance.create.start", "instance.create.end",
                  "instance.delete.start", "instance.delete.end"):
        assert phase in got, sorted(got)
        assert phase in streamed, streamed
    publisher, end = got["instance.create.end"]
    assert publisher == f"novalite-compute:{server['OS-EXT-SRV-ATTR:host']}"
    assert end["nova_object.name"] == "InstanceCreatePayload"
    assert end["nova_object.namespace"] == "nova"
    assert end["nova_object.version"] == "1.11"
    data = end["nova_object.data"]
    assert data["uuid"] == server_id and data["display_name"] == "notified"
    assert data["state"] == "active" and data["power_state"] == "running"
    assert data["task_state"] is None and data["tenant_id"] == server["tenant_id"]
    assert data["host"] == server["OS-EXT-SRV-ATTR:host"]
    assert isinstance(data["launched_at"], str) and data["launched_at"].endswith("Z")
    assert isinstance(data["ip_addresses"], list) and isinstance(data["metadata"], dict)
    assert data["auto_disk_config"] in ("MANUAL", "AUTO") and data["locked"] is False
    flavor = data["flavor"]
    assert flavor["nova_object.name"] == "FlavorPayload"
    assert isinstance(flavor["nova_object.data"]["memory_mb"], int)
    assert got["instance.create.start"][1]["nova_object.data"]["state"] == "building"
    delete_end = got["instance.delete.end"][1]
    assert delete_end["nova_object.name"] == "InstanceActionPayload"
    assert delete_end["nova_object.data"]["fault"] is None
