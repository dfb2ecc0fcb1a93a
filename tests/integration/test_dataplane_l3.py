"""Routers, SNAT, floating IPs and the metadata proxy on the real kernel
(issue 13, item 2): ``l3.apply`` and ``metadata_proxy.apply`` given whole
host states, judged from the outside.

The host is this machine's root namespace (so "the host reaches a floating IP"
is the real thing), then once more a namespace standing in for a host (as the
tests that put several hosts on one kernel run the data plane, ``host_netns``).
The external bridge holds the external subnet's gateway address, as the
all-in-one's ``public`` network does. The external subnet is
DevStack's 172.24.4.0/24 when this host does not use it already, else the
next free 172.24.N.0/24. Two tenant networks (bridges without addresses, the
layer-2 side's job, stood in for here), one guest on each (a namespace with a
veth on the bridge), and an "outside" namespace on the external bridge that
stands in for the world. Every object carries a per-run prefix and is removed
at the end, also on failure.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.server
import ipaddress
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from novalite.network import linux_net
from novalite.network.dataplane import l3, metadata_proxy, names
from novalite.network.dataplane.state import (
    HDR_FORWARDED_FOR,
    HDR_NETWORK_ID,
    HDR_SIGNATURE,
    FloatingIP,
    HostState,
    Metadata,
    Network,
    Router,
    RouterGateway,
    RouterInterface,
    Subnet,
)

pytestmark = pytest.mark.integration

PY = sys.executable
ECHO_PORT = 8000        # answers with the TCP source address it saw
STREAM_PORT = 8001      # echoes lines on one connection (established flows)

# A server that answers any request with the peer's address (what NAT did).
PEER_SERVER = r"""
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(16)
def echo_lines(c):
    with c, c.makefile("rb") as f:
        for line in f:
            c.sendall(line)
if len(sys.argv) > 3:
    s2 = socket.socket()
    s2.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s2.bind((sys.argv[1], int(sys.argv[3])))
    s2.listen(16)
    def lines():
        while True:
            c, _ = s2.accept()
            threading.Thread(target=echo_lines, args=(c,), daemon=True).start()
    threading.Thread(target=lines, daemon=True).start()
print("ready", flush=True)
while True:
    c, peer = s.accept()
    c.settimeout(5)
    try:
        c.recv(4096)
        c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + peer[0].encode())
    except OSError:
        pass
    c.close()
"""

# One TCP connection kept open: a line echoed, then (told on stdin) another.
STREAM_CLIENT = r"""
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
f = c.makefile("rb")
c.sendall(b"one\n")
print(f.readline().decode().strip(), flush=True)
sys.stdin.readline()
try:
    c.sendall(b"two\n")
    print(f.readline().decode().strip() or "closed", flush=True)
except OSError as e:
    print("cut", type(e).__name__, flush=True)
"""

# A client that sends half a request and waits: the proxy must cut it.
SLOW_CLIENT = r"""
import socket
c = socket.create_connection(("169.254.169.254", 80), timeout=120)
c.sendall(b"GET /openstack HTTP/1.0\r\nX-Slow: ")
try:
    data = c.recv(4096)
    print("closed" if not data else "answered " + data[:40].decode(errors="replace"))
except OSError as e:
    print("closed", type(e).__name__)
"""


def run(*cmd: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)


def must(*cmd: str) -> str:
    r = run(*cmd)
    assert r.returncode == 0, f"{' '.join(cmd)}: {r.stderr.strip()}"
    return r.stdout


def in_ns(ns: str | None, *cmd: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *cmd] if ns else list(cmd)


def curl(ns: str | None, url: str, *extra: str) -> tuple[int, str]:
    r = run(*in_ns(ns, "curl", "-s", "-S", "--noproxy", "*", "--connect-timeout", "3",
                   "-m", "10", *extra, url))
    return r.returncode, r.stdout


def free_external_cidr() -> str:
    taken = linux_net.host_networks()
    for n in range(4, 255):
        candidate = ipaddress.ip_network(f"172.24.{n}.0/24")
        if not any(candidate.overlaps(t) for t in taken):
            return str(candidate)
    raise AssertionError("no free 172.24.N.0/24 on this host")


class Recorder(http.server.ThreadingHTTPServer):
    """The stand-in metadata service: records what each request carried.
    It listens on the host's loopback (in ``host_ns`` when the host is one)."""

    daemon_threads = True

    def __init__(self, host_ns: str | None) -> None:
        super().__init__(("127.0.0.1", 0), _RecordingHandler, bind_and_activate=False)
        if host_ns:
            self.socket.close()
            self.socket = l3.socket_in(host_ns, socket.AF_INET, socket.SOCK_STREAM)
        self.server_bind()
        self.server_activate()
        self.seen: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    server: Recorder

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.server.seen.append({"method": self.command, "path": self.path,
                                 "headers": list(self.headers.items()),
                                 "body": self.rfile.read(length) if length else b""})
        body = b"meta " + self.path.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _record

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Guest:
    ns: str
    network: Network
    address: str
    mac: str
    port_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class World:
    prefix: str
    state_dir: str
    external: Network
    host_ip: str          # on the external bridge (the external gateway)
    router_ip: str        # the router's gateway address
    outside_ip: str
    floating_ip: str
    outside: str          # the outside namespace
    router_id: str
    networks: list[Network]
    interfaces: list[RouterInterface]
    guests: dict[str, Guest]
    recorder: Recorder
    secret: str
    host_ns: str | None = None
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def host(self) -> l3.Host:
        return l3.Host(self.host_ns)

    def state(self, *, fip: bool = False, router: bool = True, metadata: bool = True,
              secret: str | None = None) -> HostState:
        gw = RouterGateway(network_id=self.external.id, address=self.router_ip,
                           cidr=self.external.subnets[0].cidr,
                           gateway_ip=self.external.subnets[0].gateway_ip)
        a = self.guests["a"]
        fips = (FloatingIP(id=str(uuid.uuid5(uuid.NAMESPACE_OID, self.floating_ip)),
                           address=self.floating_ip, fixed_address=a.address,
                           port_id=a.port_id),) if fip else ()
        routers = (Router(id=self.router_id, gateway=gw, interfaces=tuple(self.interfaces),
                          floating_ips=fips),) if router else ()
        meta = Metadata(service_url=self.recorder.url,
                        shared_secret=secret or self.secret) if metadata else None
        return HostState(host="l3-test", local_ip="127.0.0.1",
                         networks=(self.external, *self.networks), routers=routers,
                         metadata=meta)

    def apply(self, state: HostState) -> None:
        l3.apply(state, prefix=self.prefix, host_netns=self.host_ns)
        assert metadata_proxy.apply(state, prefix=self.prefix, state_dir=self.state_dir,
                                    host_netns=self.host_ns) == []

    @property
    def router_ns(self) -> str:
        return l3.router_namespace(self.prefix, self.router_id)

    def serve(self, ns: str, address: str, *ports: int) -> None:
        proc = subprocess.Popen(in_ns(ns, PY, "-c", PEER_SERVER, address,
                                      *[str(p) for p in ports]),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr


def _veth_into(host_ns: str | None, ns: str, host_end: str, bridge: str, mac: str | None,
               cidr_address: str, gateway: str | None) -> None:
    must("ip", "netns", "add", ns)
    must(*in_ns(host_ns, "ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0",
                "netns", ns))
    must(*in_ns(host_ns, "ip", "link", "set", "dev", host_end, "master", bridge, "up"))
    must("ip", "-n", ns, "link", "set", "lo", "up")
    if mac:
        must("ip", "-n", ns, "link", "set", "eth0", "address", mac)
    must("ip", "-n", ns, "addr", "add", cidr_address, "dev", "eth0")
    must("ip", "-n", ns, "link", "set", "eth0", "up")
    if gateway:
        must("ip", "-n", ns, "route", "add", "default", "via", gateway)


def _mac(n: int) -> str:
    return f"fa:16:3e:{secrets.randbelow(256):02x}:{secrets.randbelow(256):02x}:{n:02x}"


def _build(prefix: str, state_dir: str, recorder: Recorder, host_ns: str | None) -> World:
    cidr = ipaddress.ip_network(free_external_cidr())
    hosts = list(cidr.hosts())
    ext = Network(id=str(uuid.uuid4()), vni=1, mtu=1500, external=True,
                  subnets=(Subnet(id=str(uuid.uuid4()), network_id="", cidr=str(cidr),
                                  gateway_ip=str(hosts[0])),))
    nets, ifaces, guests = [], [], {}
    for n, name in enumerate(("a", "b"), start=1):
        net_id = str(uuid.uuid4())
        sub = ipaddress.ip_network(f"10.{160 + secrets.randbelow(60)}.{n}.0/24")
        gw, addr = next(iter(sub.hosts())), list(sub.hosts())[9]
        net = Network(id=net_id, vni=2000 + n, subnets=(Subnet(
            id=str(uuid.uuid4()), network_id=net_id, cidr=str(sub), gateway_ip=str(gw)),))
        nets.append(net)
        ifaces.append(RouterInterface(port_id=str(uuid.uuid4()), network_id=net_id,
                                      subnet_id=net.subnets[0].id, address=str(gw),
                                      cidr=str(sub), mac=_mac(n)))
        guests[name] = Guest(ns=f"{prefix}g-{name}", network=net, address=str(addr),
                             mac=_mac(10 + n))
    return World(prefix=prefix, state_dir=state_dir, external=ext, host_ip=str(hosts[0]),
                 router_ip=str(hosts[9]), outside_ip=str(hosts[99]),
                 floating_ip=str(hosts[19]), outside=f"{prefix}out",
                 router_id=str(uuid.uuid4()), networks=nets, interfaces=ifaces,
                 guests=guests, recorder=recorder, secret=secrets.token_hex(16),
                 host_ns=host_ns)


def _layer2(w: World) -> None:
    """What the layer-2 side would make: the tenant bridges, the guests and
    the outside namespace on their bridges."""
    for net in w.networks:
        must(*in_ns(w.host_ns, "ip", "link", "add", names.bridge(w.prefix, net), "type",
                    "bridge", "stp_state", "0", "forward_delay", "0"))
        must(*in_ns(w.host_ns, "ip", "link", "set", "dev", names.bridge(w.prefix, net), "up"))
    for key, g in w.guests.items():
        sub = g.network.subnets[0]
        plen = ipaddress.ip_network(sub.cidr).prefixlen
        _veth_into(w.host_ns, g.ns, f"{w.prefix}g{key}", names.bridge(w.prefix, g.network), g.mac,
                   f"{g.address}/{plen}", sub.gateway_ip)
    plen = ipaddress.ip_network(w.external.subnets[0].cidr).prefixlen
    _veth_into(w.host_ns, w.outside, f"{w.prefix}out", names.bridge(w.prefix, w.external), None,
               f"{w.outside_ip}/{plen}", None)


def devices(host_ns: str | None, prefix: str) -> list[str]:
    """This run's devices on the host's side."""
    if host_ns and host_ns not in l3.namespaces():
        return []
    return [name for name in l3.Host(host_ns).links()
            if name.startswith(prefix)]


def leftovers(prefix: str, state_dir: str) -> list[str]:
    """Every object of this run still on the kernel."""
    found = [f"namespace {ns}" for ns in l3.namespaces() if ns.startswith(prefix)]
    found += [f"device {d}" for d in os.listdir("/sys/class/net") if d.startswith(prefix)]
    found += [f"proxy pid {p.pid}" for p in metadata_proxy.running(state_dir)]
    return found


def _teardown(w: World | None, prefix: str, state_dir: str) -> list[str]:
    problems = []
    if w is not None:
        for proc in w.procs:
            proc.kill()
            proc.wait()
        with contextlib.suppress(Exception):
            w.apply(w.state(router=False, metadata=False))
    metadata_proxy.stop_all(state_dir)
    # NOTE: the host's namespace last: the others' veths end in it.
    for ns in sorted(l3.namespaces(), key=lambda n: (n == f"{prefix}host", n)):
        if ns.startswith(prefix):
            r = run("ip", "netns", "delete", ns)
            if r.returncode:
                problems.append(f"ip netns delete {ns}: {r.stderr.strip()}")
    for dev in sorted(os.listdir("/sys/class/net")):
        if dev.startswith(prefix) and os.path.exists(f"/sys/class/net/{dev}"):
            run("ip", "link", "del", "dev", dev)
    shutil.rmtree(state_dir, ignore_errors=True)
    return problems + leftovers(prefix, state_dir)


@pytest.fixture(scope="module", params=["root", "host-netns"])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    """The host is the root namespace, or (as the tests that stand several
    hosts up on one kernel) a namespace of its own."""
    prefix = "t" + secrets.token_hex(3)[:5]
    state_dir = tempfile.mkdtemp(prefix="novalite-l3-")
    host_ns = f"{prefix}host" if request.param == "host-netns" else None
    recorder: Recorder | None = None
    w: World | None = None
    try:
        if host_ns:
            must("ip", "netns", "add", host_ns)
            must("ip", "-n", host_ns, "link", "set", "lo", "up")
        recorder = Recorder(host_ns)
        threading.Thread(target=recorder.serve_forever, daemon=True).start()
        w = _build(prefix, state_dir, recorder, host_ns)
        # The external bridge first (l3 makes it), then what L2 would make.
        l3.apply(w.state(router=False, metadata=False), prefix=prefix, host_netns=host_ns)
        _layer2(w)
        w.apply(w.state())
        for g in w.guests.values():
            w.serve(g.ns, g.address, ECHO_PORT, STREAM_PORT)
        w.serve(w.outside, w.outside_ip, ECHO_PORT, STREAM_PORT)
        yield w
    finally:
        if recorder is not None:
            recorder.shutdown()
            recorder.server_close()
        problems = _teardown(w, prefix, state_dir)
    assert not problems, "left behind: " + ", ".join(problems)


def test_snat_shows_the_router_gateway_address(world: World) -> None:
    world.apply(world.state())
    for g in world.guests.values():
        rc, body = curl(g.ns, f"http://{world.outside_ip}:{ECHO_PORT}/")
        assert (rc, body) == (0, world.router_ip), g.ns


def test_floating_ip_answers_from_outside_and_from_the_host(world: World) -> None:
    world.apply(world.state(fip=True))
    a, b = world.guests["a"], world.guests["b"]
    # DNAT keeps the asker's address: the guest sees who connected.
    assert curl(world.outside, f"http://{world.floating_ip}:{ECHO_PORT}/") \
        == (0, world.outside_ip)
    assert curl(world.host_ns, f"http://{world.floating_ip}:{ECHO_PORT}/") \
        == (0, world.host_ip)
    # 1:1: the guest's own connections leave from its floating IP, others' do not.
    assert curl(a.ns, f"http://{world.outside_ip}:{ECHO_PORT}/") == (0, world.floating_ip)
    assert curl(b.ns, f"http://{world.outside_ip}:{ECHO_PORT}/") == (0, world.router_ip)
    # Only the floating IP leads in: the router's own address does not.
    rc, _ = curl(world.outside, f"http://{world.router_ip}:{ECHO_PORT}/")
    assert rc != 0


@contextlib.contextmanager
def open_streams(*ends: tuple[str, str]) -> Iterator[list[subprocess.Popen[str]]]:
    """One open TCP connection from each (namespace, address), a line echoed."""
    clients = []
    try:
        for ns, address in ends:
            client = subprocess.Popen(in_ns(ns, PY, "-c", STREAM_CLIENT, address,
                                            str(STREAM_PORT)),
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
            clients.append(client)
            assert client.stdout is not None
            assert client.stdout.readline().strip() == "one", (ns, address)
        yield clients
    finally:
        for client in clients:
            if client.poll() is None:
                client.kill()
                client.wait()


def second_line(client: subprocess.Popen[str]) -> str:
    out, _err = client.communicate("go\n", timeout=60)
    return out.strip()


def test_disassociating_closes_new_and_open_connections(world: World) -> None:
    world.apply(world.state(fip=True))
    a = world.guests["a"]
    # Open both ways: outside -> floating IP (DNAT), guest -> outside (SNAT to it).
    with open_streams((world.outside, world.floating_ip), (a.ns, world.outside_ip)) \
            as (inbound, outbound):
        with open_streams((world.outside, world.floating_ip)) as (control,):
            world.apply(world.state(fip=True))
            assert second_line(control) == "two", "re-applying the same state cut a flow"
        world.apply(world.state(fip=False))
        assert second_line(inbound) != "two", "an inbound flow survived the disassociation"
        assert second_line(outbound) != "two", \
            "an outbound flow survived the disassociation"
    rc, _ = curl(world.outside, f"http://{world.floating_ip}:{ECHO_PORT}/")
    assert rc != 0
    qg = l3.gateway_leg(world.router_id)
    assert f"{world.floating_ip}/32" not in world.host.addresses(qg, world.router_ns)
    ruleset = must(*in_ns(world.router_ns, "nft", "list", "ruleset"))
    assert world.floating_ip not in ruleset
    assert curl(world.guests["a"].ns, f"http://{world.outside_ip}:{ECHO_PORT}/") \
        == (0, world.router_ip)


def _snapshot(w: World) -> dict[str, str]:
    """What the kernel holds for this run, with every id that a re-creation
    would change (ifindex, rule handles) and the proxies' pids."""
    keep = ("ifindex", "ifname", "master", "mtu", "address", "ifalias", "flags")
    links = [{k: link.get(k) for k in keep} for name, link in w.host.links().items()
             if name.startswith(w.prefix)]
    return {
        "host links": repr(links),
        "host addresses": repr(w.host.addresses(names.bridge(w.prefix, w.external))),
        "router links": repr([{k: link.get(k) for k in keep}
                              for link in w.host.links_in(w.router_ns).values()]),
        "router addresses": must("ip", "-n", w.router_ns, "-j", "addr", "show"),
        "router routes": must("ip", "-n", w.router_ns, "-j", "route", "show"),
        "router nft": must(*in_ns(w.router_ns, "nft", "-a", "list", "ruleset")),
        "proxies": repr(sorted((p.pid, p.listener) for p in
                               metadata_proxy.running(w.state_dir))),
        "namespaces": repr(sorted(ns for ns in l3.namespaces() if ns.startswith(w.prefix))),
    }


def test_applying_the_same_state_twice_changes_nothing(world: World) -> None:
    state = world.state(fip=True)
    world.apply(state)
    before = _snapshot(world)
    world.apply(state)
    after = _snapshot(world)
    for key in before:
        assert after[key] == before[key], key


def _headers(seen: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in seen["headers"] if k.lower() == name.lower()]


def test_metadata_proxy_signs_what_it_saw(world: World) -> None:
    world.apply(world.state())
    path = "/openstack/latest/meta_data.json"
    for key, g in world.guests.items():
        world.recorder.seen.clear()
        forged = ["-H", "X-Forwarded-For: 10.99.99.99",
                  "-H", "X-Novalite-Signature: " + "0" * 64,
                  "-H", "X-Novalite-Network-ID: " + world.networks[1 - (key == "b")].id,
                  "-H", "X-Novalite-Other: x", "-H", "Forwarded: for=10.99.99.99"]
        assert curl(g.ns, f"http://169.254.169.254{path}", *forged) == (0, f"meta {path}")
        [seen] = world.recorder.seen
        assert seen["path"] == path
        assert _headers(seen, HDR_FORWARDED_FOR) == [g.address]
        assert _headers(seen, HDR_NETWORK_ID) == [g.network.id]
        assert _headers(seen, HDR_SIGNATURE) == [
            metadata_proxy.sign(world.secret, g.network.id, g.address)]
        assert _headers(seen, "X-Novalite-Other") == _headers(seen, "Forwarded") == []
        assert "10.99.99.99" not in repr(seen["headers"])


def test_metadata_proxy_limits(world: World) -> None:
    world.apply(world.state())
    a, b = world.guests["a"], world.guests["b"]
    url = "http://169.254.169.254/openstack/latest/password"
    world.recorder.seen.clear()
    assert curl(a.ns, url, "-X", "POST", "--data-binary", "secret-pw")[0] == 0
    assert [s["body"] for s in world.recorder.seen] == [b"secret-pw"]
    rc, _ = curl(a.ns, url, "-f", "-X", "POST", "--data-binary",
                 "x" * (metadata_proxy.MAX_BODY + 1))
    assert rc == 22        # curl -f: an HTTP error (413)
    rc, _ = curl(a.ns, url, "-f", "-H", "X-Big: " + "y" * metadata_proxy.MAX_HEAD)
    assert rc == 22        # 431
    # A control character in the path: refused here, never sent on.
    raw = ("import socket; c = socket.create_connection(('169.254.169.254', 80), timeout=10); "
           "c.sendall(b'GET /a\\x01b HTTP/1.0\\r\\n\\r\\n'); print(c.recv(64)[:12].decode())")
    world.recorder.seen.clear()
    assert must(*in_ns(a.ns, PY, "-c", raw)).strip() == "HTTP/1.0 400"
    assert world.recorder.seen == []
    slow = subprocess.Popen(in_ns(a.ns, PY, "-c", SLOW_CLIENT), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        # NOTE: while the slow client hangs on, others are served.
        time.sleep(1)
        assert curl(b.ns, url)[0] == 0
        out, err = slow.communicate(timeout=metadata_proxy.CLIENT_DEADLINE + 60)
        assert out.startswith("closed"), (out, err)
    finally:
        if slow.poll() is None:
            slow.kill()
            slow.wait()


def test_a_new_secret_restarts_the_proxies(world: World) -> None:
    world.apply(world.state())
    before = {p.pid for p in metadata_proxy.running(world.state_dir)}
    assert len(before) == 2
    world.apply(world.state(secret="another-secret"))
    try:
        after = {p.pid for p in metadata_proxy.running(world.state_dir)}
        assert len(after) == 2 and not after & before
        a = world.guests["a"]
        world.recorder.seen.clear()
        assert curl(a.ns, "http://169.254.169.254/latest/meta-data/")[0] == 0
        assert _headers(world.recorder.seen[0], HDR_SIGNATURE) == [
            metadata_proxy.sign("another-secret", a.network.id, a.address)]
    finally:
        world.apply(world.state())


def test_removing_the_router_leaves_nothing(world: World) -> None:
    world.apply(world.state(fip=True))
    assert world.router_ns in l3.namespaces()
    world.apply(world.state(router=False))
    assert world.router_ns not in l3.namespaces()
    assert [d for d in devices(world.host_ns, world.prefix)
            if d.startswith((f"{world.prefix}rg", f"{world.prefix}ri"))] == []
    assert metadata_proxy.running(world.state_dir) == []
    assert os.listdir(world.state_dir) == []
    # The guests lost their way out; the external bridge keeps the host's address.
    assert curl(world.guests["a"].ns, f"http://{world.outside_ip}:{ECHO_PORT}/")[0] != 0
    plen = ipaddress.ip_network(world.external.subnets[0].cidr).prefixlen
    assert f"{world.host_ip}/{plen}" in world.host.addresses(
        names.bridge(world.prefix, world.external))
    # And back: the same state makes the same router again.
    world.apply(world.state(fip=True))
    assert curl(world.outside, f"http://{world.floating_ip}:{ECHO_PORT}/") \
        == (0, world.outside_ip)


def test_metadata_proxy_in_a_dhcp_namespace(world: World) -> None:
    """A network no router here serves: the proxy listens on the DHCP
    server's leg (stood in for here: a namespace with the DHCP side's names),
    which its guests reach through DHCP's 169.254.169.254/32 route."""
    b = world.guests["b"]
    net = b.network
    sub = ipaddress.ip_network(net.subnets[0].cidr)
    dhcp_ip = str(list(sub.hosts())[1])
    ns, inner = names.dhcp_namespace(world.prefix, net.id), names.dhcp_inner(net.id)
    must("ip", "netns", "add", ns)
    host_end = names.dhcp_host_end(world.prefix, net.id)
    must(*in_ns(world.host_ns, "ip", "link", "add", host_end, "type", "veth", "peer", "name",
                inner, "netns", ns))
    must(*in_ns(world.host_ns, "ip", "link", "set", "dev", host_end, "master",
                names.bridge(world.prefix, net), "up"))
    must("ip", "-n", ns, "addr", "add", f"{dhcp_ip}/{sub.prefixlen}", "dev", inner)
    must("ip", "-n", ns, "link", "set", inner, "up")
    must("ip", "-n", b.ns, "route", "add", "169.254.169.254/32", "via", dhcp_ip)
    legs = {net.id: (ns, inner)}
    state = dataclasses.replace(world.state(router=False), dhcp_networks=(net.id,))
    try:
        l3.apply(state, prefix=world.prefix, host_netns=world.host_ns)
        metadata_proxy.apply(state, prefix=world.prefix, state_dir=world.state_dir,
                             host_netns=world.host_ns, dhcp_legs=legs)
        [proc] = metadata_proxy.running(world.state_dir)
        assert proc.listener == metadata_proxy.Listener(ns, inner, net.id)
        world.recorder.seen.clear()
        assert curl(b.ns, "http://169.254.169.254/openstack/latest/user_data")[0] == 0
        [seen] = world.recorder.seen
        assert _headers(seen, HDR_NETWORK_ID) == [net.id]
        assert _headers(seen, HDR_FORWARDED_FOR) == [b.address]
        # The network leaves DHCP here: its proxy and address go.
        metadata_proxy.apply(world.state(router=False), prefix=world.prefix,
                             state_dir=world.state_dir, host_netns=world.host_ns,
                             dhcp_legs=legs)
        assert metadata_proxy.running(world.state_dir) == []
        assert "169.254.169.254/32" not in world.host.addresses(inner, ns)
    finally:
        run("ip", "-n", b.ns, "route", "del", "169.254.169.254/32")
        run("ip", "netns", "delete", ns)
        world.apply(world.state())


def test_the_proxy_program_speaks_the_state_headers() -> None:
    """The proxy program is standard library only, so it keeps its own copy
    of the header names of the contract: they must be the same."""
    from novalite.network.dataplane import metadata_proxy_server as server

    assert (server.HDR_FORWARDED_FOR, server.HDR_NETWORK_ID, server.HDR_SIGNATURE) == (
        HDR_FORWARDED_FOR, HDR_NETWORK_ID, HDR_SIGNATURE)
    r = run(sys.executable, "-I", "-X", "importtime", server.__file__, "--help")
    assert r.returncode == 0, r.stderr
    imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines() if "|" in line}
    assert not {m for m in imported if m.split(".")[0] in ("novalite", "oslo_log", "eventlet")}


def test_an_unusable_router_namespace_is_made_again(world: World) -> None:
    """A name in /run/netns without its namespace (here made the way that
    bit us: ``ip netns add`` under another ``ip netns exec``) is replaced."""
    world.apply(world.state(router=False))
    must(*in_ns(world.outside, "ip", "netns", "add", world.router_ns))
    assert world.router_ns in l3.namespaces()
    assert run("ip", "-n", world.router_ns, "link", "show").returncode != 0
    world.apply(world.state(fip=True))
    assert curl(world.outside, f"http://{world.floating_ip}:{ECHO_PORT}/") \
        == (0, world.outside_ip)


def test_a_proxy_that_cannot_start_is_named_not_raised(world: World) -> None:
    """The rest of the data plane goes on; the next good apply starts it."""
    state = world.state()
    assert state.metadata is not None
    broken = dataclasses.replace(state, metadata=dataclasses.replace(
        state.metadata, service_url="ftp://127.0.0.1:1"))
    try:
        problems = metadata_proxy.apply(broken, prefix=world.prefix,
                                        state_dir=world.state_dir, host_netns=world.host_ns)
        assert len(problems) == 2 and all("ftp://" in p for p in problems), problems
        assert metadata_proxy.running(world.state_dir) == []
    finally:
        world.apply(world.state())
    assert len(metadata_proxy.running(world.state_dir)) == 2


def test_a_new_floating_ip_is_announced(world: World) -> None:
    """A neighbour that cached another MAC for the address (the floating IP
    was on another router) takes the router's at once: gratuitous ARP."""
    world.apply(world.state(fip=False))
    bogus = "02:00:00:00:00:01"
    must("ip", "-n", world.outside, "neigh", "replace", world.floating_ip, "lladdr", bogus,
         "dev", "eth0", "nud", "stale")
    world.apply(world.state(fip=True))
    want = l3.gateway_mac(world.router_id)
    seen = ""
    for _ in range(50):
        out = must("ip", "-n", world.outside, "neigh", "show", world.floating_ip)
        seen = out.split("lladdr")[1].split()[0] if "lladdr" in out else out
        if seen != bogus:
            break
        time.sleep(0.1)
    assert seen == want


# -- the whole agent: layer 2, security groups, DHCP, layer 3, metadata ------------

def test_the_whole_agent_floating_ip_opens_with_a_security_group_rule() -> None:
    """The issue's story on one host (a namespace), through ``agent.apply``:
    a guest port in Neutron's default security group behind a router with a
    floating IP. From the outside the floating IP answers only once a rule
    opens the port, and not after the rule or the floating IP goes; the
    guest reaches the outside from its floating IP and the metadata proxy
    through its router; the empty state leaves nothing."""
    from novalite.network.dataplane import agent
    from novalite.network.dataplane.state import (
        Port,
        SecurityGroup,
        SecurityGroupRule,
    )

    prefix = "t" + secrets.token_hex(3)[:5]
    host_ns, guest_ns, outside = f"{prefix}host", f"{prefix}g-x", f"{prefix}out"
    tmp = tempfile.mkdtemp(prefix="novalite-l3-agent-")
    os.chmod(tmp, 0o711)
    procs: list[subprocess.Popen[str]] = []
    recorder: Recorder | None = None
    ext_cidr = ipaddress.ip_network(free_external_cidr())
    ext_hosts = list(ext_cidr.hosts())
    sub = ipaddress.ip_network(f"10.{160 + secrets.randbelow(60)}.7.0/24")
    gw_ip, guest_ip = str(list(sub.hosts())[0]), str(list(sub.hosts())[9])
    fip, outside_ip = str(ext_hosts[19]), str(ext_hosts[99])
    ext = Network(id=str(uuid.uuid4()), vni=1, mtu=1500, external=True,
                  subnets=(Subnet(id=str(uuid.uuid4()), network_id="", cidr=str(ext_cidr),
                                  gateway_ip=str(ext_hosts[0])),))
    net_id, subnet_id, sg_id = (str(uuid.uuid4()) for _ in range(3))
    net = Network(id=net_id, vni=3000 + secrets.randbelow(1000), subnets=(Subnet(
        id=subnet_id, network_id=net_id, cidr=str(sub), gateway_ip=gw_ip),))
    port = Port(id=str(uuid.uuid4()), network_id=net_id, mac=_mac(1),
                fixed_ips=((subnet_id, guest_ip),), security_groups=(sg_id,),
                device_id=str(uuid.uuid4()))
    iface = RouterInterface(port_id=str(uuid.uuid4()), network_id=net_id,
                            subnet_id=subnet_id, address=gw_ip, cidr=str(sub), mac=_mac(2))
    router_port = Port(id=iface.port_id, network_id=net_id, mac=iface.mac,
                       fixed_ips=((subnet_id, gw_ip),),
                       device_owner="network:router_interface")
    # Neutron's default group: all egress, ingress only from the same group.
    default_rules = (SecurityGroupRule(direction="egress"),
                     SecurityGroupRule(direction="ingress", remote_group_id=sg_id))
    open_echo = SecurityGroupRule(direction="ingress", protocol="tcp",
                                  port_range_min=ECHO_PORT, port_range_max=ECHO_PORT,
                                  remote_ip_prefix="0.0.0.0/0")
    router_id = str(uuid.uuid4())

    def state(*, rule: bool, with_fip: bool = True, empty: bool = False) -> HostState:
        if empty:
            return HostState(host="story", local_ip="192.0.2.250")
        assert recorder is not None
        group = SecurityGroup(id=sg_id, rules=default_rules + ((open_echo,) if rule else ()),
                              member_addresses=(guest_ip,))
        fips = (FloatingIP(id=str(uuid.uuid4()), address=fip, fixed_address=guest_ip,
                           port_id=port.id),) if with_fip else ()
        gw = RouterGateway(network_id=ext.id, address=str(ext_hosts[9]), cidr=str(ext_cidr),
                           gateway_ip=str(ext_hosts[0]))
        return HostState(host="story", local_ip="192.0.2.250", networks=(ext, net),
                         ports=(port,), security_groups=(group,), dhcp_networks=(net_id,),
                         dhcp_ports=(port, router_port),
                         routers=(Router(id=router_id, gateway=gw, interfaces=(iface,),
                                         floating_ips=fips),),
                         metadata=Metadata(service_url=recorder.url, shared_secret="s3"))

    def apply(s: HostState) -> None:
        agent.apply(s, prefix=prefix, state_dir=tmp, host_netns=host_ns)

    problems: list[str] = []
    try:
        must("ip", "netns", "add", host_ns)
        must("ip", "-n", host_ns, "link", "set", "lo", "up")
        recorder = Recorder(host_ns)
        threading.Thread(target=recorder.serve_forever, daemon=True).start()
        # The guest's tap: a veth whose host end has the port's tap name.
        must("ip", "netns", "add", guest_ns)
        must("ip", "-n", host_ns, "link", "add", port.devname, "type", "veth", "peer",
             "name", "eth0", "netns", guest_ns)
        for cmd in (("link", "set", "lo", "up"), ("link", "set", "eth0", "address", port.mac),
                    ("link", "set", "eth0", "mtu", str(net.mtu)),
                    ("addr", "add", f"{guest_ip}/{sub.prefixlen}", "dev", "eth0"),
                    ("link", "set", "eth0", "up"),
                    ("route", "add", "default", "via", gw_ip)):
            must("ip", "-n", guest_ns, *cmd)
        apply(state(rule=False))
        bridge = names.bridge(prefix, ext)
        _veth_into(host_ns, outside, f"{prefix}out", bridge, None,
                   f"{outside_ip}/{ext_cidr.prefixlen}", None)
        for ns, address, ports in ((guest_ns, guest_ip, (ECHO_PORT,)),
                                   (outside, outside_ip, (ECHO_PORT,))):
            proc = subprocess.Popen(in_ns(ns, PY, "-c", PEER_SERVER, address,
                                          *[str(p) for p in ports]),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            procs.append(proc)
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"

        url = f"http://{fip}:{ECHO_PORT}/"
        assert curl(outside, url)[0] != 0, "the default group let the outside in"
        apply(state(rule=True))
        assert curl(outside, url) == (0, outside_ip)
        assert curl(guest_ns, f"http://{outside_ip}:{ECHO_PORT}/") == (0, fip)
        recorder.seen.clear()
        assert curl(guest_ns, "http://169.254.169.254/openstack/latest/meta_data.json")[0] == 0
        [seen] = recorder.seen
        assert _headers(seen, HDR_FORWARDED_FOR) == [guest_ip]
        assert _headers(seen, HDR_NETWORK_ID) == [net_id]
        assert _headers(seen, HDR_SIGNATURE) == [metadata_proxy.sign("s3", net_id, guest_ip)]
        apply(state(rule=False))
        assert curl(outside, url)[0] != 0, "the rule's removal left the port open"
        apply(state(rule=True, with_fip=False))
        assert curl(outside, url)[0] != 0, "the floating IP answered after it went"

        apply(state(rule=False, empty=True))
        left = [n for n in l3.namespaces() if n.startswith(prefix)
                and n not in (host_ns, guest_ns, outside)]
        left += [d for d in devices(host_ns, prefix) if d != f"{prefix}out"]
        left += [f"proxy {p.pid}" for p in metadata_proxy.running(os.path.join(tmp, "metadata"))]
        left += [line for line in must(*in_ns(host_ns, "nft", "list", "tables")).splitlines()
                 if prefix in line]
        assert left == [], left
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        with contextlib.suppress(Exception):
            apply(state(rule=False, empty=True))
        if recorder is not None:
            recorder.shutdown()
            recorder.server_close()
        problems = _teardown(None, prefix, tmp)
    assert not problems, problems
