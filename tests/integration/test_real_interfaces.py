"""os-interface on a REAL guest on the vxlan data plane: a port hot-plugged
into the running tiny guest (libvirt, QEMU under TCG), used by the guest,
then detached, and nothing of it left on the host.

One compute host (the stack's, in the root namespace, [network] dataplane =
vxlan) is also the DHCP host. The guest boots on network 1 (its address from
the config drive). Network 2 and a port P on it (the user's, port security
on: the project's default group) are made through the Network API; then
``POST /servers/{id}/os-interface {"port_id": P}``:

- P is bound to the server and the host; its tap is on network 2's data
  plane bridge; nftables has its rules; DHCP has its host entry;
- the domain has the NIC live and in its persistent definition;
- the guest sees the NIC (``/sys/class/net``, through the guest agent) and
  takes P's address from DHCP on it (busybox ``udhcpc``: the tiny guest runs
  DHCP only at boot), i.e. the data plane serves the new port end to end;

then ``DELETE .../os-interface/P``: the NIC leaves the guest and the domain
(live and persistent), the tap and its nftables rules are gone, P is kept and
unbound; deleting P removes its DHCP host entry and its lease.
At the end the stack and the data plane's prefix leave nothing on the host.

(Each test has a stack of its own, stopped when the test ends: two stacks
in one process would share the configuration.) The second test does the same on the flat data plane (a Linux bridge per
network with its gateway on the host, libvirt's clean-traffic nwfilter per
NIC, the host filter rule per tap) with a port made from ``net_id``: the NIC's
tap on network 2's bridge behind its nwfilter and host rule, the guest
answering HTTP on the new address from the host; detached, the tap, its
nwfilter binding and host rule are gone and the port is deleted.
"""

from __future__ import annotations

import base64
import contextlib
import os
import random
import shutil
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from novalite.conf import CONF
from novalite.network import filtering, linux_net
from novalite.network import manage as network_manage
from novalite.network.dataplane import names
from novalite.virt.libvirt import agent
from tests.integration.netstack import remove_dataplane
from tests.integration.realstack import HOST, RealStack, RealStackError, libvirt_connection
from tests.integration.test_networking import _free_cidr

V2 = "/network/v2.0"
ACTIVE_TIMEOUT = 180


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


class Cloud:
    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:4]
        start = random.randrange(100_000, 16_000_000, 1000)
        self.prefix = f"i{tag}"
        self.cidrs = [f"10.{200 + int(tag[0], 16) % 50}.{int(tag[1:3], 16)}.{n}/26"
                      for n in (0, 64)]
        self.rs = RealStack(label="ifaces", overrides={
            ("network", "dataplane"): "vxlan",
            ("network", "dataplane_prefix"): self.prefix,
            ("network", "dhcp_host"): HOST,
            ("network", "create_default_network"): False,
            ("network", "agent_resync_interval"): 5,
            # NOTE: a VNI range of the run's own: the kernel refuses a second
            # VXLAN device with a VNI another deployment on it already has.
            ("network", "vni_ranges"): [f"{start}:{start + 999}"],
            ("compute", "force_config_drive"): True,
        })
        self.state_dir = ""

    def start(self) -> Cloud:
        self.rs.start()
        self.state_dir = os.path.join(CONF.state_path, "dataplane", self.prefix)
        return self

    def api(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        resp = self.rs.stack.request(method, V2 + path, body)
        assert resp.status_code == status, f"{method} {path}: {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None

    def compute(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        resp = self.rs.stack.compute(method, path, body)
        assert resp.status_code == status, f"{method} {path}: {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None

    def network(self, n: int) -> tuple[dict, dict]:
        net = self.api("POST", "/networks", {"network": {"name": f"{self.prefix}-net{n}",
                                                          "shared": True}}, 201)["network"]
        sub = self.api("POST", "/subnets", {"subnet": {
            "network_id": net["id"], "cidr": self.cidrs[n], "ip_version": 4}}, 201)["subnet"]
        _wait(lambda: os.path.exists(f"/sys/class/net/{self.bridge(net)}"), 120,
              f"the bridge of network {n}")
        _wait(lambda: self.api("GET", f"/ports?network_id={net['id']}"
                                      "&device_owner=network:dhcp")["ports"], 120,
              f"the DHCP port of network {n}")
        return net, sub

    def bridge(self, net: dict) -> str:
        return names.bridge_for_id(self.prefix, net["id"])

    def dhcp_text(self) -> str:
        """Every DHCP file of the deployment (host entries, leases), as one text."""
        return "\n".join(self.dhcp_files().values())

    def dhcp_files(self) -> dict[str, str]:
        """{path: lower-cased text} of every DHCP file of the deployment."""
        out = {}
        for root, _dirs, files in os.walk(self.state_dir):
            for name in files:
                path = os.path.join(root, name)
                with contextlib.suppress(OSError), open(path) as f:
                    out[path] = f.read().lower()
        return out

    def stop(self) -> list[str]:
        problems: list[str] = []
        try:
            problems += self.rs.delete_all_servers()
        except Exception as e:  # noqa: BLE001
            problems.append(f"deleting the servers failed: {e!r}")
        problems += self.rs.stop()
        return problems + remove_dataplane(self.prefix, self.state_dir, self.rs.base)


@pytest.fixture
def cloud() -> Iterator[Cloud]:
    try:
        libvirt_connection().close()
    except RealStackError as e:
        pytest.fail(str(e))
    c = Cloud()
    problems: list[str] = []
    try:
        c.start()
        yield c
    finally:
        problems = c.stop()
    assert not problems, "the test was not left clean:\n" + "\n".join(problems)


def _guest(domain: Any, *argv: str, ok: bool = True) -> str:
    status = agent.execute(domain, "/bin/busybox", list(argv), time.monotonic() + 60,
                           capture=True)
    if ok:
        assert status.get("exitcode") == 0, status
    return base64.b64decode(status.get("out-data", "")).decode()


def _guest_nics(domain: Any) -> dict[str, str]:
    """{MAC: interface name} of the guest's Ethernet NICs."""
    out = _guest(domain, "sh", "-c", "for d in /sys/class/net/*; do "
                 "echo ${d##*/} $(cat $d/address); done")
    return {mac.lower(): ifc for ifc, mac in (line.split() for line in out.splitlines()
                                              if len(line.split()) == 2)}


def _has_mac(xml: str, mac: str) -> bool:
    return any(str(m.get("address", "")).lower() == mac.lower()
               for m in ET.fromstring(xml).iterfind("./devices/interface/mac"))


def _tap_in_nft(tap: str) -> bool:
    return tap in _run("nft", "list", "ruleset")


def test_hot_plug_a_port_into_a_running_guest_and_out(cloud: Cloud) -> None:
    c = cloud
    net1, _ = c.network(0)
    net2, sub2 = c.network(1)
    port = c.api("POST", "/ports", {"port": {"network_id": net2["id"],
                                             "name": f"{c.prefix}-hot"}}, 201)["port"]
    mac, address = port["mac_address"].lower(), port["fixed_ips"][0]["ip_address"]
    tap = ("tap" + port["id"])[:14]
    bridge2 = c.bridge(net2)

    with c.rs.servers(180) as ids:
        resp = c.rs.stack.compute("POST", "/servers", {"server": {
            "name": "hot", "imageRef": c.rs.images["disk"]["id"], "flavorRef": "1",
            "networks": [{"uuid": net1["id"]}]}})
        assert resp.status_code == 202, resp.text
        sid = resp.json()["server"]["id"]
        ids.append(sid)
        c.rs.stack.wait_status(sid, "ACTIVE", ACTIVE_TIMEOUT)
        conn = libvirt_connection()
        try:
            dom = c.rs.domain(conn, sid)
            assert dom is not None
            agent.wait_ready(dom, time.monotonic() + 150)
            assert mac not in _guest_nics(dom)

            # Attach: bound, plugged on network 2's bridge, filtered, served by DHCP.
            attached = c.compute("POST", f"/servers/{sid}/os-interface", {
                "interfaceAttachment": {"port_id": port["id"]}})["interfaceAttachment"]
            assert (attached["port_id"], attached["net_id"], attached["port_state"]) == (
                port["id"], net2["id"], "ACTIVE")
            bound = c.api("GET", f"/ports/{port['id']}")["port"]
            assert (bound["device_id"], bound["binding:host_id"]) == (sid, HOST)
            assert os.path.exists(f"/sys/class/net/{bridge2}/brif/{tap}"), \
                f"{tap} is not on {bridge2}"
            assert _tap_in_nft(tap), f"nftables has no rule for {tap}"
            _wait(lambda: mac in c.dhcp_text(), 60, "the port's DHCP host entry")
            assert _has_mac(dom.XMLDesc(0), mac) and _has_mac(dom.XMLDesc(2), mac)
            server = c.rs.stack.server(sid)
            assert [a["addr"] for a in server["addresses"][net2["name"]]] == [address]

            # The guest sees the NIC and takes the port's address by DHCP on it.
            nics = _wait(lambda: mac in _guest_nics(dom) and _guest_nics(dom), 90,
                         "the NIC in the guest")
            ifc = nics[mac]
            _guest(dom, "ifconfig", ifc, "up")
            _wait(lambda: f"inet addr:{address} " in _guest(
                dom, "sh", "-c", f"busybox udhcpc -i {ifc} -s /etc/udhcpc.script -n -q "
                                 f"-t 5 -T 1 >/dev/null 2>&1; ifconfig {ifc}", ok=False),
                  90, f"{address} on {ifc} by DHCP", interval=2)
            _wait(lambda: mac in c.dhcp_text() and address in c.dhcp_text(), 30,
                  "the lease")

            # Detach: out of the guest and the domain, nothing of the tap left.
            c.compute("DELETE", f"/servers/{sid}/os-interface/{port['id']}", status=202)
            _wait(lambda: port["id"] not in [a["port_id"] for a in c.compute(
                "GET", f"/servers/{sid}/os-interface")["interfaceAttachments"]], 120,
                "the port to leave the server")
            assert not _has_mac(dom.XMLDesc(0), mac) and not _has_mac(dom.XMLDesc(2), mac)
            assert mac not in _guest_nics(dom)
            _wait(lambda: not os.path.exists(f"/sys/class/net/{tap}"), 30, f"{tap} to go")
            _wait(lambda: not _tap_in_nft(tap), 30, f"the nftables rules of {tap} to go")
            kept = c.api("GET", f"/ports/{port['id']}")["port"]
            assert (kept["device_id"], kept["binding:host_id"], kept["status"]) == (
                "", "", "DOWN")
            assert net2["name"] not in c.rs.stack.server(sid)["addresses"]
            # The guest still answers on its first NIC's network.
            assert _guest(dom, "cat", "/proc/uptime")
        finally:
            conn.close()
        c.rs.delete(sid, timeout=120)

    # The port deleted: its DHCP host entry and its lease go.
    c.api("DELETE", f"/ports/{port['id']}", status=204)
    try:
        _wait(lambda: mac not in c.dhcp_text(), 60, "the port's DHCP entry and lease to go")
    except AssertionError:
        left = {p: [line for line in t.splitlines() if mac in line]
                for p, t in c.dhcp_files().items() if mac in t}
        raise AssertionError(f"{mac} is still in {left}") from None
    assert sub2["network_id"] == net2["id"]


# -- the flat data plane ---------------------------------------------------------

class FlatCloud:
    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.names = [f"ifl{tag}-{n}" for n in (1, 2)]
        self.bridges = [f"nli{tag}{n}" for n in (1, 2)]
        self.cidrs: list[str] = []
        self.nets: list[dict] = []
        self.rs = RealStack(label="ifaces-flat", overrides={
            ("network", "default_network_name"): self.names[0],
            ("compute", "force_config_drive"): True,
        })

    def start(self) -> FlatCloud:
        self.rs.start()
        for name, bridge in zip(self.names, self.bridges, strict=True):
            cidr = _free_cidr()
            self.cidrs.append(cidr)
            self.nets.append(network_manage.create_network(name, cidr, bridge=bridge))
        return self

    def stop(self) -> list[str]:
        problems = self.rs.stop()
        for bridge in self.bridges:
            with contextlib.suppress(Exception):
                linux_net.delete_device(bridge)
        shutil.rmtree(self.rs.base, ignore_errors=True)
        return problems


@pytest.fixture
def flat() -> Iterator[FlatCloud]:
    try:
        libvirt_connection().close()
    except RealStackError as e:
        pytest.fail(str(e))
    c = FlatCloud()
    problems: list[str] = []
    try:
        c.start()
        yield c
    finally:
        problems = c.stop()
    assert not problems, "the test was not left clean:\n" + "\n".join(problems)


def _nwfilter_bindings() -> str:
    return _run("virsh", "-c", "qemu:///system", "nwfilter-binding-list")


def _http(address: str) -> str | None:
    done = subprocess.run(["curl", "-s", "--noproxy", "*", "-m", "3", f"http://{address}/"],
                          capture_output=True, text=True, timeout=30, check=False)
    return done.stdout if done.returncode == 0 and "uuid=" in done.stdout else None


def test_hot_plug_on_the_flat_data_plane(flat: FlatCloud) -> None:
    c = flat
    stack = c.rs.stack
    net2 = c.nets[1]
    with c.rs.servers(180) as ids:
        resp = stack.compute("POST", "/servers", {"server": {
            "name": "hot-flat", "imageRef": c.rs.images["disk"]["id"], "flavorRef": "1"}})
        assert resp.status_code == 202, resp.text
        sid = resp.json()["server"]["id"]
        ids.append(sid)
        stack.wait_status(sid, "ACTIVE", ACTIVE_TIMEOUT)
        conn = libvirt_connection()
        try:
            dom = c.rs.domain(conn, sid)
            assert dom is not None
            agent.wait_ready(dom, time.monotonic() + 150)

            resp = stack.compute("POST", f"/servers/{sid}/os-interface", {
                "interfaceAttachment": {"net_id": net2["uuid"]}})
            assert resp.status_code == 200, resp.text
            attached = resp.json()["interfaceAttachment"]
            port_id, mac = attached["port_id"], attached["mac_addr"].lower()
            address = attached["fixed_ips"][0]["ip_address"]
            tap = ("tap" + port_id)[:14]
            assert os.path.exists(f"/sys/class/net/{c.bridges[1]}/brif/{tap}")
            assert tap in _nwfilter_bindings(), f"no nwfilter binding for {tap}"
            assert filtering.port_rules(tap) >= 1, f"no host filter rule for {tap}"
            live = ET.fromstring(dom.XMLDesc(0))
            (iface,) = [i for i in live.iterfind("./devices/interface")
                        if str(i.find("mac").get("address", "")).lower() == mac]  # type: ignore[union-attr]
            ref = iface.find("filterref")
            assert ref is not None and ref.get("filter") == "clean-traffic"
            assert ("IP", address) in [(p.get("name"), p.get("value"))
                                       for p in ref.iterfind("parameter")]
            assert _has_mac(dom.XMLDesc(2), mac)

            # The guest takes the address on the new NIC and answers on it.
            nics = _wait(lambda: mac in _guest_nics(dom) and _guest_nics(dom), 90,
                         "the NIC in the guest")
            prefixlen = c.cidrs[1].split("/")[1]
            _guest(dom, "ip", "addr", "add", f"{address}/{prefixlen}", "dev", nics[mac])
            _guest(dom, "ip", "link", "set", nics[mac], "up")
            body = _wait(lambda: _http(address), 90, f"HTTP from {address}")
            assert f"uuid={sid}" in body.splitlines(), body

            resp = stack.compute("DELETE", f"/servers/{sid}/os-interface/{port_id}")
            assert resp.status_code == 202, resp.text
            _wait(lambda: not _has_mac(dom.XMLDesc(0), mac), 120, "the NIC to leave the domain")
            _wait(lambda: stack.request("GET", f"{V2}/ports/{port_id}").status_code == 404,
                  30, f"port {port_id} (made for the server) to be deleted")
            assert not _has_mac(dom.XMLDesc(2), mac)
            assert mac not in _guest_nics(dom)
            _wait(lambda: not os.path.exists(f"/sys/class/net/{tap}"), 30, f"{tap} to go")
            assert tap not in _nwfilter_bindings()
            assert filtering.port_rules(tap) == 0
            assert _http(address) is None
        finally:
            conn.close()
