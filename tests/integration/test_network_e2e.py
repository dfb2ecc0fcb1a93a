"""The per-host data plane running the cloud ([network] dataplane = vxlan),
end to end on the real kernel and the real libvirtd (issue 13 item 2).

One compute host (the stack's, in the root namespace) runs its network agent
in the compute service; it is also the DHCP host, so its agent runs DHCP and
the metadata proxy of the network. Through the Network API (admin) the test
makes a network, a subnet (the DHCP host's state then holds the network's
DHCP port) and a port without port security (security groups are not in the API yet), and boots the tiny guest
on that port with the real libvirt driver:

- the agent made the network's data plane bridge (and its VXLAN device)
  before the plug; the domain's interface is on that bridge;
- the guest answers HTTP with its uuid on its fixed address, from an "outside"
  namespace the test plugs into the network's bridge;
- the guest reaches the metadata service through the network's metadata
  proxy (in the DHCP namespace) and reads its own uuid;
- DHCP serves the port (its MAC in the DHCP host entries); after the server
  and the port are deleted, the agent (told by the API's notification)
  removes the host entry and nothing of the tap remains in nftables;
- at the end the network is deleted and an empty state leaves nothing of
  the test's prefix on the host.

The second test puts a guest behind a router with a floating IP and a
security group (the host's route via the router, the outside namespace on the
external network). Two hosts: tests/integration/test_network_e2e_hosts.py.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from novalite.conf import CONF
from novalite.network import agent_service
from novalite.network.dataplane import names
from novalite.virt.libvirt import agent
from tests.integration.realstack import HOST, RealStack, RealStackError, libvirt_connection

V2 = "/network/v2.0"
ACTIVE_TIMEOUT = 180
HTTP_TIMEOUT = 180


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(*argv: str, check: bool = True) -> str:
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{argv}: {done.returncode} {done.stderr}")
    return done.stdout


def _wait(fn: Callable[[], Any], timeout: float, what: str, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


class E2E:
    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:4]
        self.prefix = f"e{tag}"
        self.outside = f"{self.prefix}-outside"
        self.secret = secrets.token_hex(16)
        self.metadata_port = _free_port()
        self.cidr = f"10.{200 + int(tag[0], 16) % 50}.{int(tag[1:3], 16)}.0/26"
        self.rs = RealStack(label="nete2e", overrides={
            ("network", "dataplane"): "vxlan",
            ("network", "dataplane_prefix"): self.prefix,
            ("network", "dhcp_host"): HOST,
            ("network", "create_default_network"): False,
            ("network", "agent_resync_interval"): 5,
            ("network", "host_routes_via_routers"): True,
            ("compute", "force_config_drive"): True,
            ("metadata", "metadata_proxy_shared_secret"): self.secret,
            ("metadata", "listen"): "127.0.0.1",
            ("metadata", "port"): self.metadata_port,
        })
        self.metadata: Any = None
        self.net: dict = {}
        self.subnet: dict = {}
        self.state_dir = ""

    def start(self) -> E2E:
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
            _run("ip", "netns", "del", ns, check=False)
        for dev in (f"{self.prefix}o0", f"{self.prefix}x0"):
            _run("ip", "link", "del", dev, check=False)
        if self.metadata is not None:
            with contextlib.suppress(Exception):
                self.metadata.stop()
        # NOTE: the stack (and its agent) first, then an empty state removes
        # whatever the deployment's prefix still has on this host.
        problems += self.rs.stop()
        from novalite.network.dataplane import agent as dataplane
        from novalite.network.dataplane.state import HostState

        try:
            dataplane.apply(HostState(host=HOST, local_ip="127.0.0.1"), prefix=self.prefix,
                            state_dir=self.state_dir or "/nonexistent")
        except Exception as e:  # noqa: BLE001
            problems.append(f"removing the data plane failed: {e!r}")
        # NOTE: the empty apply made its state directory again.
        shutil.rmtree(self.rs.base, ignore_errors=True)
        left = [line for line in _run("ip", "-o", "link").splitlines()
                if f": {self.prefix}" in line]
        left += [n for n in _run("ip", "netns", "list").split() if n.startswith(self.prefix)]
        if left:
            problems.append(f"kernel objects of {self.prefix} left: {left}")
        return problems


@pytest.fixture(scope="module")
def e2e() -> Iterator[E2E]:
    try:
        libvirt_connection().close()
    except RealStackError as e:
        pytest.fail(str(e))
    stack = E2E()
    problems: list[str] = []
    try:
        stack.start()
        yield stack
    finally:
        problems = stack.stop()
    assert not problems, "the test was not left clean:\n" + "\n".join(problems)


def _outside(e: E2E, address: str, prefixlen: int, bridge: str | None = None,
             ns: str | None = None, mtu: int = 1450, tag: str = "o") -> None:
    """A namespace standing for a machine on the network: a veth whose host
    end is a port of the network's bridge."""
    ns = ns or e.outside
    host_end, inner = f"{e.prefix}{tag}0", f"{e.prefix}{tag}1"
    _run("ip", "netns", "add", ns)
    _run("ip", "link", "add", host_end, "type", "veth", "peer", "name", inner)
    _run("ip", "link", "set", inner, "netns", ns)
    _run("ip", "link", "set", host_end, "master", bridge or e.bridge(), "up")
    _run("ip", "-n", ns, "addr", "add", f"{address}/{prefixlen}", "dev", inner)
    _run("ip", "-n", ns, "link", "set", inner, "mtu", str(mtu), "up")
    _run("ip", "-n", ns, "link", "set", "lo", "up")


def _http(address: str, ns: str | None = None) -> str | None:
    argv = ["curl", "-s", "--noproxy", "*", "-m", "3", f"http://{address}/"]
    if ns:
        argv = ["ip", "netns", "exec", ns, *argv]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    return done.stdout if done.returncode == 0 and "uuid=" in done.stdout else None


def _http_from_outside(e: E2E, address: str) -> str | None:
    return _http(address, e.outside)


def _guest(domain: Any, *argv: str) -> str:
    status = agent.execute(domain, "/bin/busybox", list(argv), time.monotonic() + 30,
                           capture=True)
    assert status.get("exitcode") == 0, status
    return base64.b64decode(status.get("out-data", "")).decode()


def _dhcp_entries(e: E2E) -> str:
    """Every DHCP host entry file of the deployment, as one text."""
    text = []
    for root, _dirs, files in os.walk(e.state_dir):
        for name in files:
            with contextlib.suppress(OSError), open(os.path.join(root, name)) as f:
                text.append(f.read())
    return "\n".join(text)


def test_a_guest_on_the_vxlan_data_plane(e2e: E2E) -> None:
    e = e2e
    e.net = e.api("POST", "/networks", {"network": {"name": f"{e.prefix}-net",
                                                     "shared": True}}, 201)["network"]
    e.subnet = e.api("POST", "/subnets", {"subnet": {
        "network_id": e.net["id"], "cidr": e.cidr, "ip_version": 4}}, 201)["subnet"]
    # The DHCP host's state makes the network's network:dhcp port (as
    # Neutron's DHCP agent does) once the API told the agents of the subnet.
    dhcp = _wait(lambda: (e.api("GET", f"/ports?network_id={e.net['id']}"
                                       "&device_owner=network:dhcp")["ports"] or [None])[0],
                 120, "the network's DHCP port")
    dhcp_ip = dhcp["fixed_ips"][0]["ip_address"]
    port = e.api("POST", "/ports", {"port": {"network_id": e.net["id"],
                                             "port_security_enabled": False}}, 201)["port"]
    fixed = port["fixed_ips"][0]["ip_address"]
    tap = ("tap" + port["id"])[:14]
    agents_host = e.rs.stack.computes[HOST].network_agent
    assert agents_host is not None, "the compute service runs no network agent"

    # The DHCP host's agent (told by the API) serves the network: its bridge
    # and VXLAN device exist before any guest.
    bridge = e.bridge()
    _wait(lambda: os.path.exists(f"/sys/class/net/{bridge}"), 120, f"bridge {bridge}")
    vxlan = names.vxlan(e.prefix, int(e.net["provider:segmentation_id"]))
    _wait(lambda: os.path.exists(f"/sys/class/net/{vxlan}"), 60, f"VXLAN device {vxlan}")
    _wait(lambda: port["mac_address"] in _dhcp_entries(e), 120, "the port's DHCP entry")

    with e.rs.servers(180) as ids:
        resp = e.rs.stack.compute("POST", "/servers", {"server": {
            "name": "e2e-guest", "imageRef": e.rs.images["disk"]["id"], "flavorRef": "1",
            "networks": [{"port": port["id"]}]}})
        assert resp.status_code == 202, resp.text
        server_id = resp.json()["server"]["id"]
        ids.append(server_id)
        active = e.rs.stack.wait_status(server_id, "ACTIVE", ACTIVE_TIMEOUT)
        addrs = [a["addr"] for v in active["addresses"].values() for a in v]
        assert addrs == [fixed], active["addresses"]

        # The tap is on the data plane's bridge (not a flat one).
        _wait(lambda: os.path.exists(f"/sys/class/net/{bridge}/brif/{tap}"), 60,
              f"tap {tap} on {bridge}")
        prefixlen = int(e.cidr.split("/")[1])
        _outside(e, str(_outside_address(e.cidr)), prefixlen)
        body = _wait(lambda: _http_from_outside(e, fixed), HTTP_TIMEOUT,
                     f"HTTP from {fixed}", interval=1)
        assert f"uuid={server_id}" in body.splitlines(), body

        # The metadata service answers the guest, through the network's
        # proxy in the DHCP namespace (the tiny guest takes no DHCP routes:
        # the route a DHCP client gets is added by hand).
        conn = libvirt_connection()
        dom = e.rs.domain(conn, server_id)
        assert dom is not None
        agent.wait_ready(dom, time.monotonic() + 120)
        _guest(dom, "route", "add", "-host", "169.254.169.254", "gw", dhcp_ip)

        errors: list[str] = []

        def meta() -> str | None:
            try:
                # NOTE: the tiny guest's static busybox wget dies (SIGSEGV)
                # in its resolver; nc speaks HTTP/1.0 just as well.
                out = _guest(dom, "sh", "-c",
                             "printf 'GET /openstack/latest/meta_data.json HTTP/1.0\\r\\n"
                             "Host: 169.254.169.254\\r\\n\\r\\n' | "
                             "busybox nc -w 5 169.254.169.254 80")
                head, _, body = out.partition("\r\n\r\n")
                return body if " 200 " in head.split("\r\n")[0] else None
            except AssertionError as exc:
                errors.append(str(exc))
                return None
        try:
            answer = json.loads(_wait(meta, 90, "the metadata service", interval=2))
        except AssertionError:
            _run("ip", "-n", e.outside, "route", "add", "169.254.169.254", "via", dhcp_ip)
            probe = subprocess.run(["ip", "netns", "exec", e.outside, "curl", "-s", "-i",
                                    "--noproxy", "*", "-m", "5",
                                    "http://169.254.169.254/openstack/latest/meta_data.json"],
                                   capture_output=True, text=True, check=False)
            dhcp_ns = names.dhcp_namespace(e.prefix, e.net["id"])
            raise AssertionError(
                f"guest: {errors[-3:]}; outside probe: {probe.returncode} {probe.stdout} "
                f"{probe.stderr}; dhcp ns addr: "
                f"{_run('ip', '-n', dhcp_ns, 'addr', check=False)}; proxies: "
                f"{_run('pgrep', '-af', 'metadata_proxy', check=False)}; guest routes: "
                f"{_guest(dom, 'route', '-n')}") from None
        assert answer["uuid"] == server_id, answer
        conn.close()

        e.rs.delete(server_id, timeout=120)

    # The port outlives the server (it was given); deleting it removes its
    # DHCP host entry on the DHCP host (the API notifies the agents).
    e.api("DELETE", f"/ports/{port['id']}", status=204)
    _wait(lambda: port["mac_address"] not in _dhcp_entries(e), 60,
          "the port's DHCP entry to go")
    ruleset = _run("nft", "list", "ruleset")
    assert tap not in ruleset, f"nftables still names {tap}"
    assert not os.path.exists(f"/sys/class/net/{tap}")

    # The network deleted: its bridge, VXLAN device and DHCP namespace go.
    _run("ip", "netns", "del", e.outside, check=False)
    e.api("DELETE", f"/networks/{e.net['id']}", status=204)
    _wait(lambda: not os.path.exists(f"/sys/class/net/{bridge}"), 60, f"{bridge} to go")
    assert not os.path.exists(f"/sys/class/net/{vxlan}")
    dhcp_ns = names.dhcp_namespace(e.prefix, e.net["id"])
    assert dhcp_ns not in _run("ip", "netns", "list"), f"{dhcp_ns} is left"


def _gone(dev: str) -> bool:
    return not os.path.exists(f"/sys/class/net/{dev}")


def _outside_address(cidr: str) -> Any:
    import ipaddress

    net = ipaddress.ip_network(cidr)
    return net.broadcast_address - 1


def _meta_via(dom: Any) -> str | None:
    """meta_data.json as the guest reads it (busybox nc; its static wget
    crashes in the resolver), or None."""
    try:
        out = _guest(dom, "sh", "-c",
                     "printf 'GET /openstack/latest/meta_data.json HTTP/1.0\\r\\n"
                     "Host: 169.254.169.254\\r\\n\\r\\n' | busybox nc -w 5 169.254.169.254 80")
    except AssertionError:
        return None
    head, _, body = out.partition("\r\n\r\n")
    return body if " 200 " in head.split("\r\n")[0] else None


def test_a_router_floating_ip_and_security_group(e2e: E2E) -> None:
    """A project network behind a router on an external network: the host
    reaches the fixed address through its route via the router's gateway
    once a security group rule opens port 80; the floating IP answers an
    outside namespace on the external network, not after it is
    disassociated; the guest reads its metadata through the router; delete
    leaves nothing of the port, router or networks."""
    import ipaddress

    e = e2e
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
    port = e.api("POST", "/ports", {"port": {"network_id": net["id"]}}, 201)["port"]
    fixed = port["fixed_ips"][0]["ip_address"]
    tap = ("tap" + port["id"])[:14]
    (group,) = port["security_groups"]
    ext_bridge = names.bridge_for_id(e.prefix, ext["id"])
    ns_ext = f"{e.prefix}-ext"
    rule = None
    with e.rs.servers(180) as ids:
        resp = e.rs.stack.compute("POST", "/servers", {"server": {
            "name": "e2e-routed", "imageRef": e.rs.images["disk"]["id"], "flavorRef": "1",
            "networks": [{"port": port["id"]}]}})
        assert resp.status_code == 202, resp.text
        server_id = resp.json()["server"]["id"]
        ids.append(server_id)
        e.rs.stack.wait_status(server_id, "ACTIVE", ACTIVE_TIMEOUT)
        conn = libvirt_connection()
        dom = e.rs.domain(conn, server_id)
        assert dom is not None
        agent.wait_ready(dom, time.monotonic() + 120)

        # The guest reads its own metadata through its router (egress is open
        # in the default group).
        answer = json.loads(_wait(lambda: _meta_via(dom), 120, "metadata via the router", 2))
        assert answer["uuid"] == server_id, answer

        # The host's route via the router's gateway; port 80 closed until a rule.
        _wait(lambda: any(r.split()[0] == str(cidr) for r in
                          _run("ip", "-4", "route", "show", "proto",
                               str(agent_service.route_protocol(e.prefix)))
                          .splitlines()), 60, f"the host route to {cidr}")
        assert _http(fixed) is None, "port 80 answered before any rule opened it"
        rule = e.api("POST", "/security-group-rules", {"security_group_rule": {
            "security_group_id": group, "direction": "ingress", "ethertype": "IPv4",
            "protocol": "tcp", "port_range_min": 80, "port_range_max": 80,
            "remote_ip_prefix": "0.0.0.0/0"}}, 201)["security_group_rule"]
        body = _wait(lambda: _http(fixed), HTTP_TIMEOUT, f"HTTP from {fixed} via the router")
        assert f"uuid={server_id}" in body.splitlines(), body

        # A floating IP answers the outside namespace on the external network.
        outside_ip = str(ext_cidr.broadcast_address - 1)
        _outside(e, outside_ip, ext_cidr.prefixlen, bridge=ext_bridge, ns=ns_ext, mtu=1500,
                 tag="x")
        fip = e.api("POST", "/floatingips", {"floatingip": {
            "floating_network_id": ext["id"], "port_id": port["id"]}}, 201)["floatingip"]
        address = fip["floating_ip_address"]
        body = _wait(lambda: _http(address, ns_ext), HTTP_TIMEOUT, f"HTTP from {address}")
        assert f"uuid={server_id}" in body.splitlines(), body
        e.api("PUT", f"/floatingips/{fip['id']}", {"floatingip": {"port_id": None}})
        _wait(lambda: _http(address, ns_ext) is None, 60, f"{address} to close")
        e.api("DELETE", f"/floatingips/{fip['id']}", status=204)
        conn.close()
        e.rs.delete(server_id, timeout=120)

    e.api("DELETE", f"/ports/{port['id']}", status=204)
    if rule is not None:
        e.api("DELETE", f"/security-group-rules/{rule['id']}", status=204)
    e.api("PUT", f"/routers/{router['id']}/remove_router_interface", {"subnet_id": sub["id"]})
    e.api("DELETE", f"/routers/{router['id']}", status=204)
    _run("ip", "netns", "del", ns_ext, check=False)
    e.api("DELETE", f"/networks/{net['id']}", status=204)
    e.api("DELETE", f"/networks/{ext['id']}", status=204)
    rns = names.router_namespace(e.prefix, router["id"])
    _wait(lambda: rns not in _run("ip", "netns", "list"), 60, f"{rns} to go")
    for dev in (names.bridge_for_id(e.prefix, net["id"]), ext_bridge):
        _wait(functools.partial(_gone, dev), 60, f"{dev} to go")
    assert tap not in _run("nft", "list", "ruleset"), f"nftables still names {tap}"
    assert str(cidr) not in _run("ip", "-4", "route"), f"a route to {cidr} is left"
