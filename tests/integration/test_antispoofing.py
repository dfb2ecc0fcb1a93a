"""Tenants on one bridge (issue 10, item 7), on the real libvirtd + QEMU with
the tiny guest: a guest that takes another's address sends nothing with it,
and a guest cannot reach a service on the host's bridge address. One pair of
guests serves every check (CI time); deleting them removes their rules.

What the host sees is read from the bridge itself (a packet socket on the
bridge device): a spoofed frame that got past the port's filter would show
there."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest

from novalite.network import filtering
from novalite.network import model as network_model
from novalite.virt.libvirt import agent
from tests.integration.realstack import libvirt_connection
from tests.integration.test_networking import (
    ACTIVE_TIMEOUT,
    AGENT_TIMEOUT,
    HTTP_TIMEOUT,
    NetStack,
)

pytestmark = pytest.mark.integration

ETH_P_ALL = 0x0003


@pytest.fixture(scope="module")
def ns() -> Iterator[NetStack]:
    stack = NetStack()
    problems: list[str] = []
    try:
        stack.start()
        yield stack
    finally:
        problems = stack.stop()
    assert not problems, "the stack was not left clean:\n" + "\n".join(problems)


class Guest:
    def __init__(self, ns: NetStack, server: dict) -> None:
        self.id = server["id"]
        self.address = ns.address(server)
        port = ns.ports(self.id)[0]
        self.mac = str(port["mac"]).lower()
        self.tap = network_model.devname(port["uuid"])
        self.domain = ns.domain(self.id)

    def run(self, *args: str, timeout: float = 30) -> tuple[int, str]:
        """A busybox applet in the guest (qemu-ga runs it without a shell:
        busybox's sh dies there without an environment)."""
        status = agent.execute(self.domain, "/bin/busybox", list(args),
                               time.monotonic() + timeout, capture=True)
        out = base64.b64decode(status.get("out-data", "")).decode(errors="replace")
        out += base64.b64decode(status.get("err-data", "")).decode(errors="replace")
        return int(status.get("exitcode", -1)), out


@pytest.fixture(scope="module")
def pair(ns: NetStack) -> Iterator[tuple[Guest, Guest]]:
    with ns.rs.servers() as ids:
        a, b = ns.boot("spoof-a"), ns.boot("spoof-b")
        ids += [a["id"], b["id"]]
        guests = []
        for s in (a, b):
            guest = Guest(ns, ns.rs.stack.wait_status(s["id"], "ACTIVE", ACTIVE_TIMEOUT))
            ns.wait_http(guest.address, HTTP_TIMEOUT)
            agent.wait_ready(guest.domain, time.monotonic() + AGENT_TIMEOUT)
            guests.append(guest)
        yield guests[0], guests[1]


@contextlib.contextmanager
def bridge_capture(bridge: str) -> Iterator[list[bytes]]:
    """Every frame the bridge device receives while the block runs."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((bridge, 0))
    sock.settimeout(0.2)
    frames: list[bytes] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                frames.append(sock.recv(2048))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        yield frames
        time.sleep(0.5)
    finally:
        stop.set()
        reader.join(5)
        sock.close()


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def claims(frames: list[bytes], mac: str, address: str) -> list[str]:
    """Frames from ``mac`` that claim ``address``: as ARP sender or IPv4 source."""
    ip = socket.inet_aton(address)
    out = []
    for f in frames:
        if len(f) < 34 or _mac(f[6:12]) != mac:
            continue
        ethertype = int.from_bytes(f[12:14], "big")
        if ethertype == 0x0806 and f[28:32] == ip:
            out.append(f"ARP claiming {address}")
        elif ethertype == 0x0800 and f[26:30] == ip:
            out.append(f"IPv4 from {address}")
    return out


def test_each_port_has_libvirts_clean_traffic_with_its_mac_and_address(
        ns: NetStack, pair: tuple[Guest, Guest]) -> None:
    for guest in pair:
        xml = ns.rs.domain_xml(guest.id)
        assert xml is not None
        ref = xml.find("./devices/interface/filterref")
        assert ref is not None and ref.get("filter") == "clean-traffic"
        params = {(p.get("name"), p.get("value")) for p in ref.findall("parameter")}
        assert params == {("MAC", guest.mac), ("IP", guest.address)}, params
        bindings = {b.portDev(): ET.fromstring(b.XMLDesc(0)).find("filterref").get("filter")
                    for b in libvirt_connection().listAllNWFilterBindings(0)}
        assert bindings.get(guest.tap) == "clean-traffic", bindings
        assert filtering.port_rules(guest.tap) == 1


def test_guest_taking_anothers_address_sends_nothing_with_it(
        ns: NetStack, pair: tuple[Guest, Guest]) -> None:
    a, b = pair
    # the network works between them (so silence below is the filter's doing)
    code, out = b.run("wget", "-q", "-O", "-", f"http://{a.address}/")
    assert code == 0 and f"uuid={a.id}" in out, out
    with bridge_capture(ns.bridge) as frames:
        b.run("ip", "addr", "add", f"{a.address}/32", "dev", "eth0")
        try:
            # "a's address is at b's MAC", then traffic from a's address
            b.run("arping", "-U", "-c", "2", "-w", "3", "-I", "eth0", a.address)
            b.run("ping", "-c", "2", "-W", "1", "-I", a.address, ns.net["gateway"])
            # b announcing its own address: allowed, and seen
            b.run("arping", "-U", "-c", "2", "-w", "3", "-I", "eth0", b.address)
        finally:
            b.run("ip", "addr", "del", f"{a.address}/32", "dev", "eth0")
    assert claims(frames, b.mac, b.address), \
        "b's own announcements never reached the bridge: the capture proved nothing"
    assert claims(frames, b.mac, a.address) == [], "b's claim on a's address got through"
    # and the host still reaches a (not b) at a's address
    neigh = subprocess.run(["ip", "neigh", "show", "to", a.address, "dev", ns.bridge],
                           capture_output=True, text=True, check=True).stdout
    assert b.mac not in neigh, neigh
    assert f"uuid={a.id}" in ns.wait_http(a.address, 30)


def test_guest_cannot_reach_a_service_on_the_hosts_bridge_address(
        ns: NetStack, pair: tuple[Guest, Guest]) -> None:
    a, b = pair
    # NOTE: busybox wget's own -T dies by SIGSEGV in this guest; the
    # timeout applet bounds it instead. The same command reaches a guest:
    code, out = b.run("timeout", "5", "wget", "-q", "-O", "-", f"http://{a.address}/")
    assert code == 0 and f"uuid={a.id}" in out, out
    gateway = ns.net["gateway"]
    accepted: list[Any] = []
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as srv:
        srv.bind((gateway, 0))
        srv.listen(8)
        srv.settimeout(0.2)
        port = srv.getsockname()[1]
        stop = threading.Event()

        def serve() -> None:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    conn, peer = srv.accept()
                    accepted.append(peer)
                    conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nhost-service\n")
                    conn.close()

        server = threading.Thread(target=serve)
        server.start()
        try:
            # the listener answers the host itself
            with socket.create_connection((gateway, port), timeout=5) as c:
                assert b"host-service" in c.recv(100)
            code, out = b.run("timeout", "5", "wget", "-q", "-O", "-",
                              f"http://{gateway}:{port}/")
            code_ping, _ = b.run("ping", "-c", "1", "-W", "2", gateway)
        finally:
            stop.set()
            server.join(5)
    assert code != 0 and "host-service" not in out, out
    assert code_ping != 0, "the guest reached the host's bridge address (ping)"
    assert [p for p in accepted if p[0] != gateway] == [], accepted


def test_a_restarted_server_gets_its_port_rule_back(ns: NetStack,
                                                  pair: tuple[Guest, Guest]) -> None:
    """A host reboot takes the nftables rules with it; starting the server
    plugs its port again (as Nova's hard reboot)."""
    a, _b = pair
    ns.rs.action(a.id, {"os-stop": None})
    ns.rs.stack.wait_status(a.id, "SHUTOFF", ACTIVE_TIMEOUT)
    filtering.unprotect_host(a.tap)         # what a host reboot does to it
    assert filtering.port_rules(a.tap) == 0
    ns.rs.action(a.id, {"os-start": None})
    ns.rs.stack.wait_status(a.id, "ACTIVE", ACTIVE_TIMEOUT)
    assert filtering.port_rules(a.tap) == 1
    bindings = [b.portDev() for b in libvirt_connection().listAllNWFilterBindings(0)]
    assert a.tap in bindings


def test_deleting_the_guests_removes_their_port_rules(
        ns: NetStack, pair: tuple[Guest, Guest]) -> None:
    for guest in pair:
        ns.rs.delete(guest.id)
    bindings = [b.portDev() for b in libvirt_connection().listAllNWFilterBindings(0)]
    for guest in pair:
        assert guest.tap not in bindings
        assert filtering.port_rules(guest.tap) == 0
    out = subprocess.run(["nft", "-j", "list", "chain", "inet", filtering.TABLE,
                          filtering.INPUT], capture_output=True, text=True, check=True).stdout
    comments = [i["rule"].get("comment", "") for i in json.loads(out)["nftables"]
                if "rule" in i]
    assert not [c for c in comments if any(g.tap in c for g in pair)], comments
