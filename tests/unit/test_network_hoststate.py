"""A host's desired network state built from the database (SQLite): its
networks with VNI and peers, its bound ports, the DHCP networks and ports
of the DHCP host, its tunnel endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from novalite.conf import CONF
from novalite.db import api as db_api
from novalite.db import migration
from novalite.db import network as db
from novalite.network import hoststate
from novalite.network.dataplane import state as st

ENDPOINTS = {"h1": "192.0.2.1", "h2": "192.0.2.2", "h3": "192.0.2.3"}


@pytest.fixture
def nets(tmp_path: Any) -> Iterator[dict]:
    CONF.set_override("connection", f"sqlite:///{tmp_path}/novalite.sqlite", group="database")
    CONF.set_override("dhcp_host", "h3", group="network")
    db_api.dispose()
    migration.db_sync()
    try:
        a = db.network_create({"name": "a", "project_id": "p", "cidr": "10.1.0.0/24",
                               "gateway": "10.1.0.1"})
        b = db.network_create({"name": "b", "project_id": "p", "cidr": "10.2.0.0/24",
                               "gateway": "10.2.0.1"})
        # A network without DHCP and one nobody uses.
        c = db.network_create({"name": "c", "project_id": "p"})
        db.subnet_create({"network_id": c["id"], "name": "c", "cidr": "10.3.0.0/24",
                          "ip_version": 4, "gateway_ip": "10.3.0.1", "enable_dhcp": False,
                          "allocation_pools": db.default_pools("10.3.0.0/24", "10.3.0.1"),
                          "dns_nameservers": ["10.3.0.53"], "host_routes": [],
                          "description": ""})
        inst = db_api.instance_create({"display_name": "Web Server_1", "project_id": "p"})
        yield {"a": a, "b": b, "c": c, "inst": inst}
    finally:
        db_api.dispose()
        CONF.clear_override("connection", group="database")
        CONF.clear_override("dhcp_host", group="network")


def test_a_compute_host_gets_its_networks_peers_and_ports(nets: dict) -> None:
    a, b = nets["a"], nets["b"]
    mine = db.fixed_ip_allocate(a["uuid"], nets["inst"]["uuid"], "h1", "10.1.0.5")
    db.fixed_ip_allocate(a["uuid"], "other-vm", "h2")
    db.fixed_ip_allocate(b["uuid"], "far-vm", "h2")
    # An unbound port is on no host.
    db.port_create({"network_id": a["id"], "project_id": "p"})
    db.port_update(mine["uuid"], {"allowed_address_pairs": [{"ip_address": "10.1.0.100"}]})

    s = hoststate.build_host_state("h1", endpoints=ENDPOINTS)
    assert s.host == "h1" and s.local_ip == "192.0.2.1"
    (net,) = s.networks
    assert net.id == a["uuid"] and net.vni == db.network_get(a["uuid"])["segmentation_id"]
    assert net.mtu == 1450 and not net.external
    # h2 has a port there, h3 serves its DHCP.
    assert net.peers == ("192.0.2.2", "192.0.2.3")
    assert net.subnets == (st.Subnet(
        id=a["subnets"][0], network_id=a["uuid"], cidr="10.1.0.0/24", gateway_ip="10.1.0.1",
        ip_version=4, enable_dhcp=True, allocation_pools=(("10.1.0.2", "10.1.0.254"),)),)
    (port,) = s.ports
    assert (port.id, port.network_id, port.mac, port.fixed_ips) == (
        mine["uuid"], a["uuid"], mine["mac"], ((a["subnets"][0], "10.1.0.5"),))
    assert (port.device_owner, port.device_id, port.hostname) == (
        "compute:nova", nets["inst"]["uuid"], "web-server-1")
    assert port.allowed_address_pairs == (("10.1.0.100", None),)
    assert port.devname == "tap" + mine["uuid"][:11]
    assert s.dhcp_networks == () and s.dhcp_ports == ()


def test_the_dhcp_host_serves_every_dhcp_network_and_its_ports(nets: dict) -> None:
    a, b, c = nets["a"], nets["b"], nets["c"]
    p1 = db.fixed_ip_allocate(a["uuid"], "vm1", "h1")
    p2 = db.fixed_ip_allocate(b["uuid"], "vm2", "h2")
    s = hoststate.build_host_state("h3", endpoints=ENDPOINTS)
    # Its DHCP ports are the network's, no guest's taps.
    assert s.local_ip == "192.0.2.3" and s.ports == ()
    assert set(s.dhcp_networks) == {a["uuid"], b["uuid"]}  # not c: no DHCP subnet
    dhcp = {p.network_id: p for p in s.dhcp_ports if p.device_owner == "network:dhcp"}
    assert set(dhcp) == {a["uuid"], b["uuid"]}
    assert {p.id for p in s.dhcp_ports} == {p1["uuid"], p2["uuid"]} | {
        p.id for p in dhcp.values()}
    assert dhcp[a["uuid"]].fixed_ips == ((a["subnets"][0], "10.1.0.3"),)
    peers = {n.id: n.peers for n in s.networks}
    assert peers == {a["uuid"]: ("192.0.2.1",), b["uuid"]: ("192.0.2.2",)}
    assert c["uuid"] not in peers
    # Made once: the DHCP address is no server's from now on.
    again = hoststate.build_host_state("h3", endpoints=ENDPOINTS)
    assert {p.id for p in again.dhcp_ports} == {p.id for p in s.dhcp_ports}
    later = db.fixed_ip_allocate(a["uuid"], "vm3", "h1")
    assert later["address"] == "10.1.0.4"
    # The network deleted with its DHCP port (Neutron's auto-deleted owner).
    db.fixed_ip_release_by_instance("vm1")
    db.fixed_ip_release_by_instance("vm3")
    db.network_delete(a["uuid"])
    assert db.port_get_all(device_owner="network:dhcp", network_id=a["id"]) == []


def test_endpoints_and_the_local_address_come_from_the_config_and_compute_nodes(
        nets: dict) -> None:
    a = nets["a"]
    db.fixed_ip_allocate(a["uuid"], "vm1", "h1")
    db.fixed_ip_allocate(a["uuid"], "vm2", "h2")
    db_api.compute_node_create({"host": "h2", "hypervisor_hostname": "h2",
                                "hypervisor_type": "fake", "vcpus": 1, "memory_mb": 1,
                                "local_gb": 1, "host_ip": "198.51.100.2"})
    CONF.set_override("tunnel_ip", "198.51.100.1", group="network")
    try:
        s = hoststate.build_host_state("h1")
    finally:
        CONF.clear_override("tunnel_ip", group="network")
    assert s.local_ip == "198.51.100.1"
    # h3 (the DHCP host) has recorded no endpoint: it is no peer.
    assert [n.peers for n in s.networks] == [("198.51.100.2",)]
    CONF.set_override("my_ip", "203.0.113.9")
    try:
        assert hoststate.build_host_state("h1").local_ip == "203.0.113.9"
    finally:
        CONF.clear_override("my_ip")


def test_a_deleted_port_and_network_leave_the_state(nets: dict) -> None:
    a = nets["a"]
    db.fixed_ip_allocate(a["uuid"], "vm1", "h1")
    assert len(hoststate.build_host_state("h1", endpoints=ENDPOINTS).networks) == 1
    db.fixed_ip_release_by_instance("vm1")
    s = hoststate.build_host_state("h1", endpoints=ENDPOINTS)
    assert s.networks == () and s.ports == ()
    db.network_delete(a["uuid"])
    assert a["uuid"] not in hoststate.build_host_state("h3", endpoints=ENDPOINTS).dhcp_networks


def test_a_port_follows_its_server_to_another_host_and_off_it(nets: dict) -> None:
    a, inst = nets["a"], nets["inst"]
    db_api.instance_update(inst["uuid"], {"host": "h1"})
    port = db.fixed_ip_allocate(a["uuid"], inst["uuid"], "h1")
    user_port = db.port_create({"network_id": a["id"], "project_id": "p"})
    db_api.instance_update(inst["uuid"], {"host": "h2", "node": "h2"})
    assert db.port_get(port["uuid"])["binding_host"] == "h2"
    assert db.port_get(user_port["uuid"])["binding_host"] is None  # not the server's
    assert [p.id for p in hoststate.build_host_state("h2", endpoints=ENDPOINTS).ports] == [
        port["uuid"]]
    assert hoststate.build_host_state("h1", endpoints=ENDPOINTS).ports == ()
    # Shelve offload: no host, the port stays the server's, unbound.
    db_api.instance_update(inst["uuid"], {"host": None})
    unbound = db.port_get(port["uuid"])
    assert (unbound["binding_host"], unbound["status"], unbound["device_id"]) == (
        None, "DOWN", inst["uuid"])
