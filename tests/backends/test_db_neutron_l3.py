"""Security groups, routers and floating IPs (migration 019) on SQLite,
PostgreSQL and MariaDB: the default group made once, duplicate rules 409,
a group in use 409, ports' memberships, a router's gateway and interface
ports, a floating IP allocated, associated through the router and let go,
and every table emptied by the deletes (the foreign keys hold)."""

import pytest

from novalite.db import floating_ips, routers, security_groups
from novalite.db import network as net_db
from novalite.network import exceptions as n_exc
from novalite.network import l3_exceptions as l3_exc


def _net(name: str, cidr: str, **extra) -> tuple[dict, dict]:
    net = net_db.network_create({"name": name, "project_id": extra.pop("project", "p"),
                                 **extra})
    sub = net_db.subnet_create({"network_id": net["id"], "project_id": net["project_id"],
                                "name": name, "cidr": cidr, "ip_version": 4,
                                "gateway_ip": cidr.rsplit(".", 1)[0] + ".1",
                                "enable_dhcp": True,
                                "allocation_pools": net_db.default_pools(
                                    cidr, cidr.rsplit(".", 1)[0] + ".1"),
                                "dns_nameservers": [], "host_routes": [], "description": ""})
    return net, sub


def test_security_groups_on_every_backend(synced):
    first = security_groups.ensure_default("p")
    assert security_groups.ensure_default("p")["uuid"] == first["uuid"]
    assert first["is_default"] and len(first["rules"]) == 4
    web = security_groups.group_create("p", "web")
    assert [r["direction"] for r in web["rules"]] == ["egress", "egress"]
    rule = security_groups.rule_create(web["uuid"], {
        "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22,
        "port_range_max": 22, "remote_ip_prefix": None, "remote_group_id": None},
        protocol_key="6")
    with pytest.raises(l3_exc.SecurityGroupRuleExists):
        security_groups.rule_create(web["uuid"], {
            "direction": "ingress", "ethertype": "IPv4", "protocol": "6",
            "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0",
            "remote_group_id": None}, protocol_key="6")
    assert (security_groups.groups_count("p"), security_groups.rules_count("p")) == (2, 7)

    net, _ = _net("sg-db", "10.81.0.0/24")
    port = net_db.port_create({"network_id": net["id"], "project_id": "p"})
    security_groups.port_set_groups(port["uuid"], [web["uuid"], first["uuid"]])
    assert security_groups.groups_of_ports([port["uuid"]]) == {
        port["uuid"]: [first["uuid"], web["uuid"]]}
    assert security_groups.member_addresses([web["uuid"]]) == {
        web["uuid"]: [port["fixed_ips"][0]["ip_address"]]}
    with pytest.raises(l3_exc.SecurityGroupInUse):
        security_groups.group_delete(web["uuid"])
    security_groups.port_clear_groups(port["uuid"])
    security_groups.rule_delete(rule["uuid"])
    security_groups.group_delete(web["uuid"])
    security_groups.group_delete(first["uuid"])
    assert security_groups.default_get("p") is None
    # A project's default can be made again after an admin deleted it.
    assert security_groups.ensure_default("p")["uuid"] != first["uuid"]
    net_db.port_delete(port["uuid"])


def test_routers_and_floating_ips_on_every_backend(synced):
    ext, ext_sub = _net("public", "172.31.0.0/24", project="admin", router_external=True)
    net, sub = _net("inside", "10.82.0.0/24")
    router = routers.router_create({"project_id": "p", "name": "r", "admin_state_up": True,
                                    "status": "ACTIVE", "enable_snat": True,
                                    "description": ""})
    router = routers.set_gateway(router["uuid"], ext["id"], True)
    assert router["gateway_port"]["device_owner"] == routers.GATEWAY_OWNER
    iface = routers.add_interface_subnet(router["uuid"], sub["uuid"])
    assert iface["fixed_ips"][0]["ip_address"] == "10.82.0.1"
    with pytest.raises(l3_exc.BadRequest):
        routers.add_interface_subnet(router["uuid"], sub["uuid"])
    assert routers.router_for(ext["id"], sub["uuid"])["uuid"] == router["uuid"]

    port = net_db.port_create({"network_id": net["id"], "project_id": "p"})
    fixed = port["fixed_ips"][0]["ip_address"]
    fip = floating_ips.fip_create("p", ext["id"], None)
    assert fip["floating_ip_address"].startswith("172.31.0.")
    with pytest.raises(n_exc.IpAddressAlreadyAllocated):
        floating_ips.fip_create("p", ext["id"], fip["floating_ip_address"])
    fip = floating_ips.fip_associate(fip["uuid"], port["uuid"], fixed, router["uuid"])
    assert (fip["port_uuid"], fip["router_uuid"], fip["status"]) == (
        port["uuid"], router["uuid"], "ACTIVE")
    net_db.port_update(port["uuid"], {"device_id": "server-1"})
    assert floating_ips.floating_of_instances(["server-1"]) == {"server-1": [{
        "address": fip["floating_ip_address"], "fixed_address": fixed, "mac": port["mac"],
        "network_name": "inside"}]}
    with pytest.raises(l3_exc.RouterInterfaceInUseByFloatingIP):
        routers.remove_interface(router["uuid"], sub["uuid"], None)
    with pytest.raises(l3_exc.RouterInUse):
        routers.router_delete(router["uuid"])
    assert floating_ips.disassociate_port(port["uuid"]) == 1
    routers.remove_interface(router["uuid"], sub["uuid"], None)
    floating_ips.fip_delete(fip["uuid"])
    routers.router_delete(router["uuid"])
    net_db.port_delete(port["uuid"])
    assert net_db.port_get_all(network_id=ext["id"]) == []
    assert (routers.routers_count("p"), floating_ips.fips_count("p")) == (0, 0)
    net_db.network_delete(net["uuid"])
    net_db.network_delete(ext["uuid"])
