"""The vxlan data plane stack the end-to-end network tests share
(tests/integration/test_network_e2e.py, test_debian_image.py).

:class:`VxlanStack` is a :class:`RealStack` (one compute host in the root
namespace, the real libvirtd) with ``[network] dataplane = vxlan`` under a
data plane prefix of the run's own; its compute is also the DHCP host, so its
agent runs DHCP and the metadata proxies, and a metadata service of the run's
own answers them. :func:`vxlan_stack` is the body of the tests' module
fixtures: whatever happened, every server is deleted, the stack stopped, an
empty state applied with the run's prefix (so nothing of it is left on the
host) and the test namespaces removed; what was still found is a failure.

:func:`routed_network` makes the everyday story's topology (an external
network, a project network and subnet, a router with its gateway on the
external network and an interface on the subnet); the ``*_leftovers``
helpers say what the data plane still holds of a port or a network after
delete, on any host (a ``run`` that runs a command there).
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import os
import secrets
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from novalite.conf import CONF
from novalite.network.dataplane import names
from novalite.virt.libvirt import agent
from tests.integration.realstack import HOST, RealStack, RealStackError, libvirt_connection

V2 = "/network/v2.0"
ACTIVE_TIMEOUT = 180
HTTP_TIMEOUT = 180

Run = Callable[..., str]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(*argv: str, check: bool = True) -> str:
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{argv}: {done.returncode} {done.stderr}")
    return done.stdout


def wait_clean(find: Callable[[], list[str]], timeout: float, what: str) -> None:
    """Until ``find()`` finds nothing left; else fail naming what it found."""
    deadline = time.monotonic() + timeout
    while True:
        left = find()
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still there after {timeout:.0f} s: {left}")
        time.sleep(1)


def vni_range() -> str:
    """A VNI range of the run's own: the kernel refuses a second VXLAN device
    with a VNI (and UDP port) another one on it already has, whatever its
    name or local address, and every deployment numbers its networks from
    the start of its range (1000 by default), so two test runs (or a test and
    an all-in-one) on one machine would take each other's VNIs."""
    import random

    start = random.randrange(100_000, 16_000_000, 1000)
    return f"{start}:{start + 999}"


def wait(fn: Callable[[], Any], timeout: float, what: str, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


class VxlanStack:
    def __init__(self, label: str = "nete2e", config_drive: bool = True) -> None:
        tag = uuid.uuid4().hex[:4]
        self.prefix = f"e{tag}"
        self.outside = f"{self.prefix}-outside"
        self.secret = secrets.token_hex(16)
        self.metadata_port = free_port()
        self.cidr = f"10.{200 + int(tag[0], 16) % 50}.{int(tag[1:3], 16)}.0/26"
        self.rs = RealStack(label=label, overrides={
            ("network", "dataplane"): "vxlan",
            ("network", "dataplane_prefix"): self.prefix,
            ("network", "vni_ranges"): [vni_range()],
            ("network", "dhcp_host"): HOST,
            ("network", "create_default_network"): False,
            ("network", "agent_resync_interval"): 5,
            ("network", "host_routes_via_routers"): True,
            ("compute", "force_config_drive"): config_drive,
            ("metadata", "metadata_proxy_shared_secret"): self.secret,
            ("metadata", "listen"): "127.0.0.1",
            ("metadata", "port"): self.metadata_port,
        })
        self.metadata: Any = None
        self.net: dict = {}
        self.subnet: dict = {}
        self.state_dir = ""

    def start(self) -> VxlanStack:
        self.rs.start()
        from novalite.metadata.service import MetadataService

        self.metadata = MetadataService(secret=self.secret, listen="127.0.0.1",
                                        port=self.metadata_port)
        self.metadata.start()
        self.state_dir = os.path.join(CONF.state_path, "dataplane", self.prefix)
        return self

    def api(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        resp = self.rs.stack.request(method, V2 + path, body)
        assert resp.status_code == status, f"{method} {path}: {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None

    def bridge(self) -> str:
        return names.bridge_for_id(self.prefix, self.net["id"])

    def stop(self) -> list[str]:
        problems: list[str] = []
        try:
            problems += self.rs.delete_all_servers()
        except Exception as e:  # noqa: BLE001
            problems.append(f"deleting the servers failed: {e!r}")
        for ns in (self.outside, f"{self.prefix}-ext"):
            run("ip", "netns", "del", ns, check=False)
        for dev in (f"{self.prefix}o0", f"{self.prefix}x0"):
            run("ip", "link", "del", dev, check=False)
        if self.metadata is not None:
            with contextlib.suppress(Exception):
                self.metadata.stop()
        # NOTE: the stack (and its agent) first, then an empty state removes
        # whatever the deployment's prefix still has on this host.
        problems += self.rs.stop()
        return problems + remove_dataplane(self.prefix, self.state_dir, self.rs.base)


def remove_dataplane(prefix: str, state_dir: str | None, base: str) -> list[str]:
    """After a stack stopped: an empty state applied with its prefix removes
    whatever the deployment still has on this host; the stack's directory
    goes (the empty apply made its state directory again); what is left of
    the prefix's devices and namespaces is a problem."""
    from novalite.network.dataplane import agent as dataplane
    from novalite.network.dataplane.state import HostState

    problems: list[str] = []
    try:
        dataplane.apply(HostState(host=HOST, local_ip="127.0.0.1"), prefix=prefix,
                        state_dir=state_dir or "/nonexistent")
    except Exception as e:  # noqa: BLE001
        problems.append(f"removing the data plane failed: {e!r}")
    shutil.rmtree(base, ignore_errors=True)
    left = [line for line in run("ip", "-o", "link").splitlines() if f": {prefix}" in line]
    left += [n for n in run("ip", "netns", "list").split() if n.startswith(prefix)]
    if left:
        problems.append(f"kernel objects of {prefix} left: {left}")
    return problems


@contextlib.contextmanager
def vxlan_stack(**kwargs: Any) -> Iterator[VxlanStack]:
    """A started :class:`VxlanStack`, stopped and checked clean at the end."""
    try:
        libvirt_connection().close()
    except RealStackError as e:
        pytest.fail(str(e))
    stack = VxlanStack(**kwargs)
    problems: list[str] = []
    try:
        stack.start()
        yield stack
    finally:
        problems = stack.stop()
    assert not problems, "the test was not left clean:\n" + "\n".join(problems)


# -- topology ------------------------------------------------------------------

@dataclass
class Routed:
    """An external network and a project network joined by a router."""
    ext: dict
    ext_cidr: ipaddress.IPv4Network
    net: dict
    subnet: dict
    cidr: ipaddress.IPv4Network
    router: dict

    @property
    def outside_ip(self) -> str:
        """The address an outside namespace takes on the external network."""
        return str(self.ext_cidr.broadcast_address - 1)


def routed_network(e: VxlanStack) -> Routed:
    """The external network (no DHCP), a project network with a subnet (the
    second /26 of the /24 around ``e.cidr``), a router with its gateway on the
    external network and an interface on the subnet; returns once the host
    has the external bridge and the router's namespace."""
    tag = e.prefix[1:]
    ext_cidr = ipaddress.ip_network(f"100.{64 + int(tag[0], 16)}.{int(tag[1:3], 16)}.0/24")
    cidr = list(ipaddress.ip_network(e.cidr).supernet(new_prefix=24).subnets(new_prefix=26))[1]
    ext = e.api("POST", "/networks", {"network": {"name": f"{e.prefix}-ext",
                                                   "router:external": True}}, 201)["network"]
    e.api("POST", "/subnets", {"subnet": {"network_id": ext["id"], "cidr": str(ext_cidr),
                                          "ip_version": 4, "enable_dhcp": False}}, 201)
    net = e.api("POST", "/networks", {"network": {"name": f"{e.prefix}-priv"}},
                201)["network"]
    sub = e.api("POST", "/subnets", {"subnet": {"network_id": net["id"], "cidr": str(cidr),
                                                "ip_version": 4}}, 201)["subnet"]
    router = e.api("POST", "/routers", {"router": {
        "name": f"{e.prefix}-r", "external_gateway_info": {"network_id": ext["id"]}}},
        201)["router"]
    e.api("PUT", f"/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    # The L3 host's agent (told by the API) makes the external bridge and the
    # router's namespace.
    ext_bridge = names.bridge_for_id(e.prefix, ext["id"])
    rns = names.router_namespace(e.prefix, router["id"])
    wait(lambda: not gone(ext_bridge) and rns in run("ip", "netns", "list"), 120,
         f"{ext_bridge} and {rns}")
    assert isinstance(ext_cidr, ipaddress.IPv4Network) and isinstance(cidr, ipaddress.IPv4Network)
    return Routed(ext=ext, ext_cidr=ext_cidr, net=net, subnet=sub, cidr=cidr, router=router)


def remove_routed_network(e: VxlanStack, r: Routed) -> None:
    """The router and both networks deleted through the API (no ports left);
    their router namespace, bridges, VXLAN devices, DHCP namespace and host
    route go from the host."""
    e.api("PUT", f"/routers/{r.router['id']}/remove_router_interface",
          {"subnet_id": r.subnet["id"]})
    e.api("DELETE", f"/routers/{r.router['id']}", status=204)
    e.api("DELETE", f"/networks/{r.net['id']}", status=204)
    e.api("DELETE", f"/networks/{r.ext['id']}", status=204)
    rns = names.router_namespace(e.prefix, r.router["id"])
    wait(lambda: rns not in run("ip", "netns", "list"), 60, f"{rns} to go")
    for net in (r.net, r.ext):
        wait_clean(lambda net=net: network_leftovers(e.prefix, net, e.state_dir), 60,
                   f"network {net['id']}")
    wait_clean(lambda: [line for line in run("ip", "-4", "route").splitlines()
                        if line.split()[0] == str(r.cidr)], 60, f"the host route to {r.cidr}")


def outside(e: VxlanStack, address: str, prefixlen: int, bridge: str | None = None,
            ns: str | None = None, mtu: int = 1450, tag: str = "o") -> None:
    """A namespace standing for a machine on the network: a veth whose host
    end is a port of the network's bridge."""
    ns = ns or e.outside
    host_end, inner = f"{e.prefix}{tag}0", f"{e.prefix}{tag}1"
    run("ip", "netns", "add", ns)
    run("ip", "link", "add", host_end, "type", "veth", "peer", "name", inner)
    run("ip", "link", "set", inner, "netns", ns)
    run("ip", "link", "set", host_end, "master", bridge or e.bridge(), "up")
    run("ip", "-n", ns, "addr", "add", f"{address}/{prefixlen}", "dev", inner)
    run("ip", "-n", ns, "link", "set", inner, "mtu", str(mtu), "up")
    run("ip", "-n", ns, "link", "set", "lo", "up")


def outside_address(cidr: str) -> Any:
    return ipaddress.ip_network(cidr).broadcast_address - 1


# -- talking to guests -----------------------------------------------------------

ECHO_SERVER = r"""
import http.server, sys
class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("from=" + self.client_address[0]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("0.0.0.0", int(sys.argv[1])), Echo).serve_forever()
"""


@contextlib.contextmanager
def echo_server(ns: str, port: int) -> Iterator[None]:
    """An HTTP server in namespace ``ns`` answering ``from=<client address>``:
    what a guest's connection looks like from outside (SNAT, floating IP)."""
    import sys

    proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", ECHO_SERVER,
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait(lambda: f":{port} " in run("ip", "netns", "exec", ns, "ss", "-Htln")
             or proc.poll() is not None, 30, f"the echo server in {ns}", interval=0.2)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        yield
    finally:
        proc.terminate()
        proc.wait(30)


def source_seen_by(domain: Any, address: str, port: int) -> str | None:
    """The source address :func:`echo_server` at ``address`` saw for the
    tiny guest's connection, or None."""
    try:
        out = guest(domain, "sh", "-c",
                    f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 {address} {port}")
    except AssertionError:
        return None
    lines = [line for line in out.splitlines() if line.startswith("from=")]
    return lines[-1][len("from="):].strip() if lines else None

def http(address: str, ns: str | None = None) -> str | None:
    """The tiny guest's HTTP answer (with its uuid) from ``address``, or None."""
    argv = ["curl", "-s", "--noproxy", "*", "-m", "3", f"http://{address}/"]
    if ns:
        argv = ["ip", "netns", "exec", ns, *argv]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    return done.stdout if done.returncode == 0 and "uuid=" in done.stdout else None


def guest(domain: Any, *argv: str) -> str:
    """Busybox ``argv`` run in the tiny guest by its agent; its stdout."""
    status = agent.execute(domain, "/bin/busybox", list(argv), time.monotonic() + 30,
                           capture=True)
    assert status.get("exitcode") == 0, status
    return base64.b64decode(status.get("out-data", "")).decode()


def meta_via(dom: Any) -> str | None:
    """meta_data.json as the guest reads it (busybox nc; its static wget
    crashes in the resolver), or None."""
    try:
        out = guest(dom, "sh", "-c",
                    "printf 'GET /openstack/latest/meta_data.json HTTP/1.0\\r\\n"
                    "Host: 169.254.169.254\\r\\n\\r\\n' | busybox nc -w 5 169.254.169.254 80")
    except AssertionError:
        return None
    head, _, body = out.partition("\r\n\r\n")
    return body if " 200 " in head.split("\r\n")[0] else None


# -- what delete leaves ------------------------------------------------------------

def dhcp_entries(state_dir: str) -> str:
    """Every DHCP file of a deployment's state (host entries, leases,
    addn_hosts, options), as one text."""
    text = []
    for root, _dirs, files in os.walk(state_dir):
        for name in files:
            with contextlib.suppress(OSError), open(os.path.join(root, name)) as f:
                text.append(f.read())
    return "\n".join(text)


def gone(dev: str) -> bool:
    return not os.path.exists(f"/sys/class/net/{dev}")


def tap_of(port_id: str) -> str:
    return ("tap" + port_id)[:14]


def port_leftovers(stack: Any, port: dict, state_dir: str = "",
                   host_run: Run = run) -> list[str]:
    """What is still there of a port the API deleted: the port itself (when
    ``stack``, a ``tests.functional.stack.Stack``, is given), its DHCP host entry or lease (in ``state_dir``, the DHCP
    host's), its nftables chains or map entries and its tap, on the host
    ``host_run`` runs commands on."""
    left = []
    if stack is not None:
        resp = stack.request("GET", f"{V2}/ports/{port['id']}")
        if resp.status_code != 404:
            left.append(f"GET port {port['id']}: {resp.status_code}")
    if state_dir and port["mac_address"] in dhcp_entries(state_dir):
        left.append(f"a DHCP entry of {port['mac_address']} in {state_dir}")
    ruleset = host_run("nft", "list", "ruleset")
    tap = tap_of(port["id"])
    for needle in (tap, port["id"]):
        if needle in ruleset:
            left.append(f"nftables names {needle}")
    links = host_run("ip", "-o", "link")
    if f": {tap}:" in links or f": {tap}@" in links:
        left.append(f"the tap {tap}")
    return left


def network_leftovers(prefix: str, net: dict, state_dir: str = "",
                      host_run: Run = run) -> list[str]:
    """What is still there of a deleted network on a host: its bridge, VXLAN
    device, DHCP namespace, DHCP veth, DHCP state and dnsmasq."""
    left = []
    links = host_run("ip", "-o", "link")
    devs = [names.bridge_for_id(prefix, net["id"]), names.dhcp_host_end(prefix, net["id"])]
    vni = net.get("provider:segmentation_id")
    if vni:
        devs.append(names.vxlan(prefix, int(vni)))
    left += [f"device {d}" for d in devs if f": {d}:" in links or f": {d}@" in links]
    dhcp_ns = names.dhcp_namespace(prefix, net["id"])
    if dhcp_ns in host_run("ip", "netns", "list").split():
        left.append(f"namespace {dhcp_ns}")
    if state_dir and os.path.exists(os.path.join(state_dir, "dhcp", net["id"])):
        left.append(f"DHCP state {os.path.join(state_dir, 'dhcp', net['id'])}")
    if net["id"] in run("pgrep", "-af", "dnsmasq", check=False):
        left.append(f"a dnsmasq of {net['id']}")
    return left
