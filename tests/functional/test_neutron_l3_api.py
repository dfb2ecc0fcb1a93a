"""Security groups, routers and floating IPs as Neutron's (issue 13 item 1),
through HTTP on a fake-driver stack: CRUD, validation errors with the
NeutronError body, isolation between projects, the in-use 409s, quotas,
and the Compute API's side (a server's groups, addSecurityGroup /
removeSecurityGroup, a floating IP in the server's addresses)."""

from __future__ import annotations

import pytest

from tests.functional.stack import Stack

ADMIN = {"X-User-Id": "root", "X-Project-Id": "admin", "X-Roles": "admin"}
A = {"X-User-Id": "alice", "X-Project-Id": "l3-a", "X-Roles": "member"}
B = {"X-User-Id": "bob", "X-Project-Id": "l3-b", "X-Roles": "member"}
Q = {"X-User-Id": "quinn", "X-Project-Id": "l3-q", "X-Roles": "member"}
V2 = "/network/v2.0"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(str(tmp_path_factory.mktemp("neutron-l3"))).start()
    try:
        yield s
    finally:
        s.stop()


def call(stack, method, path, who, body=None, status=200):
    resp = stack.request(method, V2 + path, body, headers=who)
    assert resp.status_code == status, f"{method} {path}: {resp.status_code} {resp.text}"
    return resp.json() if resp.content else None


def error(stack, method, path, who, body=None, status=400) -> dict:
    err = call(stack, method, path, who, body, status)["NeutronError"]
    assert set(err) == {"type", "message", "detail"} and err["message"]
    return err


def rule(stack, who, group_id, status=201, **extra):
    body = {"security_group_rule": {"security_group_id": group_id, "direction": "ingress",
                                    **extra}}
    out = call(stack, "POST", "/security-group-rules", who, body, status)
    return out["security_group_rule"] if status == 201 else out["NeutronError"]


def groups_of(stack, who) -> dict:
    return {g["name"]: g for g in call(stack, "GET", "/security-groups", who)[
        "security_groups"]}


def test_default_group_made_on_first_use_with_neutrons_rules(stack):
    (default,) = groups_of(stack, A).values()
    assert default["name"] == "default" and default["project_id"] == "l3-a"
    rules = {(r["direction"], r["ethertype"], r["remote_group_id"])
             for r in default["security_group_rules"]}
    assert rules == {("egress", "IPv4", None), ("egress", "IPv6", None),
                     ("ingress", "IPv4", default["id"]), ("ingress", "IPv6", default["id"])}
    assert all(r["protocol"] is None and r["belongs_to_default_sg"]
               for r in default["security_group_rules"])
    # Listed again: still one.
    assert list(groups_of(stack, A)) == ["default"]
    # Its owner cannot delete or rename it; nobody makes a second "default".
    err = error(stack, "DELETE", f"/security-groups/{default['id']}", A, status=409)
    assert err["type"] == "SecurityGroupCannotRemoveDefault"
    err = error(stack, "PUT", f"/security-groups/{default['id']}", A,
                {"security_group": {"name": "other"}}, status=409)
    assert err["type"] == "SecurityGroupCannotUpdateDefault"
    err = error(stack, "POST", "/security-groups", A,
                {"security_group": {"name": "Default"}}, status=409)
    assert err["type"] == "SecurityGroupDefaultAlreadyExists"


def test_group_and_rule_crud_validation_and_isolation(stack):
    web = call(stack, "POST", "/security-groups", A, {"security_group": {
        "name": "web", "description": "http"}}, 201)["security_group"]
    assert [(r["direction"], r["ethertype"]) for r in web["security_group_rules"]] == [
        ("egress", "IPv4"), ("egress", "IPv6")]
    http = rule(stack, A, web["id"], protocol="tcp", port_range_min=80, port_range_max=80,
                remote_ip_prefix="0.0.0.0/0")
    assert (http["protocol"], http["port_range_min"], http["port_range_max"],
            http["remote_ip_prefix"], http["ethertype"]) == ("tcp", 80, 80, "0.0.0.0/0", "IPv4")
    # The same rule again, also spelled with the protocol's number: 409.
    err = rule(stack, A, web["id"], status=409, protocol="6", port_range_min=80,
               port_range_max=80)
    assert err["type"] == "SecurityGroupRuleExists" and http["id"] in err["message"]
    ssh = rule(stack, A, web["id"], protocol=6, port_range_min=22, port_range_max=22,
               remote_ip_prefix="10.0.0.5")
    assert ssh["protocol"] == "6" and ssh["remote_ip_prefix"] == "10.0.0.5/32"
    icmp6 = rule(stack, A, web["id"], protocol="icmp", ethertype="IPv6")
    assert icmp6["protocol"] == "ipv6-icmp"

    for extra, kind in (
            ({"protocol": "tcp", "port_range_min": 90, "port_range_max": 80},
             "SecurityGroupInvalidPortRange"),
            ({"protocol": "tcp", "port_range_min": 0, "port_range_max": 80},
             "SecurityGroupInvalidPortValue"),
            ({"port_range_min": 80, "port_range_max": 80},
             "SecurityGroupProtocolRequiredWithPorts"),
            ({"protocol": "gre", "port_range_min": 80, "port_range_max": 80},
             "SecurityGroupInvalidProtocolForPort"),
            ({"protocol": "icmp", "port_range_max": 3}, "SecurityGroupMissingIcmpType"),
            ({"protocol": "icmp", "port_range_min": 300}, "SecurityGroupInvalidIcmpValue"),
            ({"protocol": "bogus"}, "SecurityGroupRuleInvalidProtocol"),
            ({"protocol": 256}, "SecurityGroupRuleInvalidProtocol"),
            ({"ethertype": "IPv5"}, "SecurityGroupRuleInvalidEtherType"),
            ({"remote_ip_prefix": "10.0.0.0/8", "remote_group_id": web["id"]},
             "SecurityGroupRemoteGroupAndRemoteIpPrefix"),
            ({"remote_ip_prefix": "2001:db8::/64"}, "SecurityGroupRuleParameterConflict"),
            ({"protocol": "ipv6-icmp"}, "SecurityGroupEthertypeConflictWithProtocol"),
            ({"direction": "sideways"}, "InvalidInput"),
            ({"colour": "red"}, "HTTPBadRequest")):
        assert rule(stack, A, web["id"], status=400, **extra)["type"] == kind, extra

    # Another project: 404 on the group, its rules and as a remote group.
    assert error(stack, "GET", f"/security-groups/{web['id']}", B,
                 status=404)["type"] == "SecurityGroupNotFound"
    assert error(stack, "GET", f"/security-group-rules/{http['id']}", B,
                 status=404)["type"] == "SecurityGroupRuleNotFound"
    assert rule(stack, B, web["id"], status=404)["type"] == "SecurityGroupNotFound"
    b_default = groups_of(stack, B)["default"]
    assert rule(stack, A, web["id"], status=404,
                remote_group_id=b_default["id"])["type"] == "SecurityGroupNotFound"
    # As Neutron (and tempest's negative tests): a remote group id that is no
    # UUID is a group not found, a port out of range names the value.
    assert rule(stack, A, web["id"], status=404, protocol="tcp",
                remote_group_id="bad_group_id")["type"] == "SecurityGroupNotFound"
    for port in (-16, 65536, "http"):
        err = rule(stack, A, web["id"], status=400, protocol="tcp", port_range_min=port,
                   port_range_max=80)
        assert err["type"] == "SecurityGroupInvalidPortValue", err
        assert f"Invalid value for port {port}" in err["message"], err
    assert "web" not in groups_of(stack, B)
    assert http["id"] not in [r["id"] for r in call(stack, "GET", "/security-group-rules",
                                                    B)["security_group_rules"]]
    # The admin sees all.
    every = call(stack, "GET", "/security-groups", ADMIN)["security_groups"]
    assert {web["id"], b_default["id"]} <= {g["id"] for g in every}

    assert error(stack, "PUT", f"/security-groups/{web['id']}", A,
                 {"security_group": {"name": "default"}},
                 status=409)["type"] == "SecurityGroupDefaultAlreadyExists"
    renamed = call(stack, "PUT", f"/security-groups/{web['id']}", A,
                   {"security_group": {"name": "www"}})["security_group"]
    assert renamed["name"] == "www"
    listed = call(stack, "GET", f"/security-group-rules?security_group_id={web['id']}"
                                "&protocol=tcp", A)["security_group_rules"]
    assert [r["id"] for r in listed] == [http["id"]]
    call(stack, "DELETE", f"/security-group-rules/{http['id']}", A, status=204)
    error(stack, "GET", f"/security-group-rules/{http['id']}", A, status=404)


def _network(stack, who, name, cidr, **extra):
    net = call(stack, "POST", "/networks", who, {"network": {"name": name, **extra}},
               201)["network"]
    sub = call(stack, "POST", "/subnets", who, {"subnet": {
        "network_id": net["id"], "cidr": cidr, "ip_version": 4}}, 201)["subnet"]
    return net, sub


def test_ports_groups_default_in_use_and_port_security(stack):
    net, _sub = _network(stack, A, "sg-net", "10.71.0.0/24")
    default = groups_of(stack, A)["default"]
    port = call(stack, "POST", "/ports", A, {"port": {"network_id": net["id"]}},
                201)["port"]
    assert port["security_groups"] == [default["id"]]
    db = call(stack, "POST", "/security-groups", A, {"security_group": {"name": "db"}},
              201)["security_group"]
    port = call(stack, "PUT", f"/ports/{port['id']}", A,
                {"port": {"security_groups": [db["id"], default["id"]]}})["port"]
    assert sorted(port["security_groups"]) == sorted([db["id"], default["id"]])
    err = error(stack, "DELETE", f"/security-groups/{db['id']}", A, status=409)
    assert err["type"] == "SecurityGroupInUse"
    # Port security off needs no groups (409 as Neutron), then goes off.
    err = error(stack, "PUT", f"/ports/{port['id']}", A,
                {"port": {"port_security_enabled": False}}, status=409)
    assert "security group" in err["message"]
    assert call(stack, "GET", f"/ports/{port['id']}", A)["port"]["port_security_enabled"]
    err = error(stack, "POST", "/ports", A, {"port": {
        "network_id": net["id"], "port_security_enabled": False,
        "security_groups": [db["id"]]}}, status=409)
    off = call(stack, "PUT", f"/ports/{port['id']}", A, {"port": {
        "security_groups": [], "port_security_enabled": False}})["port"]
    assert off["security_groups"] == [] and off["port_security_enabled"] is False
    bare = call(stack, "POST", "/ports", A, {"port": {
        "network_id": net["id"], "port_security_enabled": False}}, 201)["port"]
    assert bare["security_groups"] == []
    # Another project's group is not the port's to take.
    b_default = groups_of(stack, B)["default"]
    assert error(stack, "POST", "/ports", A, {"port": {
        "network_id": net["id"], "security_groups": [b_default["id"]]}},
        status=404)["type"] == "SecurityGroupNotFound"
    # Out of use (the port left it), the group goes.
    call(stack, "DELETE", f"/security-groups/{db['id']}", A, status=204)
    call(stack, "DELETE", f"/ports/{port['id']}", A, status=204)
    call(stack, "DELETE", f"/ports/{bare['id']}", A, status=204)


def _external(stack, name, cidr):
    return _network(stack, ADMIN, name, cidr, **{"router:external": True})


def test_routers_gateway_interfaces_and_floating_ips(stack):
    ext, ext_sub = _external(stack, "public-l3", "172.30.4.0/24")
    net, sub = _network(stack, A, "r-net", "10.72.0.0/24")
    router = call(stack, "POST", "/routers", A, {"router": {"name": "r1"}}, 201)["router"]
    assert router["external_gateway_info"] is None and router["status"] == "ACTIVE"

    # The gateway must be on an external network; SNAT is the admin's to set.
    err = error(stack, "PUT", f"/routers/{router['id']}", A, {"router": {
        "external_gateway_info": {"network_id": net["id"]}}})
    assert err["type"] == "BadRequest" and "not an external network" in err["message"]
    error(stack, "PUT", f"/routers/{router['id']}", A, {"router": {
        "external_gateway_info": {"network_id": ext["id"], "enable_snat": False}}},
        status=403)
    router = call(stack, "PUT", f"/routers/{router['id']}", A, {"router": {
        "external_gateway_info": {"network_id": ext["id"]}}})["router"]
    info = router["external_gateway_info"]
    assert info["network_id"] == ext["id"] and info["enable_snat"] is True
    (gw_ip,) = info["external_fixed_ips"]
    assert gw_ip["subnet_id"] == ext_sub["id"] and gw_ip["ip_address"].startswith("172.30.4.")

    # Interfaces: the subnet's gateway address, once; overlapping 400.
    added = call(stack, "PUT", f"/routers/{router['id']}/add_router_interface", A,
                 {"subnet_id": sub["id"]})
    assert (added["id"], added["subnet_id"], added["network_id"]) == (
        router["id"], sub["id"], net["id"])
    iface = call(stack, "GET", f"/ports/{added['port_id']}", A)["port"]
    assert iface["device_owner"] == "network:router_interface"
    assert iface["device_id"] == router["id"] and iface["security_groups"] == []
    assert iface["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.72.0.1"}]
    err = error(stack, "PUT", f"/routers/{router['id']}/add_router_interface", A,
                {"subnet_id": sub["id"]})
    assert err["type"] == "BadRequest"
    other, other_sub = _network(stack, A, "r-net2", "10.72.0.0/25")
    err = error(stack, "PUT", f"/routers/{router['id']}/add_router_interface", A,
                {"subnet_id": other_sub["id"]})
    assert "overlaps" in err["message"]
    nogw = call(stack, "POST", "/subnets", A, {"subnet": {
        "network_id": other["id"], "cidr": "10.73.0.0/24", "ip_version": 4,
        "gateway_ip": None}}, 201)["subnet"]
    err = error(stack, "PUT", f"/routers/{router['id']}/add_router_interface", A,
                {"subnet_id": nogw["id"]})
    assert "gateway" in err["message"]
    error(stack, "PUT", f"/routers/{router['id']}/add_router_interface", A, {})
    err = error(stack, "DELETE", f"/ports/{added['port_id']}", A, status=409)
    # Another project neither sees nor changes it.
    error(stack, "GET", f"/routers/{router['id']}", B, status=404)
    error(stack, "PUT", f"/routers/{router['id']}/add_router_interface", B,
          {"subnet_id": sub["id"]}, status=404)
    assert router["id"] not in [r["id"] for r in call(stack, "GET", "/routers", B)["routers"]]

    # Floating IPs: from the external network only.
    err = error(stack, "POST", "/floatingips", A, {"floatingip": {
        "floating_network_id": net["id"]}})
    assert err["type"] == "BadRequest"
    error(stack, "POST", "/floatingips", A, {"floatingip": {
        "floating_network_id": ext["id"], "floating_ip_address": "172.30.4.99"}},
        status=403)
    fip = call(stack, "POST", "/floatingips", A, {"floatingip": {
        "floating_network_id": ext["id"]}}, 201)["floatingip"]
    assert fip["status"] == "DOWN" and fip["port_id"] is None
    assert fip["floating_ip_address"].startswith("172.30.4.")
    chosen = call(stack, "POST", "/floatingips", ADMIN, {"floatingip": {
        "floating_network_id": ext["id"], "floating_ip_address": "172.30.4.99",
        "project_id": "l3-a"}}, 201)["floatingip"]
    assert chosen["floating_ip_address"] == "172.30.4.99"
    assert error(stack, "POST", "/floatingips", ADMIN, {"floatingip": {
        "floating_network_id": ext["id"], "floating_ip_address": "172.30.4.99"}},
        status=409)["type"] == "IpAddressAlreadyAllocated"

    port = call(stack, "POST", "/ports", A, {"port": {"network_id": net["id"]}},
                201)["port"]
    fixed = port["fixed_ips"][0]["ip_address"]
    fip = call(stack, "PUT", f"/floatingips/{fip['id']}", A,
               {"floatingip": {"port_id": port["id"]}})["floatingip"]
    assert (fip["port_id"], fip["fixed_ip_address"], fip["router_id"], fip["status"]) == (
        port["id"], fixed, router["id"], "ACTIVE")
    assert call(stack, "GET", f"/floatingips?port_id={port['id']}", A)["floatingips"][0][
        "id"] == fip["id"]
    err = error(stack, "PUT", f"/floatingips/{chosen['id']}", A,
                {"floatingip": {"port_id": port["id"]}}, status=409)
    assert err["type"] == "FloatingIPPortAlreadyAssociated"
    # An unreachable port: its subnet has no router to the external network.
    lone, _lone_sub = _network(stack, A, "lone", "10.74.0.0/24")
    lone_port = call(stack, "POST", "/ports", A, {"port": {"network_id": lone["id"]}},
                     201)["port"]
    err = error(stack, "PUT", f"/floatingips/{chosen['id']}", A,
                {"floatingip": {"port_id": lone_port["id"]}}, status=404)
    assert err["type"] == "ExternalGatewayForFloatingIPNotFound"
    # Not another project's.
    error(stack, "GET", f"/floatingips/{fip['id']}", B, status=404)
    error(stack, "PUT", f"/floatingips/{fip['id']}", B,
          {"floatingip": {"port_id": None}}, status=404)

    # In use: the interface while a floating IP goes through it; the router
    # while it has interfaces.
    err = error(stack, "PUT", f"/routers/{router['id']}/remove_router_interface", A,
                {"subnet_id": sub["id"]}, status=409)
    assert err["type"] == "RouterInterfaceInUseByFloatingIP"
    err = error(stack, "DELETE", f"/routers/{router['id']}", A, status=409)
    assert err["type"] == "RouterInUse"
    fip = call(stack, "PUT", f"/floatingips/{fip['id']}", A,
               {"floatingip": {"port_id": None}})["floatingip"]
    assert (fip["port_id"], fip["fixed_ip_address"], fip["status"]) == (None, None, "DOWN")
    removed = call(stack, "PUT", f"/routers/{router['id']}/remove_router_interface", A,
                   {"subnet_id": sub["id"]})
    assert removed["port_id"] == added["port_id"]
    error(stack, "GET", f"/ports/{added['port_id']}", A, status=404)
    assert error(stack, "PUT", f"/routers/{router['id']}/remove_router_interface", A,
                 {"subnet_id": sub["id"]},
                 status=404)["type"] == "RouterInterfaceNotFoundForSubnet"
    # An interface from a port made beforehand.
    mine = call(stack, "POST", "/ports", A, {"port": {"network_id": net["id"]}},
                201)["port"]
    added = call(stack, "PUT", f"/routers/{router['id']}/add_router_interface", A,
                 {"port_id": mine["id"]})
    assert added["port_id"] == mine["id"]
    call(stack, "PUT", f"/routers/{router['id']}/remove_router_interface", A,
         {"port_id": mine["id"]})
    for f in (fip, chosen):
        call(stack, "DELETE", f"/floatingips/{f['id']}", A, status=204)
    cleared = call(stack, "PUT", f"/routers/{router['id']}", A,
                   {"router": {"external_gateway_info": {}}})["router"]
    assert cleared["external_gateway_info"] is None
    call(stack, "DELETE", f"/routers/{router['id']}", A, status=204)
    for p in (port, lone_port):
        call(stack, "DELETE", f"/ports/{p['id']}", A, status=204)
    # Nothing of the router or floating IPs is left on the external network.
    assert call(stack, "GET", f"/ports?network_id={ext['id']}", ADMIN)["ports"] == []


def test_external_network_goes_with_its_unassociated_floating_ips(stack):
    """As Neutron (tempest's test_delete_external_networks_with_floating_ip):
    deleting an external network deletes the floating IPs no port uses;
    any other port on it still makes it NetworkInUse, and then nothing goes."""
    ext, _ = _external(stack, "public-del", "172.30.6.0/24")
    fip = call(stack, "POST", "/floatingips", ADMIN, {"floatingip": {
        "floating_network_id": ext["id"]}}, 201)["floatingip"]
    other = call(stack, "POST", "/ports", ADMIN, {"port": {"network_id": ext["id"]}},
                 201)["port"]
    assert error(stack, "DELETE", f"/networks/{ext['id']}", ADMIN,
                 status=409)["type"] == "NetworkInUse"
    call(stack, "GET", f"/floatingips/{fip['id']}", ADMIN)
    call(stack, "DELETE", f"/ports/{other['id']}", ADMIN, status=204)
    call(stack, "DELETE", f"/networks/{ext['id']}", ADMIN, status=204)
    assert fip["id"] not in [f["id"] for f in call(stack, "GET", "/floatingips",
                                                    ADMIN)["floatingips"]]
    error(stack, "GET", f"/floatingips/{fip['id']}", ADMIN, status=404)


def test_quotas_of_groups_rules_routers_and_floating_ips(stack):
    ext, _ = _external(stack, "public-q", "172.30.5.0/24")
    call(stack, "PUT", "/quotas/l3-q", ADMIN, {"quota": {
        "security_group": 2, "security_group_rule": 6, "router": 1, "floatingip": 1}})
    one = call(stack, "POST", "/security-groups", Q, {"security_group": {"name": "one"}},
               201)["security_group"]  # + the default group: 2
    err = error(stack, "POST", "/security-groups", Q, {"security_group": {"name": "two"}},
                status=409)
    assert err["type"] == "OverQuota"
    # default's 4 rules and one's 2 make 6.
    assert rule(stack, Q, one["id"], status=409, protocol="tcp")["type"] == "OverQuota"
    call(stack, "POST", "/routers", Q, {"router": {"name": "r"}}, 201)
    error(stack, "POST", "/routers", Q, {"router": {"name": "r2"}}, status=409)
    call(stack, "POST", "/floatingips", Q, {"floatingip": {
        "floating_network_id": ext["id"]}}, 201)
    error(stack, "POST", "/floatingips", Q, {"floatingip": {
        "floating_network_id": ext["id"]}}, status=409)
    details = call(stack, "GET", "/quotas/l3-q/details", Q)["quota"]
    assert {k: details[k]["used"] for k in ("security_group", "security_group_rule",
                                            "router", "floatingip")} == {
        "security_group": 2, "security_group_rule": 6, "router": 1, "floatingip": 1}


def compute(stack, method, path, who, body=None, status=200):
    resp = stack.compute(method, path, body, headers=who)
    assert resp.status_code == status, f"{method} {path}: {resp.status_code} {resp.text}"
    return resp.json() if resp.content else None


def _boot(stack, who, name, net_id, **extra) -> dict:
    body = {"server": {"name": name, "flavorRef": "1", "imageRef": stack.image_id,
                       "networks": [{"uuid": net_id}], **extra}}
    created = compute(stack, "POST", "/servers", who, body, 202)["server"]
    deadline = 200
    for _ in range(deadline):
        server = compute(stack, "GET", f"/servers/{created['id']}", who)["server"]
        if server["status"] == "ACTIVE":
            return server
        assert server["status"] != "ERROR", server
        import time

        time.sleep(0.1)
    raise AssertionError(f"{name} never became ACTIVE")


def _action(stack, who, server_id, action, name, status=202):
    resp = stack.compute("POST", f"/servers/{server_id}/action", {action: {"name": name}},
                         headers=who)
    assert resp.status_code == status, resp.text
    return resp


def test_server_security_groups_through_the_compute_api(stack):
    net, _ = _network(stack, A, "srv-net", "10.75.0.0/24")
    web = call(stack, "POST", "/security-groups", A, {"security_group": {"name": "srv-web"}},
               201)["security_group"]
    server = _boot(stack, A, "sg-vm", net["id"])
    assert server["security_groups"] == [{"name": "default"}]
    (port,) = call(stack, "GET", f"/ports?device_id={server['id']}", A)["ports"]
    default = groups_of(stack, A)["default"]
    assert port["security_groups"] == [default["id"]]

    _action(stack, A, server["id"], "addSecurityGroup", "srv-web")
    shown = compute(stack, "GET", f"/servers/{server['id']}", A)["server"]
    assert shown["security_groups"] == [{"name": "default"}, {"name": "srv-web"}]
    listed = compute(stack, "GET", f"/servers/{server['id']}/os-security-groups", A)[
        "security_groups"]
    assert {g["id"] for g in listed} == {default["id"], web["id"]}
    assert call(stack, "GET", f"/ports/{port['id']}", A)["port"]["security_groups"] == [
        default["id"], web["id"]]
    # Nova's errors: already there 400, unknown 404, not there 400, and not
    # another project's group nor server.
    _action(stack, A, server["id"], "addSecurityGroup", "srv-web", status=400)
    _action(stack, A, server["id"], "addSecurityGroup", "nope", status=404)
    _action(stack, A, server["id"], "addSecurityGroup", groups_of(stack, B)["default"]["id"],
            status=404)
    _action(stack, B, server["id"], "addSecurityGroup", "default", status=404)
    resp = stack.compute("POST", f"/servers/{server['id']}/action",
                         {"addSecurityGroup": {}}, headers=A)
    assert resp.status_code == 400
    # In use by the server's port: the group stays.
    error(stack, "DELETE", f"/security-groups/{web['id']}", A, status=409)

    # Remove them all (tempest's remove_server_all_security_groups): the
    # server then shows no security_groups at all, as Nova's.
    _action(stack, A, server["id"], "removeSecurityGroup", "default")
    _action(stack, A, server["id"], "removeSecurityGroup", "srv-web")
    _action(stack, A, server["id"], "removeSecurityGroup", "srv-web", status=400)
    shown = compute(stack, "GET", f"/servers/{server['id']}", A)["server"]
    assert "security_groups" not in shown
    assert compute(stack, "GET", f"/servers/{server['id']}/os-security-groups", A)[
        "security_groups"] == []

    # Created with a group by name: its ports get that one, not the default.
    other = _boot(stack, A, "sg-vm2", net["id"], security_groups=[{"name": "srv-web"}])
    assert other["security_groups"] == [{"name": "srv-web"}]
    resp = stack.compute("POST", "/servers", {"server": {
        "name": "x", "flavorRef": "1", "imageRef": stack.image_id,
        "networks": [{"uuid": net["id"]}], "security_groups": [{"name": "missing"}]}},
        headers=A)
    assert resp.status_code == 400 and "missing" in resp.text
    for s in (server, other):
        compute(stack, "DELETE", f"/servers/{s['id']}", A, status=204)


def test_server_shows_its_floating_ip(stack):
    ext, _ = _external(stack, "public-srv", "172.30.6.0/24")
    net, sub = _network(stack, A, "fip-net", "10.76.0.0/24")
    router = call(stack, "POST", "/routers", A, {"router": {
        "name": "fip-r", "external_gateway_info": {"network_id": ext["id"]}}},
        201)["router"]
    call(stack, "PUT", f"/routers/{router['id']}/add_router_interface", A,
         {"subnet_id": sub["id"]})
    server = _boot(stack, A, "fip-vm", net["id"])
    (port,) = call(stack, "GET", f"/ports?device_id={server['id']}", A)["ports"]
    fip = call(stack, "POST", "/floatingips", A, {"floatingip": {
        "floating_network_id": ext["id"], "port_id": port["id"]}}, 201)["floatingip"]
    assert fip["status"] == "ACTIVE" and fip["router_id"] == router["id"]
    shown = compute(stack, "GET", f"/servers/{server['id']}", A)["server"]
    fixed = port["fixed_ips"][0]["ip_address"]
    assert [(a["addr"], a["OS-EXT-IPS:type"]) for a in shown["addresses"]["fip-net"]] == [
        (fixed, "fixed"), (fip["floating_ip_address"], "floating")]
    call(stack, "PUT", f"/floatingips/{fip['id']}", A, {"floatingip": {"port_id": None}})
    shown = compute(stack, "GET", f"/servers/{server['id']}", A)["server"]
    assert [a["OS-EXT-IPS:type"] for a in shown["addresses"]["fip-net"]] == ["fixed"]
    # A server going leaves its floating IP, disassociated.
    call(stack, "PUT", f"/floatingips/{fip['id']}", A, {"floatingip": {"port_id": port["id"]}})
    compute(stack, "DELETE", f"/servers/{server['id']}", A, status=204)
    for _ in range(200):
        if call(stack, "GET", f"/floatingips/{fip['id']}", A)["floatingip"]["port_id"] is None:
            break
        import time

        time.sleep(0.1)
    assert call(stack, "GET", f"/floatingips/{fip['id']}", A)["floatingip"]["status"] == "DOWN"


def test_extensions_list_security_groups_and_routers_once(stack):
    aliases = [e["alias"] for e in call(stack, "GET", "/extensions", A)["extensions"]]
    assert {"security-group", "router", "ext-gw-mode", "extraroute", "external-net"} <= \
        set(aliases)
    assert len(aliases) == len(set(aliases))
    assert call(stack, "GET", "/extensions/router", A)["extension"]["alias"] == "router"
