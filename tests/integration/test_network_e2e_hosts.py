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

A guest on A reaches a guest on B on their network (HTTP with B's uuid,
fetched inside guest A by its agent); after both are deleted and the network
is gone, neither host keeps a bridge or VXLAN device of the network. Both
ports are in the project's default security group (ingress from its members
only), so the remote-group rule lets A in on B. Another project's network
with the same CIDR, its guest C on B: C answers on its own network, guest A
cannot reach it.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from novalite.conf import CONF
from novalite.network.dataplane import names
from novalite.virt.libvirt import agent
from tests.integration.libvirt_host import SecondLibvirtHost
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
        state_dir = os.path.join(CONF.state_path, "dataplane", self.prefix)
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


def _guest(domain: Any, *argv: str) -> str:
    status = agent.execute(domain, "/bin/busybox", list(argv), time.monotonic() + 30,
                           capture=True)
    assert status.get("exitcode") == 0, status
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


def test_guests_on_two_hosts_reach_each_other_over_vxlan(hosts: TwoHosts) -> None:
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
    bridge = names.bridge_for_id(t.prefix, net["id"])
    vxlan = names.vxlan(t.prefix, int(net["provider:segmentation_id"]))
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

        # B's agent made the network's bridge and VXLAN device in B's
        # namespace, its VXLAN device sends to A's endpoint and A's to B's.
        links = _ns_links(t)
        assert f": {bridge}" in links and f": {vxlan}" in links, links
        fdb_b = t.second.run_in_ns("bridge", "fdb", "show", "dev", vxlan).stdout
        assert t.second.root_addr in fdb_b, fdb_b
        wait_until(lambda: t.second.address in os.popen(
            f"bridge fdb show dev {vxlan}").read(), 60, "A's VXLAN peer B")

        conn = libvirt_connection()
        dom_a = t.rs.domain(conn, sid_a)
        assert dom_a is not None
        agent.wait_ready(dom_a, time.monotonic() + 120)
        address_b = ports[1]["fixed_ips"][0]["ip_address"]
        body = wait_until(lambda: _http_in_guest(dom_a, address_b), 180,
                          f"guest A reaching guest B at {address_b}")
        assert f"uuid={sid_b}" in str(body).splitlines(), body

        # Another project's network with the same CIDR (its own VNI), guest C on
        # host B at an address nobody has on ours: C answers on its network
        # (from a namespace on its bridge on A, the DHCP host, across its
        # VXLAN), but guest A, on the same subnet range, cannot reach it.
        other_project = f"other-{t.prefix}"
        other = t.api("POST", "/networks", {"network": {
            "name": f"{t.prefix}-other", "project_id": other_project}}, 201)["network"]
        t.api("POST", "/subnets", {"subnet": {"network_id": other["id"], "cidr": t.cidr,
                                              "ip_version": 4,
                                              "project_id": other_project}}, 201)
        address_c = str(ipaddress.ip_network(t.cidr).broadcast_address - 2)
        port_c = t.api("POST", "/ports", {"port": {
            "network_id": other["id"], "project_id": other_project,
            "port_security_enabled": False,
            "fixed_ips": [{"ip_address": address_c}]}}, 201)["port"]
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
        assert _http_in_guest(dom_a, address_c) is None, \
            "guest A reached another network's guest"
        conn.close()
        for sid in (sid_a, sid_b, sid_c):
            t.rs.delete(sid, timeout=180)
        t.api("DELETE", f"/ports/{port_c['id']}", status=204)
        t.api("DELETE", f"/networks/{other['id']}", status=204)

    for port in ports:
        t.api("DELETE", f"/ports/{port['id']}", status=204)
    t.api("DELETE", f"/networks/{net['id']}", status=204)
    wait_until(lambda: f": {bridge}" not in _ns_links(t), 60, f"{bridge} to go on B")
    assert f": {vxlan}" not in _ns_links(t)
    wait_until(lambda: not os.path.exists(f"/sys/class/net/{bridge}"), 60,
               f"{bridge} to go on A")
    assert not os.path.exists(f"/sys/class/net/{vxlan}")
