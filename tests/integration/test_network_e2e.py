"""The per-host data plane running the cloud ([network] dataplane = vxlan),
end to end on the real kernel and the real libvirtd (issue 13 item 2).

One compute host (the stack's, in the root namespace) runs its network agent
in the compute service; it is also the DHCP host, so its agent runs DHCP and
the metadata proxy of the network (the stack: tests/integration/netstack.py).
Through the Network API (admin) the test makes a network, a subnet (the DHCP
host's state then holds the network's DHCP port) and a port without port
security, and boots the tiny guest on that port with the real libvirt driver:

- the agent made the network's data plane bridge (and its VXLAN device)
  before the plug; the domain's interface is on that bridge;
- the guest answers HTTP with its uuid on its fixed address, from an "outside"
  namespace the test plugs into the network's bridge;
- the guest reaches the metadata service through the network's metadata
  proxy (in the DHCP namespace) and reads its own uuid;
- DHCP serves the port (its MAC in the DHCP host entries); after the server
  is deleted the given port stays, unbound, with nothing of its tap on the
  host (nftables, device); after the port is deleted its DHCP entry goes;
- the network deleted with no ports (but its DHCP port) leaves nothing: no
  bridge, VXLAN device, DHCP namespace, DHCP veth, DHCP state or dnsmasq.

The second test puts a guest behind a router with a floating IP and a
security group (the host's route via the router, the outside namespace on the
external network); after delete nothing is left of its port, the router or
the networks. Two hosts: tests/integration/test_network_e2e_hosts.py; the
Debian image over a floating IP: tests/integration/test_debian_image.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator

import pytest

from novalite.network import agent_service
from novalite.network.dataplane import names
from novalite.virt.libvirt import agent
from tests.integration.netstack import (
    ACTIVE_TIMEOUT,
    HTTP_TIMEOUT,
    VxlanStack,
    dhcp_entries,
    echo_server,
    guest,
    http,
    meta_via,
    network_leftovers,
    outside,
    outside_address,
    port_leftovers,
    remove_routed_network,
    routed_network,
    source_seen_by,
    vxlan_stack,
    wait_clean,
)
from tests.integration.netstack import run as _run
from tests.integration.netstack import wait as _wait
from tests.integration.realstack import HOST, libvirt_connection

ECHO_PORT = 8080


@pytest.fixture(scope="module")
def e2e() -> Iterator[VxlanStack]:
    with vxlan_stack() as stack:
        yield stack


def test_a_guest_on_the_vxlan_data_plane(e2e: VxlanStack) -> None:
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
    _wait(lambda: port["mac_address"] in dhcp_entries(e.state_dir), 120, "the port's DHCP entry")

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
        outside(e, str(outside_address(e.cidr)), prefixlen)
        body = _wait(lambda: http(fixed, e.outside), HTTP_TIMEOUT,
                     f"HTTP from {fixed}", interval=1)
        assert f"uuid={server_id}" in body.splitlines(), body

        # The metadata service answers the guest, through the network's
        # proxy in the DHCP namespace (the tiny guest takes no DHCP routes:
        # the route a DHCP client gets is added by hand).
        conn = libvirt_connection()
        dom = e.rs.domain(conn, server_id)
        assert dom is not None
        agent.wait_ready(dom, time.monotonic() + 120)
        guest(dom, "route", "add", "-host", "169.254.169.254", "gw", dhcp_ip)

        errors: list[str] = []

        def meta() -> str | None:
            try:
                # NOTE: the tiny guest's static busybox wget dies (SIGSEGV)
                # in its resolver; nc speaks HTTP/1.0 just as well.
                out = guest(dom, "sh", "-c",
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
                f"{guest(dom, 'route', '-n')}") from None
        assert answer["uuid"] == server_id, answer
        conn.close()

        e.rs.delete(server_id, timeout=120)

    # The port outlives the server (it was given, as in Nova): unbound, and
    # nothing of its tap is left on the host.
    kept = e.api("GET", f"/ports/{port['id']}")["port"]
    assert kept["device_id"] == "" and kept["binding:host_id"] == "", kept
    wait_clean(lambda: port_leftovers(None, port), 60, f"the tap {tap} on the host")
    # Deleting the port removes its DHCP host entry on the DHCP host (the API
    # notifies the agents).
    e.api("DELETE", f"/ports/{port['id']}", status=204)
    _wait(lambda: port["mac_address"] not in dhcp_entries(e.state_dir), 60,
          "the port's DHCP entry to go")
    assert not port_leftovers(e.rs.stack, port, e.state_dir), port_leftovers(e.rs.stack, port, e.state_dir)

    # The network deleted (no ports but its DHCP port): its bridge, VXLAN
    # device, DHCP namespace, DHCP veth, DHCP state and dnsmasq go.
    _run("ip", "netns", "del", e.outside, check=False)
    e.api("DELETE", f"/networks/{e.net['id']}", status=204)
    wait_clean(lambda: network_leftovers(e.prefix, e.net, e.state_dir), 60,
               f"network {e.net['id']}")
    assert dhcp_ns_gone(e), "the DHCP namespace is left"


def dhcp_ns_gone(e: VxlanStack) -> bool:
    return names.dhcp_namespace(e.prefix, e.net["id"]) not in _run("ip", "netns", "list")


def test_a_router_floating_ip_and_security_group(e2e: VxlanStack) -> None:
    """A project network behind a router on an external network: the host
    reaches the fixed address through its route via the router's gateway
    once a security group rule opens port 80; the floating IP answers an
    outside namespace on the external network, not after it is
    disassociated; the guest's connections to that namespace come from its
    floating IP, after the disassociation from the router's gateway (SNAT);
    the guest reads its metadata through the router; delete leaves nothing
    of the port, router or networks."""
    e = e2e
    r = routed_network(e)
    port = e.api("POST", "/ports", {"port": {"network_id": r.net["id"]}}, 201)["port"]
    fixed = port["fixed_ips"][0]["ip_address"]
    (group,) = port["security_groups"]
    ext_bridge = names.bridge_for_id(e.prefix, r.ext["id"])
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
        answer = json.loads(_wait(lambda: meta_via(dom), 120, "metadata via the router", 2))
        assert answer["uuid"] == server_id, answer

        # The host's route via the router's gateway; port 80 closed until a rule.
        _wait(lambda: any(line.split()[0] == str(r.cidr) for line in
                          _run("ip", "-4", "route", "show", "proto",
                               str(agent_service.route_protocol(e.prefix)))
                          .splitlines()), 60, f"the host route to {r.cidr}")
        assert http(fixed) is None, "port 80 answered before any rule opened it"
        rule = e.api("POST", "/security-group-rules", {"security_group_rule": {
            "security_group_id": group, "direction": "ingress", "ethertype": "IPv4",
            "protocol": "tcp", "port_range_min": 80, "port_range_max": 80,
            "remote_ip_prefix": "0.0.0.0/0"}}, 201)["security_group_rule"]
        body = _wait(lambda: http(fixed), HTTP_TIMEOUT, f"HTTP from {fixed} via the router")
        assert f"uuid={server_id}" in body.splitlines(), body

        # A floating IP answers the outside namespace on the external network.
        outside(e, r.outside_ip, r.ext_cidr.prefixlen, bridge=ext_bridge, ns=ns_ext, mtu=1500,
                tag="x")
        fip = e.api("POST", "/floatingips", {"floatingip": {
            "floating_network_id": r.ext["id"], "port_id": port["id"]}}, 201)["floatingip"]
        address = fip["floating_ip_address"]
        body = _wait(lambda: http(address, ns_ext), HTTP_TIMEOUT, f"HTTP from {address}")
        assert f"uuid={server_id}" in body.splitlines(), body
        # The guest's own connections to the outside leave from its floating
        # IP; once it is disassociated, from the router's gateway (SNAT).
        gateway = e.api("GET", f"/routers/{r.router['id']}")["router"][
            "external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
        with echo_server(ns_ext, ECHO_PORT):
            assert _wait(lambda: source_seen_by(dom, r.outside_ip, ECHO_PORT), 60,
                         "the guest reaching the outside namespace") == address
            e.api("PUT", f"/floatingips/{fip['id']}", {"floatingip": {"port_id": None}})
            _wait(lambda: http(address, ns_ext) is None, 60, f"{address} to close")
            assert _wait(lambda: source_seen_by(dom, r.outside_ip, ECHO_PORT), 60,
                         "the guest reaching the outside namespace by SNAT") == gateway
        e.api("DELETE", f"/floatingips/{fip['id']}", status=204)
        conn.close()
        e.rs.delete(server_id, timeout=120)

    e.api("DELETE", f"/ports/{port['id']}", status=204)
    wait_clean(lambda: port_leftovers(e.rs.stack, port, e.state_dir), 60,
               f"port {port['id']}")
    if rule is not None:
        e.api("DELETE", f"/security-group-rules/{rule['id']}", status=204)
    _run("ip", "netns", "del", ns_ext, check=False)
    remove_routed_network(e, r)
