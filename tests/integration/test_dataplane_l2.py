"""The per-host data plane, layer 2 (issue 13 item 2), on the real kernel.

Two "hosts" are two network namespaces joined by a veth (the underlay); the
data plane runs for each with ``host_netns`` (every command under ``ip netns
exec``). "Guests" are more namespaces, each with a veth whose host end is the
port's tap name in its host's namespace and whose inner end has the port's
MAC (and its address, or one from DHCP). Sockets in a guest are made by this
process after entering the guest's namespace (``setns``), so a connection
can stay open across a change of rules.

Everything is named with a per-run prefix and removed at the end, also on
failure.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest

from novalite.network.dataplane import agent, dhcp, names, secgroups
from novalite.network.dataplane.kernel import Host
from novalite.network.dataplane.state import (
    HostState,
    Network,
    Port,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
)
from tests.procs import pids_whose_cmdline_has

pytestmark = pytest.mark.integration

CLONE_NEWNET = 0x40000000
CIDR = "10.50.0.0/24"
GATEWAY = "10.50.0.1"
DHCP_ADDRESS = "10.50.0.2"
MTU = 1450
TIMEOUT = 3.0


def sh(*cmd: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), check=check, capture_output=True, text=True,
                          timeout=timeout)


@contextlib.contextmanager
def in_netns(name: str) -> Iterator[None]:
    """This thread inside the named namespace for the block."""
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        assert libc.setns(target, CLONE_NEWNET) == 0, os.strerror(ctypes.get_errno())
        try:
            yield
        finally:
            assert libc.setns(home, CLONE_NEWNET) == 0, os.strerror(ctypes.get_errno())
    finally:
        os.close(home)
        os.close(target)


class Guest:
    def __init__(self, ns: str, host_ns: str, port: Port, address: str) -> None:
        self.ns, self.host_ns, self.port, self.address = ns, host_ns, port, address


class World:
    """Two hosts, their guests, the states applied to them."""

    def __init__(self) -> None:
        self.run = secrets.token_hex(2)
        self.prefix = "n3" + self.run
        self.namespaces: list[str] = []
        self.tmp = tempfile.mkdtemp(prefix=f"n3dp-{self.run}-")
        os.chmod(self.tmp, 0o711)
        self.h1, self.h2 = self.ns("h1"), self.ns("h2")
        self.state_dir = {self.h1: os.path.join(self.tmp, "h1"),
                          self.h2: os.path.join(self.tmp, "h2")}
        octet = secrets.randbelow(200) + 20
        self.underlay = {self.h1: f"10.254.{octet}.1", self.h2: f"10.254.{octet}.2"}
        sh("ip", "link", "add", f"{self.prefix}u1", "netns", self.h1, "type", "veth",
           "peer", "name", f"{self.prefix}u2", "netns", self.h2)
        for h, dev in ((self.h1, f"{self.prefix}u1"), (self.h2, f"{self.prefix}u2")):
            sh("ip", "-n", h, "addr", "add", f"{self.underlay[h]}/24", "dev", dev)
            sh("ip", "-n", h, "link", "set", "dev", dev, "up")
            sh("ip", "-n", h, "link", "set", "dev", "lo", "up")

    def ns(self, name: str) -> str:
        full = f"{self.prefix}{name}"
        sh("ip", "netns", "add", full)
        self.namespaces.append(full)
        return full

    def apply(self, host_ns: str, state: HostState) -> None:
        agent.apply(state, prefix=self.prefix, state_dir=self.state_dir[host_ns],
                    host_netns=host_ns)

    def guest(self, name: str, host_ns: str, port: Port, address: str | None) -> Guest:
        g = self.ns(name)
        sh("ip", "link", "add", port.devname, "netns", host_ns, "type", "veth",
           "peer", "name", "eth0", "netns", g)
        sh("ip", "-n", g, "link", "set", "dev", "eth0", "address", port.mac, "mtu", str(MTU))
        sh("ip", "-n", g, "link", "set", "dev", "eth0", "up")
        sh("ip", "-n", g, "link", "set", "dev", "lo", "up")
        if address:
            sh("ip", "-n", g, "addr", "add", f"{address}/24", "dev", "eth0")
        return Guest(g, host_ns, port, address or "")

    def links(self, host_ns: str) -> dict[str, dict]:
        out = sh("ip", "-n", host_ns, "-d", "-j", "link", "show").stdout
        return {link["ifname"]: link for link in json.loads(out)}

    def ours(self, host_ns: str) -> list[str]:
        """Devices named like this run's bridges or VXLAN devices."""
        return [n for n in self.links(host_ns)
                if names.is_bridge_name(self.prefix, n) or names.is_vxlan_name(self.prefix, n)
                or n.startswith(f"{self.prefix}d")]

    def nft(self, host_ns: str) -> str:
        return sh("ip", "netns", "exec", host_ns, "nft", "-s", "list", "ruleset").stdout

    def dnsmasqs(self) -> list[int]:
        return pids_whose_cmdline_has(b"dnsmasq", self.tmp.encode())

    def close(self) -> list[str]:
        problems = []
        for h in (self.h1, self.h2):
            try:
                self.apply(h, HostState(host=h, local_ip=self.underlay[h]))
            except Exception as e:  # noqa: BLE001 - cleanup goes on
                problems.append(f"empty state on {h}: {e}")
        for pid in self.dnsmasqs():
            problems.append(f"dnsmasq {pid} left running")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        existing = set(os.listdir("/run/netns"))
        for ns in sorted(existing):
            if ns.startswith(self.prefix) and ns not in self.namespaces:
                problems.append(f"namespace {ns} left")
                self.namespaces.append(ns)
        for ns in reversed(self.namespaces):
            sh("ip", "netns", "delete", ns, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return problems


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    w = World()
    problems: list[str] = []
    try:
        yield w
    finally:
        problems = w.close()
    assert not problems, problems


# -- traffic ---------------------------------------------------------------------

def ping(g: Guest, address: str, tries: int = 3) -> bool:
    """An ICMP echo answered (a loaded machine may lose the first, so a
    positive check tries a few times; :func:`no_ping` tries once)."""
    for _ in range(tries):
        r = sh("ip", "netns", "exec", g.ns, "busybox", "ping", "-c", "1", "-W", "2", address,
               check=False)
        if r.returncode == 0:
            return True
    return False


def no_ping(g: Guest, address: str) -> bool:
    return not ping(g, address, tries=1)


class Server:
    """A TCP echo server in a guest (a thread of this process)."""

    def __init__(self, g: Guest, port: int) -> None:
        with in_netns(g.ns):
            self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", port))
        self.sock.listen(8)
        self.sock.settimeout(0.5)
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(30)
            try:
                while data := conn.recv(1024):
                    conn.sendall(data)
            except OSError:
                pass

    def close(self) -> None:
        self.stop = True
        self.thread.join()
        self.sock.close()


def connect(g: Guest, address: str, port: int, tries: int = 2) -> socket.socket | None:
    """A TCP connection from the guest (None: refused or timed out)."""
    for _ in range(tries):
        with in_netns(g.ns):
            s = socket.socket()
        s.settimeout(TIMEOUT)
        try:
            s.connect((address, port))
            return s
        except OSError:
            s.close()
    return None


def no_connect(g: Guest, address: str, port: int) -> bool:
    s = connect(g, address, port, tries=1)
    if s is not None:
        s.close()
    return s is None


def echo(s: socket.socket) -> bool:
    try:
        s.sendall(b"ping")
        return s.recv(16) == b"ping"
    except OSError:
        return False


def udp6_arrives(src: Guest, dst: Guest, source: str, dest: str, port: int) -> bool:
    """A datagram between link-local addresses (on each guest's eth0)."""
    with in_netns(dst.ns):
        rx = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        rx_scope = socket.if_nametoindex("eth0")
    with in_netns(src.ns):
        tx = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        tx_scope = socket.if_nametoindex("eth0")
    try:
        rx.bind((dest, port, 0, rx_scope))
        rx.settimeout(TIMEOUT)
        tx.setsockopt(socket.IPPROTO_IPV6, 75, 1)   # IPV6_TRANSPARENT: any source
        tx.bind((source, 0, 0, tx_scope))
        tx.sendto(b"hello6", (dest, port, 0, tx_scope))
        try:
            return rx.recv(16) == b"hello6"
        except OSError:
            return False
    finally:
        rx.close()
        tx.close()


def udp_arrives(src: Guest, dst: Guest, source_ip: str, port: int, size: int = 5) -> bool:
    """A datagram (``size`` bytes, never fragmented) from ``src`` with source
    ``source_ip`` reaches ``dst``."""
    with in_netns(dst.ns):
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with in_netns(src.ns):
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.bind(("0.0.0.0", port))
        rx.settimeout(TIMEOUT)
        tx.setsockopt(socket.SOL_IP, 19, 1)      # IP_TRANSPARENT: any source
        tx.setsockopt(socket.SOL_IP, 10, 2)      # IP_MTU_DISCOVER = DO: no fragments
        tx.bind((source_ip, 0))
        payload = (b"hello" * (size // 5 + 1))[:size]
        tx.sendto(payload, (dst.address, port))
        try:
            return rx.recv(65536) == payload
        except OSError:
            return False
    finally:
        rx.close()
        tx.close()


# -- the scenario -----------------------------------------------------------------

def _mac() -> str:
    return "fa:16:3e:" + ":".join(f"{secrets.randbelow(256):02x}" for _ in range(3))


def _port(net: Network, address: str, groups: tuple[str, ...], hostname: str = "",
          owner: str = "compute:nova") -> Port:
    return Port(id=str(uuid.uuid4()), network_id=net.id, mac=_mac(),
                fixed_ips=((net.subnets[0].id, address),), security_groups=groups,
                hostname=hostname, device_owner=owner)


def test_two_hosts(world: World) -> None:
    vni_a, vni_b = 5000 + secrets.randbelow(1000), 6000 + secrets.randbelow(1000)
    sub_a = Subnet(id=str(uuid.uuid4()), network_id="", cidr=CIDR, gateway_ip=GATEWAY,
                   allocation_pools=(("10.50.0.2", "10.50.0.254"),))
    net_a = Network(id=str(uuid.uuid4()), vni=vni_a, mtu=MTU,
                    subnets=(replace(sub_a),))
    net_b = Network(id=str(uuid.uuid4()), vni=vni_b, mtu=MTU,
                    subnets=(replace(sub_a, id=str(uuid.uuid4())),))
    sg1, sg2 = str(uuid.uuid4()), str(uuid.uuid4())
    p1 = _port(net_a, "10.50.0.11", (sg1,))                       # host 1
    p2 = _port(net_a, "10.50.0.12", (sg1,), hostname="guest-two")  # host 2, by DHCP
    p5 = _port(net_a, "10.50.0.15", (sg2,))                       # host 2, other group
    p3 = _port(net_b, "10.50.0.11", (sg2,))                       # host 1, network B
    p4 = _port(net_b, "10.50.0.14", (sg2,))                       # host 2, network B
    p6 = _port(net_a, "10.50.0.16", (sg1,))                       # host 2, DHCP later
    p_dhcp = _port(net_a, DHCP_ADDRESS, (), owner="network:dhcp")
    dhcp_extra: list[Port] = []

    base_rules = (SecurityGroupRule("egress"), SecurityGroupRule("egress", ethertype="IPv6"))
    group1 = SecurityGroup(id=sg1, rules=base_rules + (
        SecurityGroupRule("ingress", remote_group_id=sg1),),
        member_addresses=("10.50.0.11", "10.50.0.12"))
    group2 = SecurityGroup(id=sg2, rules=base_rules + (
        SecurityGroupRule("ingress", remote_group_id=sg2),),
        member_addresses=("10.50.0.15", "10.50.0.11", "10.50.0.14"))
    h1, h2 = world.h1, world.h2
    ul1, ul2 = world.underlay[h1], world.underlay[h2]

    def states(g1: SecurityGroup, *, h1_ports: tuple[Port, ...] = (p1, p3),
               networks: tuple[Network, ...] = (net_a, net_b)) -> tuple[HostState, HostState]:
        nets1 = tuple(replace(n, peers=(ul2,)) for n in networks)
        nets2 = tuple(replace(n, peers=(ul1,)) for n in networks)
        a_here = net_a in networks
        s1 = HostState(host="h1", local_ip=ul1, networks=nets1,
                       ports=tuple(p for p in h1_ports if any(n.id == p.network_id
                                                              for n in networks)),
                       security_groups=(g1, group2),
                       dhcp_networks=(net_a.id,) if a_here else (),
                       dhcp_ports=(p1, p2, p5, p_dhcp, *dhcp_extra) if a_here else ())
        s2 = HostState(host="h2", local_ip=ul2, networks=nets2,
                       ports=tuple(p for p in (p2, p5, p4, p6)
                                   if any(n.id == p.network_id for n in networks)),
                       security_groups=(g1, group2))
        return s1, s2

    def apply(g1: SecurityGroup, **kw: object) -> tuple[HostState, HostState]:
        s1, s2 = states(g1, **kw)  # type: ignore[arg-type]
        world.apply(h1, s1)
        world.apply(h2, s2)
        return s1, s2

    g1 = world.guest("g1", h1, p1, "10.50.0.11")
    g2 = world.guest("g2", h2, p2, None)
    g5 = world.guest("g5", h2, p5, "10.50.0.15")
    g3 = world.guest("g3", h1, p3, "10.50.0.11")
    g4 = world.guest("g4", h2, p4, "10.50.0.14")
    s1, _s2 = apply(group1)

    # Layer 2 as asked: bridge + VXLAN (VNI, local address, no learning,
    # one all-zero FDB entry per peer), taps on their bridges, MTU.
    links = world.links(h1)
    br_a, vx_a = names.bridge(world.prefix, net_a), names.vxlan(world.prefix, vni_a)
    vx = links[vx_a]["linkinfo"]["info_data"]
    assert (vx["id"], vx["local"], vx["port"], vx["learning"]) == (vni_a, ul1, 4789, False)
    assert links[vx_a]["master"] == br_a and links[p1.devname]["master"] == br_a
    assert links[br_a]["mtu"] == MTU and links[p1.devname]["mtu"] == MTU
    fdb = json.loads(sh("ip", "netns", "exec", h1, "bridge", "-j", "fdb", "show", "dev",
                        vx_a).stdout)
    assert [e["dst"] for e in fdb if e["mac"] == "00:00:00:00:00:00"] == [ul2]

    # Applying the same state again changes nothing.
    before = {n: link["ifindex"] for n, link in world.links(h1).items()}
    dnsmasq_before = world.dnsmasqs()
    assert not secgroups.apply(Host(h1), s1, world.prefix)
    world.apply(h1, s1)
    assert {n: link["ifindex"] for n, link in world.links(h1).items()} == before
    assert world.dnsmasqs() == dnsmasq_before and len(dnsmasq_before) == 1
    nft_before = world.nft(h1)

    # Another deployment on the same host (another prefix) with nothing to
    # do removes nothing of ours, and ours leaves alone a bridge named like
    # one of its own that it did not make.
    other = "n3" + secrets.token_hex(2)
    assert other != world.prefix
    agent.apply(HostState(host="h1", local_ip=ul1), prefix=other,
                state_dir=os.path.join(world.tmp, "other"), host_netns=h1, layer3=False)
    assert {n: link["ifindex"] for n, link in world.links(h1).items()} == before
    assert world.nft(h1) == nft_before and world.dnsmasqs() == dnsmasq_before
    stranger = f"{world.prefix}b0stranger"[:15]
    assert names.is_bridge_name(world.prefix, stranger)
    sh("ip", "-n", h1, "link", "add", stranger, "type", "bridge")

    # DHCP across the VXLAN: g2 (host 2) gets its address, gateway, MTU and
    # the metadata route from the dnsmasq of host 1.
    lease = udhcpc(world, g2)
    assert lease is not None and lease["ip"] == "10.50.0.12", lease
    assert lease["router"] == GATEWAY and lease["mtu"] == str(MTU), lease
    assert lease["subnet"] == "255.255.255.0" and lease.get("hostname") == "guest-two", lease
    # No DNS servers on the subnet: the DHCP server is the DNS server and
    # answers the network's host names (Neutron's default).
    assert lease.get("dns") == DHCP_ADDRESS, lease
    words = lease["staticroutes"].split()
    routes = list(zip(words[::2], words[1::2], strict=True))
    assert ("169.254.169.254/32", DHCP_ADDRESS) in routes, lease
    assert ("0.0.0.0/0", GATEWAY) in routes, lease
    sh("ip", "-n", g2.ns, "addr", "add", "10.50.0.12/24", "dev", "eth0")
    g2.address = "10.50.0.12"
    assert p2.mac in dhcp.leases(world.state_dir[h1], net_a.id)

    # A port the DHCP server does not know gets nothing (static leases only);
    # once the state has it, dnsmasq rereads its entries (SIGHUP, same
    # process) and answers.
    g6 = world.guest("g6", h2, p6, None)
    assert udhcpc(world, g6, tries=2) is None
    pids = world.dnsmasqs()
    dhcp_extra.append(p6)
    apply(group1)
    assert world.dnsmasqs() == pids
    lease6 = udhcpc(world, g6)
    assert lease6 is not None and lease6["ip"] == "10.50.0.16", lease6
    assert lease6.get("hostname") == "host-10-50-0-16", lease6

    answer = sh("ip", "netns", "exec", g1.ns, "busybox", "nslookup",
                "guest-two.openstacklocal", DHCP_ADDRESS, check=False).stdout
    assert "10.50.0.12" in answer, answer
    answer = sh("ip", "netns", "exec", g1.ns, "busybox", "nslookup",
                "host-10-50-0-15.openstacklocal", DHCP_ADDRESS, check=False).stdout
    assert "10.50.0.15" in answer, answer

    # Same network across hosts: ping and TCP (same security group).
    assert ping(g1, g2.address) and ping(g2, g1.address)
    srv1, srv3 = Server(g1, 80), Server(g3, 80)
    try:
        c = connect(g2, g1.address, 80)
        assert c is not None and echo(c)
        c.close()
        # Network B (same CIDR, even the same address as g1) reaches its own
        # guest on the other host, never network A's guests.
        assert ping(g4, g3.address)
        assert no_ping(g3, g2.address) and no_ping(g4, "10.50.0.12")
        c = connect(g4, "10.50.0.11", 80)               # g3, its own network
        assert c is not None and echo(c)
        c.close()

        # Spoofing: another source address or MAC is dropped at the tap.
        assert udp_arrives(g1, g2, g1.address, 7001)
        assert not udp_arrives(g1, g2, "10.50.0.99", 7002)
        assert not udp_arrives(g1, g2, "10.50.0.12", 7003)
        sh("ip", "-n", g1.ns, "link", "set", "dev", "eth0", "address", "fa:16:3e:66:66:66")
        try:
            assert not udp_arrives(g1, g2, g1.address, 7004)
        finally:
            sh("ip", "-n", g1.ns, "link", "set", "dev", "eth0", "address", p1.mac)
        assert udp_arrives(g1, g2, g1.address, 7005)
        # The network's MTU holds across the VXLAN (1500-byte underlay): a
        # 1450-byte IP packet that may not be fragmented arrives whole.
        assert udp_arrives(g1, g2, g1.address, 7006, size=MTU - 28)
        # A guest answering DHCP is dropped too (the server reply from g1).
        assert "udp sport 67 udp dport 68 drop" in world.nft(h1)
        # IPv6: g1's link-local address (EUI-64 of its MAC) gets through to
        # g2 once a rule lets IPv6 in; another link-local source does not.
        apply(replace(group1, rules=group1.rules + (
            SecurityGroupRule("ingress", ethertype="IPv6", protocol="udp"),)))
        g2_lla = secgroups.link_local(p2.mac)
        assert udp6_arrives(g1, g2, secgroups.link_local(p1.mac), g2_lla, 7007)
        assert not udp6_arrives(g1, g2, "fe80::dead", g2_lla, 7008)
        apply(group1)
        assert not udp6_arrives(g1, g2, secgroups.link_local(p1.mac), g2_lla, 7009)

        # Security groups: g5 (other group) cannot reach g1 until a rule opens
        # tcp/80 from its CIDR; removing the rule closes it again and cuts
        # the connection it allowed (Neutron deletes its conntrack entries).
        assert no_connect(g5, g1.address, 80)
        assert no_ping(g5, g1.address)
        opened = replace(group1, rules=group1.rules + (SecurityGroupRule(
            "ingress", protocol="tcp", port_range_min=80, port_range_max=80,
            remote_ip_prefix="10.50.0.15/32"),))
        apply(opened)
        c = connect(g5, g1.address, 80)
        assert c is not None and echo(c)
        assert no_ping(g5, g1.address)              # tcp/80 only
        # A change of g1's rules leaves other ports' flows alone: g2's
        # connection to g1 (remote group) stays up.
        keep = connect(g2, g1.address, 80)
        assert keep is not None and echo(keep)
        apply(group1)
        assert no_connect(g5, g1.address, 80)
        assert not echo(c)
        c.close()
        assert echo(keep)
        keep.close()

        # Remote group: g5 becomes a member address of g1's group and reaches
        # it (any protocol), then leaves it again.
        apply(replace(group1, member_addresses=group1.member_addresses + ("10.50.0.15",)))
        assert ping(g5, g1.address)
        c = connect(g5, g1.address, 80)
        assert c is not None and echo(c)
        c.close()
        apply(group1)
        assert no_ping(g5, g1.address)
        assert ping(g1, g5.address)

        # Egress: the group's egress rules are what g1 may send: without any,
        # g1 reaches nobody (replies to what reaches it still pass).
        # (g5 is in the other group, which lets everything out and in from
        # its members, 10.50.0.11 among them.)
        assert ping(g1, g5.address)
        closed = replace(group1, rules=(
            SecurityGroupRule("ingress", remote_group_id=sg1),
            SecurityGroupRule("ingress", remote_ip_prefix="10.50.0.15/32")))
        apply(closed)
        assert ping(g5, g1.address)
        assert no_ping(g1, g5.address)
        apply(group1)
        assert no_ping(g5, g1.address)
        assert ping(g1, g5.address)
    finally:
        srv1.close()
        srv3.close()

    # The state drops port p1: its chains go, the rest stays.
    port_chain = f"po-{p1.id}"
    assert port_chain in world.nft(h1)
    apply(group1, h1_ports=(p3,))
    assert port_chain not in world.nft(h1) and f"po-{p3.id}" in world.nft(h1)
    assert p1.devname in world.links(h1)            # the tap is the hypervisor's

    # Then network A leaves the state, then every network: nothing is left.
    apply(group1, h1_ports=(p3,), networks=(net_b,))
    assert not world.dnsmasqs()
    assert names.dhcp_namespace(world.prefix, net_a.id) not in os.listdir("/run/netns")
    assert br_a not in world.links(h1) and vx_a not in world.links(h1)
    assert not os.path.exists(os.path.join(world.state_dir[h1], "dhcp", net_a.id))
    # A DHCP server whose record (its state directory) was lost is still
    # found by its marked veth and removed with its dnsmasq.
    apply(group1, h1_ports=(p3,))
    assert len(world.dnsmasqs()) == 1
    shutil.rmtree(os.path.join(world.state_dir[h1], "dhcp", net_a.id))
    apply(group1, h1_ports=(p3,), networks=(net_b,))
    assert not world.dnsmasqs()
    assert names.dhcp_namespace(world.prefix, net_a.id) not in os.listdir("/run/netns")
    apply(group1, h1_ports=(), networks=())
    assert world.ours(h1) == [stranger]
    sh("ip", "-n", h1, "link", "del", stranger)
    for h in (h1, h2):
        assert world.ours(h) == [], world.ours(h)
        assert names.nft_table(world.prefix) not in world.nft(h)


def udhcpc(world: World, g: Guest, tries: int = 5) -> dict[str, str] | None:
    """Run busybox's DHCP client in the guest; what its script was given
    (None: no lease)."""
    out = os.path.join(world.tmp, f"lease-{g.ns}")
    script = os.path.join(world.tmp, "udhcpc.sh")
    with open(script, "w") as f:
        f.write(f'#!/bin/sh\n[ "$1" = bound ] && env > "{out}"\nexit 0\n')
    os.chmod(script, 0o755)
    r = sh("ip", "netns", "exec", g.ns, "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f",
           "-t", str(tries), "-T", "2", "-s", script, "-O", "mtu", "-O", "staticroutes",
           "-O", "router", "-O", "hostname", timeout=60, check=False)
    if r.returncode != 0 or not os.path.exists(out):
        return None
    with open(out) as f:
        return dict(line.split("=", 1) for line in f.read().splitlines() if "=" in line)
