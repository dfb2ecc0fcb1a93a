"""Useful guests, end to end on the real libvirtd + QEMU + a real Linux
bridge: a server booted through the HTTP API gets an address from the
database, its NIC on the network's bridge, a config drive it configures
itself from, and answers HTTP from the host with its own uuid; files reach
it through the guest agent; delete leaves nothing on the host but the bridge.

Each run makes its own network (a unique bridge name and a free 10.x /24),
removed at the end. Nothing here skips: no libvirtd, no bridge → failure.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import os
import random
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from novalite.db import network as network_db
from novalite.network import linux_net
from novalite.network import manage as network_manage
from novalite.network import model as network_model
from novalite.virt.libvirt import agent
from tests.integration.realstack import RealStack, RealStackError, libvirt_connection
from tests.procs import wait_until

pytestmark = pytest.mark.integration

ACTIVE_TIMEOUT = 120
HTTP_TIMEOUT = 120          # ACTIVE → the guest answers HTTP, one guest
CONCURRENT_TIMEOUT = 400    # eight guests at once under TCG on two cores
AGENT_TIMEOUT = 120
TINY = "1"


def _free_cidr() -> str:
    """A 10.x.y.0/24 that no address or route of this host overlaps."""
    out = subprocess.run(["ip", "-o", "-4", "route", "show", "table", "all"],
                         capture_output=True, text=True, check=True).stdout
    out += subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True,
                          check=True).stdout
    used = []
    for word in out.split():
        with contextlib.suppress(ValueError):
            used.append(ipaddress.ip_network(word, strict=False))
    rng = random.Random()
    for _ in range(200):
        net = ipaddress.ip_network(f"10.{rng.randint(100, 250)}.{rng.randint(0, 255)}.0/24")
        if not any(net.overlaps(u) for u in used if u.prefixlen > 0):
            return str(net)
    raise AssertionError("no free 10.x.y.0/24 on this host")


class NetStack:
    def __init__(self, label: str = "networking",
                 overrides: dict[tuple[str | None, str], Any] | None = None) -> None:
        tag = uuid.uuid4().hex[:6]
        self.net_name = f"net-{tag}"
        self.bridge = f"nlt{tag}"
        self.cidr = _free_cidr()
        # NOTE: RealStack makes its directory at once: a caller wanting other
        # settings passes them here (a stack made and replaced is never
        # stopped, and its directory stayed behind).
        self.rs = RealStack(label=label, overrides={
            ("network", "default_network_name"): self.net_name,
            ("compute", "force_config_drive"): True,
            **(overrides or {}),
        })
        self.net: dict[str, Any] = {}
        self.http = requests.Session()
        self.http.trust_env = False     # no proxy between the host and its guests

    def start(self) -> NetStack:
        self.rs.start()
        self.net = network_manage.create_network(self.net_name, self.cidr, bridge=self.bridge)
        return self

    def stop(self) -> list[str]:
        problems = self.rs.stop()
        with contextlib.suppress(Exception):
            linux_net.delete_device(self.bridge)
        return problems

    # -- helpers ---------------------------------------------------------------

    def boot(self, name: str, **body: Any) -> dict:
        server = {"name": name, "imageRef": self.rs.images["ami"]["id"], "flavorRef": TINY,
                  **body}
        resp = self.rs.stack.compute("POST", "/servers", {"server": server})
        assert resp.status_code == 202, f"{resp.status_code} {resp.text}"
        return dict(resp.json()["server"])

    def address(self, server: dict) -> str:
        addrs = server["addresses"]
        assert list(addrs) == [self.net_name], f"addresses of {server['id']}: {addrs}"
        assert len(addrs[self.net_name]) == 1
        entry = addrs[self.net_name][0]
        assert entry["version"] == 4 and entry["OS-EXT-IPS:type"] == "fixed"
        assert ipaddress.ip_address(entry["addr"]) in ipaddress.ip_network(self.cidr)
        return str(entry["addr"])

    def wait_http(self, address: str, timeout: float) -> str:
        def get() -> str | None:
            try:
                resp = self.http.get(f"http://{address}/", timeout=2)
            except requests.RequestException:
                return None
            return resp.text if resp.status_code == 200 else None
        return str(wait_until(get, timeout, f"HTTP answer from {address}", interval=0.5))

    def domain(self, server_id: str) -> Any:
        conn = libvirt_connection()
        dom = self.rs.domain(conn, server_id)
        assert dom is not None, f"no domain for {server_id}"
        return dom

    def ports(self, server_id: str) -> list[dict]:
        return network_db.fixed_ip_get_by_instance(server_id)


@pytest.fixture(scope="module")
def ns() -> Iterator[NetStack]:
    try:
        libvirt_connection().close()
    except RealStackError as e:
        pytest.fail(str(e))
    stack = NetStack()
    problems: list[str] = []
    try:
        stack.start()
        yield stack
    finally:
        problems = stack.stop()
    assert not linux_net.device_exists(stack.bridge), f"bridge {stack.bridge} was not removed"
    assert not problems, "the stack was not left clean:\n" + "\n".join(problems)


def bridge_ports(bridge: str) -> list[str]:
    return sorted(os.listdir(f"/sys/class/net/{bridge}/brif"))


def assert_nothing_left(ns: NetStack, server_id: str, taps: list[str]) -> None:
    assert ns.ports(server_id) == [], f"addresses of {server_id} are still allocated"
    for tap in taps:
        assert not linux_net.device_exists(tap), f"tap {tap} of {server_id} is left"
    assert linux_net.device_exists(ns.bridge), "the bridge must stay for the next instance"


# -- one guest: HTTP from the host, config drive, delete leaves nothing ---------------

def test_guest_answers_http_with_its_uuid_and_delete_leaves_only_the_bridge(
        ns: NetStack) -> None:
    with ns.rs.servers() as ids:
        posted = time.monotonic()
        server = ns.boot("net-one")
        sid = server["id"]
        ids.append(sid)
        active = ns.rs.stack.wait_status(sid, "ACTIVE", ACTIVE_TIMEOUT)
        address = ns.address(active)

        body = ns.wait_http(address, HTTP_TIMEOUT)
        print(f"\nPOST → HTTP answer from {address}: {time.monotonic() - posted:.2f}s")
        assert f"uuid={sid}" in body.splitlines()
        assert "hostname=net-one" in body.splitlines()

        # The NIC: on the network's bridge, with the port's MAC and tap name.
        ports = ns.ports(sid)
        assert [p["address"] for p in ports] == [address]
        xml = ns.rs.domain_xml(sid)
        assert xml is not None
        iface = xml.find("devices/interface")
        assert iface is not None and iface.get("type") == "bridge"
        assert iface.find("source").get("bridge") == ns.bridge  # type: ignore[union-attr]
        assert iface.find("mac").get("address") == ports[0]["mac"]  # type: ignore[union-attr]
        assert iface.find("model").get("type") == "virtio"  # type: ignore[union-attr]
        tap = network_model.devname(ports[0]["uuid"])
        assert linux_net.device_exists(tap)
        # The config drive: a read-only disk in the instance directory.
        drives = [d for d in xml.findall("devices/disk")
                  if (d.find("source").get("file") or "").endswith("/disk.config")]  # type: ignore[union-attr]
        assert len(drives) == 1 and drives[0].find("readonly") is not None

        ns.rs.delete(sid)
        ids.remove(sid)
        assert_nothing_left(ns, sid, [tap])


# -- files: personality through the guest agent, user_data on the config drive ------

def _agent_read(ns: NetStack, server_id: str, path: str, timeout: float) -> bytes:
    dom = ns.domain(server_id)

    def read() -> bytes | None:
        try:
            return agent.read_file(dom, path)
        except agent.AgentError:
            return None
    return bytes(wait_until(read, timeout, f"{path} readable through the agent", interval=1))


def test_personality_file_injected_through_the_agent_reads_back_the_same(ns: NetStack) -> None:
    data = bytes(range(256)) + b"\nnovalite personality\n"
    user_data = b"#!/bin/sh\necho hello from user_data\n"
    with ns.rs.servers() as ids:
        server = ns.boot("net-files", personality=[
            {"path": "/etc/novalite/injected.bin", "contents": base64.b64encode(data).decode()}],
            user_data=base64.b64encode(user_data).decode())
        sid = server["id"]
        ids.append(sid)
        ns.rs.stack.wait_status(sid, "ACTIVE", ACTIVE_TIMEOUT)
        assert _agent_read(ns, sid, "/etc/novalite/injected.bin", AGENT_TIMEOUT) == data
        # The config drive carries them too, as OpenStack lays them out.
        meta = json.loads(_agent_read(ns, sid, "/mnt/config/openstack/latest/meta_data.json",
                                      AGENT_TIMEOUT))
        assert meta["uuid"] == sid and meta["hostname"] == "net-files"
        assert meta["files"] == [{"path": "/etc/novalite/injected.bin",
                                  "content_path": "/content/0000"}]
        assert _agent_read(ns, sid, "/mnt/config/openstack/content/0000", 10) == data
        assert _agent_read(ns, sid, "/mnt/config/openstack/latest/user_data", 10) == user_data
        # The injection is an instance action event of the create request.
        result = wait_until(lambda: _create_events(ns, sid).get("compute_inject_files"), 30,
                            "the injection event to finish")
        assert result == "Success", _create_events(ns, sid)


def _create_events(ns: NetStack, server_id: str) -> dict[str, str]:
    resp = ns.rs.stack.compute("GET", f"/servers/{server_id}/os-instance-actions")
    assert resp.status_code == 200, resp.text
    actions = resp.json()["instanceActions"]
    create = [a for a in actions if a["action"] == "create"]
    assert len(create) == 1, actions
    resp = ns.rs.stack.compute(
        "GET", f"/servers/{server_id}/os-instance-actions/{create[0]['request_id']}")
    assert resp.status_code == 200, resp.text
    return {e["event"]: e["result"] for e in resp.json()["instanceAction"]["events"]}


def test_bad_user_data_and_personality_are_refused_with_400(ns: NetStack) -> None:
    too_big = base64.b64encode(b"x" * 50000).decode()     # 66668 characters > 65535
    resp = ns.rs.stack.compute("POST", "/servers", {"server": {
        "name": "big", "imageRef": ns.rs.images["ami"]["id"], "flavorRef": TINY,
        "user_data": too_big}})
    assert resp.status_code == 400, resp.text
    assert "user_data" in resp.text
    for path in ("../etc/passwd", "/etc/../root/x", "relative/path"):
        resp = ns.rs.stack.compute("POST", "/servers", {"server": {
            "name": "badpath", "imageRef": ns.rs.images["ami"]["id"], "flavorRef": TINY,
            "personality": [{"path": path, "contents": "aGVsbG8="}]}})
        assert resp.status_code == 400, f"{path}: {resp.status_code} {resp.text}"
    resp = ns.rs.stack.compute("POST", "/servers", {"server": {
        "name": "nonet", "imageRef": ns.rs.images["ami"]["id"], "flavorRef": TINY,
        "networks": [{"uuid": str(uuid.uuid4())}]}})
    assert resp.status_code == 400, resp.text
    assert "could not be found" in resp.text
    listed = ns.rs.stack.compute("GET", "/servers").json()["servers"]
    assert not [s for s in listed if s["name"] in ("big", "badpath", "nonet")]


# -- two guests on one network --------------------------------------------------------

def test_two_instances_on_the_network_reach_each_other(ns: NetStack) -> None:
    with ns.rs.servers() as ids:
        a = ns.boot("net-a")
        b = ns.boot("net-b", networks=[{"uuid": ns.net["uuid"]}])
        ids += [a["id"], b["id"]]
        addr_a = ns.address(ns.rs.stack.wait_status(a["id"], "ACTIVE", ACTIVE_TIMEOUT))
        addr_b = ns.address(ns.rs.stack.wait_status(b["id"], "ACTIVE", ACTIVE_TIMEOUT))
        assert addr_a != addr_b
        ns.wait_http(addr_a, HTTP_TIMEOUT)
        ns.wait_http(addr_b, HTTP_TIMEOUT)
        # From inside a: fetch b's page (busybox wget, run by the guest agent).
        dom = ns.domain(a["id"])
        agent.wait_ready(dom, time.monotonic() + AGENT_TIMEOUT)
        status = agent.execute(dom, "/bin/busybox", ["wget", "-q", "-O", "-", f"http://{addr_b}/"],
                               time.monotonic() + 30, capture=True)
        out = base64.b64decode(status.get("out-data", "")).decode()
        assert status.get("exitcode") == 0, status
        assert f"uuid={b['id']}" in out.splitlines(), out


# -- eight at once ------------------------------------------------------------------------

def test_eight_concurrent_instances_get_distinct_addresses_and_all_answer(
        ns: NetStack) -> None:
    with ns.rs.servers() as ids:
        booted: list[dict] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def boot(i: int) -> None:
            try:
                server = ns.boot(f"net-c{i}")
                with lock:
                    booted.append(server)
                    ids.append(server["id"])
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=boot, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        addresses = {}
        for server in booted:
            active = ns.rs.stack.wait_status(server["id"], "ACTIVE", CONCURRENT_TIMEOUT)
            addresses[server["id"]] = ns.address(active)
        assert len(set(addresses.values())) == 8, addresses
        ports = network_db.fixed_ip_get_all(ns.net["id"])
        assert sorted(p["address"] for p in ports) == sorted(addresses.values())
        assert len({p["mac"] for p in ports}) == 8
        for sid, address in addresses.items():
            body = ns.wait_http(address, CONCURRENT_TIMEOUT)
            assert f"uuid={sid}" in body.splitlines()
        taps = [network_model.devname(p["uuid"]) for p in ports]
        for sid in list(ids):
            ns.rs.stack.compute("DELETE", f"/servers/{sid}")
        for sid in list(ids):
            ns.rs.stack.wait_gone(sid, 120)
            ids.remove(sid)
        for sid in addresses:
            assert_nothing_left(ns, sid, taps)
        assert network_db.fixed_ip_get_all(ns.net["id"]) == []
        assert bridge_ports(ns.bridge) == []


def test_delete_during_the_build_leaves_nothing_but_the_bridge(ns: NetStack) -> None:
    server = ns.boot("net-hasty")
    sid = server["id"]
    ns.rs.stack.wait_for(sid, lambda s: s.get("OS-EXT-STS:task_state") in (
        "block_device_mapping", "spawning") or s.get("status") == "ACTIVE", 60, "the build")
    ports = ns.ports(sid)
    ns.rs.delete(sid, timeout=90)
    assert ns.ports(sid) == []
    for p in ports:
        assert not linux_net.device_exists(network_model.devname(p["uuid"]))
    # NOTE: the spawn may have been cancelled before it made the bridge.
    if linux_net.device_exists(ns.bridge):
        assert bridge_ports(ns.bridge) == []
    assert ns.rs.instance_dirs() == []


def test_failed_injection_leaves_the_instance_active_with_an_error_event(ns: NetStack) -> None:
    # The config drive is mounted read-only in the guest: writing there fails.
    path = "/mnt/config/cannot-write.txt"
    with ns.rs.servers() as ids:
        server = ns.boot("net-badfile", personality=[
            {"path": path, "contents": base64.b64encode(b"x").decode()}])
        sid = server["id"]
        ids.append(sid)
        ns.rs.stack.wait_status(sid, "ACTIVE", ACTIVE_TIMEOUT)
        result = wait_until(lambda: _create_events(ns, sid).get("compute_inject_files"),
                            AGENT_TIMEOUT, "the injection event to finish")
        assert result == "Error"
        resp = ns.rs.stack.compute("GET", f"/servers/{sid}/os-instance-actions")
        request_id = resp.json()["instanceActions"][0]["request_id"]
        action = ns.rs.stack.compute(
            "GET", f"/servers/{sid}/os-instance-actions/{request_id}").json()["instanceAction"]
        assert action["message"] == "Error"
        failed = [e for e in action["events"] if e["event"] == "compute_inject_files"][0]
        assert path in failed["traceback"] and "guest-file-open" in failed["traceback"]
        server = ns.rs.stack.server(sid)
        assert server["status"] == "ACTIVE"
        ns.wait_http(ns.address(server), HTTP_TIMEOUT)
