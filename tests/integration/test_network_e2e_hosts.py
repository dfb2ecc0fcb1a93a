"""Two compute hosts on the vxlan data plane: a tenant network spans them
over VXLAN between two REAL guests (issue 13 item 2).

Host A is the test's stack (control plane, compute A on the root libvirtd,
the DHCP host) on a RabbitMQ vhost of its own; host B is a novalite-compute
process whose libvirt is a second libvirtd in a network namespace
(tests/integration/libvirt_host.py) and whose network agent applies in that
namespace ([network] agent_netns). The two hosts' VXLAN endpoints are the two
ends of the veth pair between the root namespace and B's ([network]
tunnel_ip of each), recorded by their resource trackers; each learns the
other from the database (no multicast).

Guest A (on A) and guest B (on B), one tenant network, both ports in the
project's default security group (ingress from its members only, so the
remote-group rule lets A in on B), are shared by the tests (TCG boots cost):

- A reaches B across hosts (HTTP with B's uuid, fetched inside guest A by its
  agent);
- spoofing: A sends to B from its own address, from a foreign address it
  added itself and from a foreign MAC; a capture on B's VXLAN device in B's
  namespace (what the tunnel delivers, before any filter of B) and B's own
  ICMP counter see only the first;
- isolation: another project's network with the same CIDR, its guest C on B,
  answers on its own network; guest A cannot reach it;
- delete: after the guests, their ports and the network (no ports but its
  DHCP port) are deleted, neither host keeps a port's DHCP entry, nftables
  rule or tap, nor the network's bridge, VXLAN device, DHCP namespace or
  dnsmasq.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from novalite.conf import CONF
from novalite.network.dataplane import names
from novalite.virt.libvirt import agent
from tests.integration.libvirt_host import SecondLibvirtHost
from tests.integration.netstack import (
    network_leftovers,
    port_leftovers,
    tap_of,
    vni_range,
    wait_clean,
)
from tests.integration.realstack import HOST, RealStack, libvirt_connection
from tests.procs import Proc, wait_until, write_conf

V2 = "/network/v2.0"


class TwoHosts:
    def __init__(self, vhost: str, second: SecondLibvirtHost) -> None:
        self.vhost = vhost
        self.second = second
        self.prefix = f"x{uuid.uuid4().hex[:4]}"
        tag = uuid.uuid4().hex
        self.cidr = f"10.{200 + int(tag[0], 16) % 50}.{int(tag[1:3], 16)}.128/26"
        self.rs = RealStack(label="nete2e-hosts", overrides={
            (None, "transport_url"): vhost,
            ("network", "dataplane"): "vxlan",
            ("network", "dataplane_prefix"): self.prefix,
            ("network", "vni_ranges"): [vni_range()],
            ("network", "dhcp_host"): HOST,
            ("network", "tunnel_ip"): second.root_addr,
            ("network", "create_default_network"): False,
            ("network", "agent_resync_interval"): 5,
            ("compute", "force_config_drive"): True,
            ("metadata", "metadata_proxy_shared_secret"): secrets.token_hex(8),
        })
        self.b_host = f"nete2e-b-{tag[:6]}"
        self.probe_ns = f"{self.prefix}-probe"
        self.b_base = ""
        self.proc: Any = None

    @property
    def state_dir(self) -> str:
        """Host A's (the DHCP host's) data plane state, while the stack runs."""
        return os.path.join(CONF.state_path, "dataplane", self.prefix)

    @property
    def stack(self) -> Any:
        return self.rs.stack

    def api(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        resp = self.stack.request(method, V2 + path, body)
        assert resp.status_code == status, f"{method} {path}: {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None

    def start_b(self) -> None:
        self.b_base = tempfile.mkdtemp(prefix="nete2e-b-", dir="/var/lib/novalite-tests")
        os.chmod(self.b_base, 0o755)
        conf = write_conf(os.path.join(self.b_base, "compute.conf"), {
            "DEFAULT": {"transport_url": self.vhost, "control_exchange": CONF.control_exchange,
                        "host": self.b_host, "state_path": os.path.join(self.b_base, "state"),
                        "compute_driver": "libvirt.LibvirtDriver", "report_interval": 1,
                        "rpc_call_timeout": 30, "debug": "true", "auth_strategy": "noauth"},
            "libvirt": {"connection_uri": self.second.uri,
                        "instances_path": os.path.join(self.b_base, "instances"),
                        "image_cache_path": os.path.join(self.b_base, "_base"),
                        "instance_name_template": self.rs.prefix + "b%08x",
                        "shutdown_timeout": 30},
            "image": {"api_url": f"{self.stack.base_url}/image"},
            "network": {"dataplane": "vxlan", "dataplane_prefix": self.prefix,
                        "tunnel_ip": self.second.address, "agent_netns": self.second.netns,
                        "dhcp_host": HOST, "agent_resync_interval": 5},
            "compute": {"force_config_drive": "true"},
        })
        self.proc = Proc(self.b_host, "novalite-compute", conf,
                         os.path.join(self.b_base, "compute.log")).start()
        self.proc.wait_log(f"is consuming compute, compute.{self.b_host}", timeout=120)

        def up() -> bool:
            resp = self.stack.compute("GET", "/os-services?binary=nova-compute")
            return any(s["host"] == self.b_host and s["state"] == "up"
                       for s in resp.json().get("services", []))
        wait_until(up, 60, f"compute service {self.b_host} up")

    def stop(self) -> list[str]:
        problems: list[str] = []
        try:
            problems += self.rs.delete_all_servers()
        except Exception as e:  # noqa: BLE001
            problems.append(f"deleting the servers failed: {e!r}")
        subprocess.run(["ip", "netns", "del", self.probe_ns], capture_output=True,
                       check=False)
        subprocess.run(["ip", "link", "del", f"{self.prefix}p0"], capture_output=True,
                       check=False)
        if self.proc is not None:
            self.proc.stop()
        state_dir = self.state_dir
        problems += self.rs.stop()
        if self.b_base:
            shutil.rmtree(self.b_base, ignore_errors=True)
        from novalite.network.dataplane import agent as dataplane
        from novalite.network.dataplane.state import HostState

        try:
            dataplane.apply(HostState(host=HOST, local_ip="127.0.0.1"), prefix=self.prefix,
                            state_dir=state_dir)
        except Exception as e:  # noqa: BLE001
            problems.append(f"removing the data plane failed: {e!r}")
        # NOTE: the empty apply made its state directory again.
        shutil.rmtree(self.rs.base, ignore_errors=True)
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True,
                               check=False).stdout
        left = [line for line in links.splitlines() if f": {self.prefix}" in line]
        if left:
            problems.append(f"kernel objects of {self.prefix} left: {left}")
        return problems


@pytest.fixture(scope="module")
def hosts() -> Iterator[TwoHosts]:
    from tests.integration import services

    libvirt_connection().close()
    with services.rabbitmq_vhost() as vhost:
        second = SecondLibvirtHost(label="nete2e-hosts")
        t: TwoHosts | None = None
        problems: list[str] = []
        try:
            second.start()
            t = TwoHosts(vhost, second)
            t.rs.start()
            yield t
        finally:
            if t is not None:
                problems += t.stop()
            problems += second.stop()
        assert not problems, problems


@dataclass
class Pair:
    """Guest A on host A and guest B on host B, on one tenant network, both
    ports in the project's default security group."""
    net: dict
    ports: list[dict]
    sid_a: str
    sid_b: str
    dom_a: Any
    dom_b: Any

    @property
    def address_a(self) -> str:
        return str(self.ports[0]["fixed_ips"][0]["ip_address"])

    @property
    def address_b(self) -> str:
        return str(self.ports[1]["fixed_ips"][0]["ip_address"])


@pytest.fixture(scope="module")
def pair(hosts: TwoHosts) -> Iterator[Pair]:
    t = hosts
    net = t.api("POST", "/networks", {"network": {"name": f"{t.prefix}-net",
                                                   "shared": True}}, 201)["network"]
    t.api("POST", "/subnets", {"subnet": {"network_id": net["id"], "cidr": t.cidr,
                                          "ip_version": 4}}, 201)
    # NOTE: the project's default security group on both: ingress only from
    # its members (the other port's address, across hosts).
    ports = [t.api("POST", "/ports", {"port": {"network_id": net["id"]}}, 201)["port"]
             for _ in range(2)]
    assert ports[0]["security_groups"] and \
        ports[0]["security_groups"] == ports[1]["security_groups"]
    conn_a = libvirt_connection()
    conn_b = None
    with t.rs.servers(180) as ids:
        # Guest A boots before B runs, so it is on A.
        resp = t.stack.compute("POST", "/servers", {"server": {
            "name": "vx-a", "imageRef": t.rs.images["disk"]["id"], "flavorRef": "1",
            "networks": [{"port": ports[0]["id"]}]}})
        assert resp.status_code == 202, resp.text
        sid_a = resp.json()["server"]["id"]
        ids.append(sid_a)
        t.stack.wait_status(sid_a, "ACTIVE", 180)
        t.start_b()
        resp = t.stack.compute("POST", "/servers", {"server": {
            "name": "vx-b", "imageRef": t.rs.images["disk"]["id"], "flavorRef": "1",
            "host": t.b_host, "networks": [{"port": ports[1]["id"]}]}},
            headers={"OpenStack-API-Version": "compute 2.74"})
        assert resp.status_code == 202, resp.text
        sid_b = resp.json()["server"]["id"]
        ids.append(sid_b)
        server_b = t.stack.wait_status(sid_b, "ACTIVE", 240)
        assert server_b["OS-EXT-SRV-ATTR:host"] == t.b_host
        dom_a = t.rs.domain(conn_a, sid_a)
        conn_b = t.second.connect()
        dom_b = conn_b.lookupByUUIDString(sid_b)
        assert dom_a is not None
        agent.wait_ready(dom_a, time.monotonic() + 120)
        agent.wait_ready(dom_b, time.monotonic() + 120)
        try:
            yield Pair(net=net, ports=ports, sid_a=sid_a, sid_b=sid_b, dom_a=dom_a,
                       dom_b=dom_b)
        finally:
            conn_a.close()
            conn_b.close()


def _exec(domain: Any, *argv: str) -> dict:
    return dict(agent.execute(domain, "/bin/busybox", list(argv), time.monotonic() + 30,
                              capture=True))


def _guest(domain: Any, *argv: str) -> str:
    status = _exec(domain, *argv)
    assert status.get("exitcode") == 0, (argv, status, base64.b64decode(
        status.get("err-data", "")).decode(errors="replace"))
    return base64.b64decode(status.get("out-data", "")).decode()


def _http_in_guest(domain: Any, address: str) -> str | None:
    try:
        out = _guest(domain, "sh", "-c",
                     f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 {address} 80")
    except AssertionError:
        return None
    return out if "uuid=" in out else None


def _probe_ns(t: TwoHosts, bridge: str, address: str) -> None:
    """A namespace on ``bridge`` (host A) with ``address``."""
    host_end, inner = f"{t.prefix}p0", f"{t.prefix}p1"
    for argv in (["netns", "add", t.probe_ns],
                 ["link", "add", host_end, "type", "veth", "peer", "name", inner],
                 ["link", "set", inner, "netns", t.probe_ns],
                 ["link", "set", host_end, "master", bridge, "up"],
                 ["-n", t.probe_ns, "addr", "add",
                  f"{address}/{ipaddress.ip_network(t.cidr).prefixlen}", "dev", inner],
                 ["-n", t.probe_ns, "link", "set", inner, "mtu", "1450", "up"]):
        subprocess.run(["ip", *argv], check=True, capture_output=True, timeout=30)


def _http_in_ns(ns: str, address: str) -> str | None:
    done = subprocess.run(["ip", "netns", "exec", ns, "curl", "-s", "--noproxy", "*", "-m",
                           "3", f"http://{address}/"], capture_output=True, text=True,
                          timeout=30, check=False)
    return done.stdout if done.returncode == 0 and "uuid=" in done.stdout else None


def _ns_links(t: TwoHosts) -> str:
    return t.second.run_in_ns("ip", "-o", "link").stdout


def _run_b(t: TwoHosts) -> Any:
    """A ``run`` for the netstack helpers: the command in host B's namespace."""
    def run_b(*argv: str, check: bool = True) -> str:
        done = t.second.run_in_ns(*argv)
        if check and done.returncode != 0:
            raise AssertionError(f"{argv} in {t.second.netns}: {done.returncode} "
                                 f"{done.stderr}")
        return done.stdout
    return run_b


def test_guests_on_two_hosts_reach_each_other_over_vxlan(hosts: TwoHosts,
                                                          pair: Pair) -> None:
    t, p = hosts, pair
    bridge = names.bridge_for_id(t.prefix, p.net["id"])
    vxlan = names.vxlan(t.prefix, int(p.net["provider:segmentation_id"]))
    # B's agent made the network's bridge and VXLAN device in B's namespace,
    # its VXLAN device sends to A's endpoint and A's to B's.
    links = _ns_links(t)
    assert f": {bridge}" in links and f": {vxlan}" in links, links
    fdb_b = t.second.run_in_ns("bridge", "fdb", "show", "dev", vxlan).stdout
    assert t.second.root_addr in fdb_b, fdb_b
    wait_until(lambda: t.second.address in os.popen(
        f"bridge fdb show dev {vxlan}").read(), 60, "A's VXLAN peer B")
    body = wait_until(lambda: _http_in_guest(p.dom_a, p.address_b), 180,
                      f"guest A reaching guest B at {p.address_b}")
    assert f"uuid={p.sid_b}" in str(body).splitlines(), body


# NOTE: every frame a device gets, one JSON line each: on host B's VXLAN
# device what the tunnel delivers (before any filter of B), on guest A's tap
# what guest A sent (before any filter of A).
CAPTURE = r"""
import json, socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
print("ready", flush=True)
while True:
    frame, addr = s.recvfrom(65535)
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    kind = struct.unpack("!H", frame[12:14])[0]
    src = dst = None
    if kind == 0x0800:
        src, dst = socket.inet_ntoa(frame[26:30]), socket.inet_ntoa(frame[30:34])
    elif kind == 0x0806:
        src, dst = socket.inet_ntoa(frame[28:32]), socket.inet_ntoa(frame[38:42])
    print(json.dumps({"mac": frame[6:12].hex(":"), "type": kind, "src": src, "dst": dst}),
          flush=True)
"""


class Capture:
    """Frames a device gets while it runs (in ``netns``, or the root one)."""

    def __init__(self, dev: str, netns: str | None = None) -> None:
        self.argv = [sys.executable, "-c", CAPTURE, dev]
        if netns:
            self.argv = ["ip", "netns", "exec", netns, *self.argv]
        self.popen: subprocess.Popen[str] | None = None
        self.frames: list[dict] = []

    def __enter__(self) -> Capture:
        self.popen = subprocess.Popen(self.argv, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
        assert self.popen.stdout is not None
        line = self.popen.stdout.readline()
        assert line.strip() == "ready", (line, self.popen.stderr.read()
                                         if self.popen.stderr else "")
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self.popen is not None
        time.sleep(1)
        self.popen.terminate()
        out, _err = self.popen.communicate(timeout=30)
        self.frames = [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    def from_ip(self, address: str) -> list[dict]:
        return [f for f in self.frames if f["src"] == address]

    def from_mac(self, mac: str) -> list[dict]:
        return [f for f in self.frames if f["mac"] == mac.lower()]


def _icmp_in_echos(domain: Any) -> int:
    """The guest kernel's count of ICMP echo requests received."""
    lines = [line.split() for line in _guest(domain, "cat", "/proc/net/snmp").splitlines()
             if line.startswith("Icmp:")]
    return int(dict(zip(lines[0], lines[1], strict=True))["InEchos"])


def _ping(domain: Any, source: str, target: str) -> int:
    status = _exec(domain, "ping", "-c", "3", "-W", "2", "-I", source, target)
    return int(status.get("exitcode", -1))


def test_a_spoofed_source_from_host_a_reaches_nothing_on_host_b(hosts: TwoHosts,
                                                                pair: Pair) -> None:
    """Guest A (host A) sends to guest B (host B) from its own address (B
    answers), from a foreign address it added itself and from a foreign MAC:
    what B's VXLAN device receives from the tunnel (a capture in B's
    namespace, before any filter of B) and B's own ICMP counter show only the
    first, while a capture on A's tap shows that A did send the others. A's
    neighbour entry for B is static, so the spoofed sends are made even
    though A's ARP with the foreign address is dropped."""
    t, p = hosts, pair
    vxlan = names.vxlan(t.prefix, int(p.net["provider:segmentation_id"]))
    foreign = str(ipaddress.ip_network(t.cidr).broadcast_address - 5)
    foreign_mac = "fa:16:3e:00:5b:0f"
    own_mac = p.ports[0]["mac_address"].lower()
    (nic,) = _guest(p.dom_a, "sh", "-c", "for d in /sys/class/net/*; do "
                    f"[ \"$(cat $d/address)\" = {own_mac} ] && echo ${{d##*/}}; done; true").split()
    _guest(p.dom_a, "arp", "-i", nic, "-s", p.address_b, p.ports[1]["mac_address"])
    wait_until(lambda: _ping(p.dom_a, p.address_a, p.address_b) == 0, 120,
               f"guest A pinging guest B at {p.address_b}")

    tap_a = tap_of(p.ports[0]["id"])

    def sent(foreign_ip: str | None = None, foreign_mac: str | None = None) \
            -> tuple[Capture, Capture, int]:
        """(what A's tap got, what B's VXLAN device got, B's new echo
        requests) while A pings B from ``foreign_ip`` or its own address."""
        echos = _icmp_in_echos(p.dom_b)
        with Capture(tap_a) as at_a, Capture(vxlan, t.second.netns) as at_b:
            answered = _ping(p.dom_a, foreign_ip or p.address_a, p.address_b) == 0
        assert answered is (foreign_ip is None and foreign_mac is None), \
            f"B answered: {answered} (source {foreign_ip}, MAC {foreign_mac})"
        return at_a, at_b, _icmp_in_echos(p.dom_b) - echos

    at_a, at_b, echos = sent()
    assert len(at_a.from_ip(p.address_a)) >= 3 and len(at_b.from_ip(p.address_a)) >= 3, \
        (at_a.frames, at_b.frames)
    assert echos >= 3

    _guest(p.dom_a, "ip", "addr", "add", f"{foreign}/32", "dev", nic)
    try:
        at_a, at_b, echos = sent(foreign_ip=foreign)
    finally:
        _guest(p.dom_a, "ip", "addr", "del", f"{foreign}/32", "dev", nic)
    assert len(at_a.from_ip(foreign)) >= 3, f"guest A sent nothing from {foreign}: {at_a.frames}"
    assert not at_b.from_ip(foreign), f"host B got {foreign}'s frames: {at_b.frames}"
    assert echos == 0, "guest B received the spoofed pings"

    _guest(p.dom_a, "ip", "link", "set", nic, "address", foreign_mac)
    try:
        at_a, at_b, echos = sent(foreign_mac=foreign_mac)
    finally:
        _guest(p.dom_a, "ip", "link", "set", nic, "address", own_mac)
    assert len(at_a.from_mac(foreign_mac)) >= 3, \
        f"guest A sent nothing from {foreign_mac}: {at_a.frames}"
    assert not at_b.from_mac(foreign_mac), f"host B got {foreign_mac}'s frames: {at_b.frames}"
    assert echos == 0, "guest B received the spoofed MAC's pings"

    # Its own address and MAC still work afterwards.
    at_a, at_b, echos = sent()
    assert len(at_b.from_mac(own_mac)) >= 3 and echos >= 3, at_b.frames


def test_another_projects_network_on_host_b_is_out_of_reach(hosts: TwoHosts,
                                                            pair: Pair) -> None:
    """Another project's network with the same CIDR (its own VNI), guest C on
    host B at an address nobody has on ours: C answers on its network (from a
    namespace on its bridge on A, the DHCP host, across its VXLAN), but guest
    A, on the same subnet range, cannot reach it. Deleting C, its port and its
    network leaves nothing of them on either host."""
    t, p = hosts, pair
    other_project = f"other-{t.prefix}"
    other = t.api("POST", "/networks", {"network": {
        "name": f"{t.prefix}-other", "project_id": other_project}}, 201)["network"]
    t.api("POST", "/subnets", {"subnet": {"network_id": other["id"], "cidr": t.cidr,
                                          "ip_version": 4, "project_id": other_project}}, 201)
    address_c = str(ipaddress.ip_network(t.cidr).broadcast_address - 2)
    port_c = t.api("POST", "/ports", {"port": {
        "network_id": other["id"], "project_id": other_project,
        "port_security_enabled": False, "fixed_ips": [{"ip_address": address_c}]}},
        201)["port"]
    with t.rs.servers(180) as ids:
        resp = t.stack.compute("POST", "/servers", {"server": {
            "name": "vx-c", "imageRef": t.rs.images["disk"]["id"], "flavorRef": "1",
            "host": t.b_host, "networks": [{"port": port_c["id"]}]}},
            headers={"OpenStack-API-Version": "compute 2.74"})
        assert resp.status_code == 202, resp.text
        sid_c = resp.json()["server"]["id"]
        ids.append(sid_c)
        t.stack.wait_status(sid_c, "ACTIVE", 240)
        other_bridge = names.bridge_for_id(t.prefix, other["id"])
        wait_until(lambda: os.path.exists(f"/sys/class/net/{other_bridge}"), 60,
                   f"{other_bridge} on the DHCP host")
        probe = str(ipaddress.ip_network(t.cidr).broadcast_address - 3)
        _probe_ns(t, other_bridge, probe)
        body = wait_until(lambda: _http_in_ns(t.probe_ns, address_c), 180,
                          f"guest C at {address_c} on its own network", interval=1)
        assert f"uuid={sid_c}" in str(body).splitlines(), body
        assert _http_in_guest(p.dom_a, address_c) is None, \
            "guest A reached another network's guest"
        t.rs.delete(sid_c, timeout=180)
    subprocess.run(["ip", "netns", "del", t.probe_ns], capture_output=True, check=False)
    t.api("DELETE", f"/ports/{port_c['id']}", status=204)
    t.api("DELETE", f"/networks/{other['id']}", status=204)
    run_b = _run_b(t)
    wait_clean(lambda: [f"A: {x}" for x in port_leftovers(t.stack, port_c, t.state_dir)
                        + network_leftovers(t.prefix, other, t.state_dir)]
               + [f"B: {x}" for x in port_leftovers(None, port_c, host_run=run_b)
                  + network_leftovers(t.prefix, other, host_run=run_b)], 60,
               "guest C's port and network")


def test_a_cold_migration_to_host_b_keeps_the_address_and_answers_there(
        hosts: TwoHosts, pair: Pair) -> None:
    """Guest A cold-migrated to host B (2.56 ``migrate`` with a host, then
    ``confirmResize``) keeps its port and fixed address, its port is bound to
    B, nothing of its tap is left on A, and it answers HTTP at the same
    address from a namespace on the network's bridge on host A, now across
    the VXLAN (a tcp/80 rule from that namespace's address opens it)."""
    t, p = hosts, pair
    headers = {"OpenStack-API-Version": "compute 2.56"}
    probe = str(ipaddress.ip_network(t.cidr).broadcast_address - 3)
    rule = t.api("POST", "/security-group-rules", {"security_group_rule": {
        "security_group_id": p.ports[0]["security_groups"][0], "direction": "ingress",
        "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 80, "port_range_max": 80,
        "remote_ip_prefix": f"{probe}/32"}}, 201)["security_group_rule"]
    try:
        _probe_ns(t, names.bridge_for_id(t.prefix, p.net["id"]), probe)
        body = wait_until(lambda: _http_in_ns(t.probe_ns, p.address_a), 120,
                          f"guest A at {p.address_a} on host A")
        assert f"uuid={p.sid_a}" in str(body).splitlines(), body
        resp = t.stack.compute("POST", f"/servers/{p.sid_a}/action",
                               {"migrate": {"host": t.b_host}}, headers=headers)
        assert resp.status_code == 202, resp.text
        t.stack.wait_status(p.sid_a, "VERIFY_RESIZE", 300)
        resp = t.stack.compute("POST", f"/servers/{p.sid_a}/action", {"confirmResize": None})
        assert resp.status_code == 204, resp.text
        server = t.stack.wait_status(p.sid_a, "ACTIVE", 120)
        assert server["OS-EXT-SRV-ATTR:host"] == t.b_host
        assert [a["addr"] for v in server["addresses"].values() for a in v] == [p.address_a]
        port = t.api("GET", f"/ports/{p.ports[0]['id']}")["port"]
        assert port["binding:host_id"] == t.b_host and \
            port["fixed_ips"] == p.ports[0]["fixed_ips"], port
        wait_clean(lambda: port_leftovers(None, port), 60, f"{tap_of(port['id'])} on host A")
        assert f": {tap_of(port['id'])}" in _ns_links(t), "guest A's tap is not on host B"
        body = wait_until(lambda: _http_in_ns(t.probe_ns, p.address_a), 180,
                          f"guest A at {p.address_a} on host B, from host A")
        assert f"uuid={p.sid_a}" in str(body).splitlines(), body
    finally:
        subprocess.run(["ip", "netns", "del", t.probe_ns], capture_output=True, check=False)
        t.api("DELETE", f"/security-group-rules/{rule['id']}", status=204)


def test_delete_leaves_nothing_on_either_host(hosts: TwoHosts, pair: Pair) -> None:
    """Guests A and B deleted, then their ports, then the network (no ports
    but its DHCP port): no port, DHCP entry, nftables rule, tap, bridge,
    VXLAN device, DHCP namespace or dnsmasq of theirs is left on host A or
    host B."""
    t, p = hosts, pair
    run_b = _run_b(t)
    for sid in (p.sid_a, p.sid_b):
        t.rs.delete(sid, timeout=180)
    for port in p.ports:
        t.api("DELETE", f"/ports/{port['id']}", status=204)
    t.api("DELETE", f"/networks/{p.net['id']}", status=204)

    def left() -> list[str]:
        found = []
        for port in p.ports:
            found += [f"A: {x}" for x in port_leftovers(t.stack, port, t.state_dir)]
            found += [f"B: {x}" for x in port_leftovers(None, port, host_run=run_b)]
        found += [f"A: {x}" for x in network_leftovers(t.prefix, p.net, t.state_dir)]
        found += [f"B: {x}" for x in network_leftovers(t.prefix, p.net, host_run=run_b)]
        return found
    wait_clean(left, 60, "the network, its ports and guests")
    # NOTE: nothing is filtered any more on B: its tables are gone.
    table = names.nft_table(t.prefix)
    assert table not in run_b("nft", "list", "tables"), run_b("nft", "list", "tables")
