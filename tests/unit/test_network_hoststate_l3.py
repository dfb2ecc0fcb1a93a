"""A host's desired network state with its security groups, routers and
floating IPs, from the database (SQLite): the groups of its ports with
their rules and members, and on the network node (the DHCP host) the
routers with gateway, interfaces and floating IPs, and their networks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from novalite.conf import CONF
from novalite.db import api as db_api
from novalite.db import migration
from novalite.db import network as db
from novalite.network import hoststate, neutron_l3
from novalite.network.dataplane import state as st

ENDPOINTS = {"h1": "192.0.2.1", "h3": "192.0.2.3"}


@pytest.fixture
def world(tmp_path: Any) -> Iterator[dict]:
    CONF.set_override("connection", f"sqlite:///{tmp_path}/novalite.sqlite", group="database")
    CONF.set_override("dhcp_host", "h3", group="network")
    db_api.dispose()
    migration.db_sync()
    try:
        inside = db.network_create({"name": "in", "project_id": "p", "cidr": "10.5.0.0/24",
                                    "gateway": "10.5.0.1"})
        public = db.network_create({"name": "pub", "project_id": "admin",
                                    "router_external": True})
        db.subnet_create({"network_id": public["id"], "name": "pub", "cidr": "172.24.4.0/24",
                          "ip_version": 4, "gateway_ip": "172.24.4.1", "enable_dhcp": False,
                          "allocation_pools": db.default_pools("172.24.4.0/24", "172.24.4.1"),
                          "dns_nameservers": [], "host_routes": [], "description": ""})
        yield {"inside": inside, "public": public}
    finally:
        db_api.dispose()
        CONF.clear_override("connection", group="database")
        CONF.clear_override("dhcp_host", group="network")


def test_groups_routers_and_floating_ips_reach_the_host_state(world: dict) -> None:
    inside, public = world["inside"], world["public"]
    sg = neutron_l3.security_groups
    web = sg.group_create("p", "web")
    sg.rule_create(web["uuid"], {"direction": "ingress", "ethertype": "IPv4",
                                 "protocol": "tcp", "port_range_min": 80,
                                 "port_range_max": 80, "remote_ip_prefix": "0.0.0.0/0"},
                   protocol_key="6")
    vm = db.fixed_ip_allocate(inside["uuid"], "vm-1", "h1", "10.5.0.5", project_id="p")
    neutron_l3.security_groups.port_set_groups(vm["uuid"], [web["uuid"]])
    default = sg.ensure_default("p")
    other = db.fixed_ip_allocate(inside["uuid"], "vm-2", "h1", "10.5.0.6", project_id="p")
    sg.port_set_groups(other["uuid"], [default["uuid"]])

    r = neutron_l3.routers
    router = r.router_create({"project_id": "p", "name": "r", "admin_state_up": True,
                              "status": "ACTIVE", "enable_snat": True, "description": ""})
    r.set_gateway(router["uuid"], public["id"], True)
    sub = db.subnet_get_all(network_id=inside["id"])[0]
    r.add_interface_subnet(router["uuid"], sub["uuid"])
    fip = neutron_l3.floating_ips.fip_create("p", public["id"], "172.24.4.50")
    neutron_l3.floating_ips.fip_associate(fip["uuid"], vm["uuid"], "10.5.0.5", router["uuid"])

    compute = hoststate.build_host_state("h1", endpoints=ENDPOINTS)
    groups = {g.id: g for g in compute.security_groups}
    assert set(groups) == {web["uuid"], default["uuid"]}
    assert st.SecurityGroupRule(direction="ingress", ethertype="IPv4", protocol="tcp",
                                port_range_min=80, port_range_max=80,
                                remote_ip_prefix="0.0.0.0/0") in groups[web["uuid"]].rules
    assert groups[web["uuid"]].member_addresses == ("10.5.0.5",)
    assert {p.id: p.security_groups for p in compute.ports}[vm["uuid"]] == (web["uuid"],)
    assert compute.routers == ()  # routers live on the network node

    node = hoststate.build_host_state("h3", endpoints=ENDPOINTS)
    (rs,) = node.routers
    assert rs.id == router["uuid"] and rs.gateway is not None
    assert (rs.gateway.network_id, rs.gateway.cidr, rs.gateway.gateway_ip,
            rs.gateway.enable_snat) == (public["uuid"], "172.24.4.0/24", "172.24.4.1", True)
    (iface,) = rs.interfaces
    assert (iface.address, iface.cidr, iface.network_id) == ("10.5.0.1", "10.5.0.0/24",
                                                             inside["uuid"])
    assert rs.floating_ips == (st.FloatingIP(id=fip["uuid"], address="172.24.4.50",
                                             fixed_address="10.5.0.5", port_id=vm["uuid"]),)
    nets = {n.id: n for n in node.networks}
    assert nets[public["uuid"]].external and nets[inside["uuid"]].peers == ("192.0.2.1",)
