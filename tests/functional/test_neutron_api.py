"""The Network API's core as Neutron's (issue 13 item 1), through HTTP on a
fake-driver stack: networks, subnets and ports CRUD, isolation between two
projects, shared networks, admin-only attributes, quotas, the 409s, the
NeutronError body, and servers on a port made beforehand."""

from __future__ import annotations

import uuid

import pytest

from tests.functional.stack import Stack

ADMIN = {"X-User-Id": "root", "X-Project-Id": "admin", "X-Roles": "admin"}
A = {"X-User-Id": "alice", "X-Project-Id": "proj-a", "X-Roles": "member"}
B = {"X-User-Id": "bob", "X-Project-Id": "proj-b", "X-Roles": "member"}
V2 = "/network/v2.0"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(str(tmp_path_factory.mktemp("neutron"))).start()
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


def net(stack, who, name, **extra) -> dict:
    return call(stack, "POST", "/networks", who, {"network": {"name": name, **extra}},
                201)["network"]


def subnet(stack, who, network_id, cidr, **extra) -> dict:
    body = {"subnet": {"network_id": network_id, "cidr": cidr, "ip_version": 4, **extra}}
    return call(stack, "POST", "/subnets", who, body, 201)["subnet"]


def test_network_crud_isolation_and_admin_only_fields(stack):
    mine = net(stack, A, "a-net", description="mine")
    assert mine["project_id"] == mine["tenant_id"] == "proj-a"
    assert (mine["shared"], mine["router:external"], mine["status"], mine["mtu"],
            mine["subnets"], mine["admin_state_up"]) == (False, False, "ACTIVE", 1450, [], True)
    assert "provider:segmentation_id" not in mine
    as_admin = call(stack, "GET", f"/networks/{mine['id']}", ADMIN)["network"]
    assert as_admin["provider:network_type"] == "vxlan"
    assert 1000 <= as_admin["provider:segmentation_id"] <= 65000

    # Another project neither sees nor touches it: 404 as if it did not exist.
    err = error(stack, "GET", f"/networks/{mine['id']}", B, status=404)
    assert err["type"] == "NetworkNotFound" and mine["id"] in err["message"]
    assert mine["id"] not in [n["id"] for n in call(stack, "GET", "/networks", B)["networks"]]
    error(stack, "PUT", f"/networks/{mine['id']}", B, {"network": {"name": "x"}}, status=404)
    error(stack, "DELETE", f"/networks/{mine['id']}", B, status=404)

    # Only an admin shares a network or makes it external.
    for attr in ("shared", "router:external"):
        err = error(stack, "POST", "/networks", A, {"network": {"name": "s", attr: True}},
                    status=403)
        assert err["type"] == "PolicyNotAuthorized"
    # ... giving the default is no request for anything.
    plain = net(stack, A, "plain", shared=False)
    err = error(stack, "POST", "/networks", A, {"network": {"name": "x", "colour": "red"}})
    assert err["type"] == "HTTPBadRequest" and "colour" in err["message"]
    error(stack, "POST", "/networks", A, {"network": "not a dictionary"})
    assert stack.request("POST", V2 + "/networks", raw=b"{not json", headers=A).json()[
        "NeutronError"]["message"] == "Malformed request body"
    renamed = call(stack, "PUT", f"/networks/{mine['id']}", A,
                   {"network": {"name": "a-renamed", "description": "d"}})["network"]
    assert (renamed["name"], renamed["description"]) == ("a-renamed", "d")
    error(stack, "PUT", f"/networks/{mine['id']}", A, {"network": {"shared": True}},
          status=403)

    # Filters, fields, sorting and a page with its next link.
    listed = call(stack, "GET", "/networks?name=a-renamed&fields=id&fields=name", A)
    assert listed["networks"] == [{"id": mine["id"], "name": "a-renamed"}]
    ordered = call(stack, "GET", "/networks?sort_key=name&sort_dir=desc", A)["networks"]
    names = [n["name"] for n in ordered]
    assert names == sorted(names, reverse=True)
    page = call(stack, "GET", "/networks?limit=1", A)
    assert len(page["networks"]) == 1 and page["networks_links"][0]["rel"] == "next"
    call(stack, "DELETE", f"/networks/{plain['id']}", A, status=204)
    error(stack, "GET", f"/networks/{plain['id']}", A, status=404)


def test_shared_network_is_seen_and_used_by_all_but_changed_by_its_owner(stack):
    shared = net(stack, ADMIN, "shared-net", shared=True)
    sub = subnet(stack, ADMIN, shared["id"], "10.61.0.0/24")
    assert shared["id"] in [n["id"] for n in call(stack, "GET", "/networks", B)["networks"]]
    assert call(stack, "GET", f"/subnets/{sub['id']}", B)["subnet"]["cidr"] == "10.61.0.0/24"
    error(stack, "PUT", f"/networks/{shared['id']}", B, {"network": {"name": "x"}},
          status=403)
    error(stack, "DELETE", f"/networks/{shared['id']}", B, status=403)
    error(stack, "POST", "/subnets", B, {"subnet": {
        "network_id": shared["id"], "cidr": "10.62.0.0/24", "ip_version": 4}}, status=403)

    # A port on it: by subnet yes; a chosen address, MAC, network:* owner or
    # binding are the network owner's or an admin's.
    port = call(stack, "POST", "/ports", B, {"port": {
        "network_id": shared["id"], "fixed_ips": [{"subnet_id": sub["id"]}]}}, 201)["port"]
    assert port["project_id"] == "proj-b" and port["device_id"] == ""
    assert port["status"] == "DOWN" and port["mac_address"].startswith("fa:16:3e:")
    assert "binding:host_id" not in port and port["binding:vnic_type"] == "normal"
    for extra in ({"fixed_ips": [{"ip_address": "10.61.0.50"}]},
                  {"mac_address": "fa:16:3e:00:11:22"}, {"device_owner": "network:dhcp"},
                  {"binding:host_id": "host1"}):
        err = error(stack, "POST", "/ports", B, {"port": {"network_id": shared["id"],
                                                          **extra}}, status=403)
        assert err["type"] == "PolicyNotAuthorized"
    # Its ports are not another project's to see.
    error(stack, "GET", f"/ports/{port['id']}", A, status=404)
    assert port["id"] not in [p["id"] for p in call(stack, "GET", "/ports", A)["ports"]]
    assert port["id"] in [p["id"] for p in call(stack, "GET", "/ports", ADMIN)["ports"]]
    # Unsharing while another project has a port there is refused.
    err = error(stack, "PUT", f"/networks/{shared['id']}", ADMIN,
                {"network": {"shared": False}}, status=409)
    call(stack, "DELETE", f"/ports/{port['id']}", B, status=204)
    call(stack, "DELETE", f"/networks/{shared['id']}", ADMIN, status=204)


def test_external_network_is_seen_by_all_but_its_subnets_are_not(stack):
    """Neutron's get_subnet policy: a subnet is its project's, an admin's or
    a shared network's; an external network alone does not share its
    subnets (tempest's test_external_network_visibility)."""
    ext = net(stack, ADMIN, "ext-visibility", **{"router:external": True})
    sub = subnet(stack, ADMIN, ext["id"], "10.63.0.0/24", enable_dhcp=False)
    assert ext["id"] in [n["id"] for n in call(stack, "GET", "/networks?router:external=True",
                                                A)["networks"]]
    assert call(stack, "GET", f"/subnets?network_id={ext['id']}", A)["subnets"] == []
    assert error(stack, "GET", f"/subnets/{sub['id']}", A, status=404)["type"] == \
        "SubnetNotFound"
    assert [s["id"] for s in call(stack, "GET", f"/subnets?network_id={ext['id']}",
                                  ADMIN)["subnets"]] == [sub["id"]]
    # A filter on no attribute of the resource is ignored (Neutron without
    # filter-validation), not a filter nothing matches.
    listed = call(stack, "GET", f"/networks?invalid_filter={ext['id']}", A)["networks"]
    assert ext["id"] in [n["id"] for n in listed]
    assert call(stack, "GET", f"/networks?name=ext-visibility&id={uuid.uuid4()}",
                A)["networks"] == []
    call(stack, "DELETE", f"/networks/{ext['id']}", ADMIN, status=204)


def test_bulk_create_makes_all_or_none(stack):
    """Neutron's bulk POST (tempest's BulkNetworkOpsTest): a list in the
    plural key makes each; one failing leaves none of them."""
    made = call(stack, "POST", "/networks", A, {"networks": [
        {"name": "bulk-1"}, {"name": "bulk-2"}]}, 201)["networks"]
    assert [n["name"] for n in made] == ["bulk-1", "bulk-2"]
    subs = call(stack, "POST", "/subnets", A, {"subnets": [
        {"network_id": n["id"], "cidr": f"10.64.{i}.0/24", "ip_version": 4}
        for i, n in enumerate(made)]}, 201)["subnets"]
    assert [s["network_id"] for s in subs] == [n["id"] for n in made]
    ports = call(stack, "POST", "/ports", A, {"ports": [
        {"network_id": n["id"]} for n in made]}, 201)["ports"]
    assert [p["fixed_ips"][0]["subnet_id"] for p in ports] == [s["id"] for s in subs]
    err = error(stack, "POST", "/networks", A, {"networks": [
        {"name": "bulk-3"}, {"name": "bulk-4", "mtu": "big"}]})
    assert err["type"] == "InvalidInput", err
    names = [n["name"] for n in call(stack, "GET", "/networks", A)["networks"]]
    assert "bulk-3" not in names and "bulk-4" not in names
    error(stack, "POST", "/networks", A, {"networks": []})
    for p in ports:
        call(stack, "DELETE", f"/ports/{p['id']}", A, status=204)
    for n in made:
        call(stack, "DELETE", f"/networks/{n['id']}", A, status=204)


def test_subnet_validation_as_neutron(stack):
    n = net(stack, A, "validate")
    nid = n["id"]
    first = subnet(stack, A, nid, "10.70.0.0/24", name="first",
                   dns_nameservers=["10.70.0.53"],
                   host_routes=[{"destination": "10.99.0.0/16", "nexthop": "10.70.0.254"}])
    assert (first["gateway_ip"], first["allocation_pools"], first["enable_dhcp"]) == (
        "10.70.0.1", [{"start": "10.70.0.2", "end": "10.70.0.254"}], True)
    assert call(stack, "GET", f"/networks/{nid}", A)["network"]["subnets"] == [first["id"]]
    cases = [
        ({"cidr": "10.70.0.128/25"}, 400, "InvalidInput"),              # overlaps
        ({"cidr": "10.71.0.0/24", "gateway_ip": "10.72.0.1"}, 400, "InvalidInput"),
        ({"cidr": "10.71.0.0/24", "gateway_ip": "10.71.0.0"}, 400, "InvalidInput"),
        ({"cidr": "10.71.0.0/24", "allocation_pools": [
            {"start": "10.71.0.10", "end": "10.71.1.10"}]}, 400, "OutOfBoundsAllocationPool"),
        ({"cidr": "10.71.0.0/24", "allocation_pools": [
            {"start": "10.71.0.20", "end": "10.71.0.10"}]}, 400, "InvalidAllocationPool"),
        ({"cidr": "10.71.0.0/24", "allocation_pools": [
            {"start": "10.71.0.1", "end": "10.71.0.10"}]}, 409,
         "GatewayConflictWithAllocationPools"),
        ({"cidr": "10.71.0.0/24", "allocation_pools": [
            {"start": "10.71.0.10", "end": "10.71.0.20"},
            {"start": "10.71.0.15", "end": "10.71.0.30"}]}, 409, "OverlappingAllocationPools"),
        ({"cidr": "10.71.0.5/24"}, 400, "InvalidInput"),                # host bits set
        ({"cidr": "fd00::/64"}, 400, "InvalidInput"),                   # not version 4
        ({"cidr": "10.71.0.0/24", "dns_nameservers": ["1.1.1.1", "1.1.1.1"]}, 400,
         "InvalidInput"),
    ]
    for extra, status, kind in cases:
        body = {"subnet": {"network_id": nid, "ip_version": 4, **extra}}
        assert error(stack, "POST", "/subnets", A, body, status=status)["type"] == kind, extra
    second = subnet(stack, A, nid, "10.71.0.0/24", gateway_ip=None,
                    allocation_pools=[{"start": "10.71.0.100", "end": "10.71.0.110"}])
    assert second["gateway_ip"] is None
    v6 = call(stack, "POST", "/subnets", A, {"subnet": {
        "network_id": nid, "cidr": "fd00:1::/64", "ip_version": 6}}, 201)["subnet"]
    assert v6["gateway_ip"] == "fd00:1::1"
    err = error(stack, "PUT", f"/subnets/{first['id']}", A, {"subnet": {"cidr": "10.9.0.0/24"}})
    assert "read-only" in err["message"]
    updated = call(stack, "PUT", f"/subnets/{first['id']}", A,
                   {"subnet": {"name": "renamed", "enable_dhcp": False}})["subnet"]
    assert (updated["name"], updated["enable_dhcp"]) == ("renamed", False)
    # Another project: not found.
    error(stack, "GET", f"/subnets/{first['id']}", B, status=404)
    error(stack, "POST", "/subnets", B, {"subnet": {
        "network_id": nid, "cidr": "10.73.0.0/24", "ip_version": 4}}, status=404)
    for sub in (first, second, v6):
        call(stack, "DELETE", f"/subnets/{sub['id']}", A, status=204)
    call(stack, "DELETE", f"/networks/{nid}", A, status=204)


def test_ports_fixed_ips_conflicts_and_in_use_409s(stack):
    n = net(stack, A, "ports")
    sub = subnet(stack, A, n["id"], "10.80.0.0/24")
    port = call(stack, "POST", "/ports", A, {"port": {
        "network_id": n["id"], "name": "p1",
        "fixed_ips": [{"subnet_id": sub["id"], "ip_address": "10.80.0.9"}]}}, 201)["port"]
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.80.0.9"}]
    auto = call(stack, "POST", "/ports", A, {"port": {"network_id": n["id"]}}, 201)["port"]
    assert auto["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.80.0.2"}]
    err = error(stack, "POST", "/ports", A, {"port": {
        "network_id": n["id"], "fixed_ips": [{"ip_address": "10.80.0.9"}]}}, status=409)
    assert err["type"] == "IpAddressAlreadyAllocated"
    err = error(stack, "POST", "/ports", A, {"port": {
        "network_id": n["id"], "fixed_ips": [{"ip_address": "10.81.0.9"}]}})
    assert err["type"] == "InvalidIpForNetwork"
    err = error(stack, "POST", "/ports", A, {"port": {
        "network_id": n["id"], "mac_address": port["mac_address"]}}, status=409)
    assert err["type"] == "MacAddressInUse"
    err = error(stack, "POST", "/ports", A, {"port": {
        "network_id": n["id"], "port_security_enabled": False,
        "allowed_address_pairs": [{"ip_address": "10.80.0.200"}]}}, status=409)

    # Filters the clients use.
    found = call(stack, "GET", "/ports?fixed_ips=ip_address%3D10.80.0.9", A)["ports"]
    assert [p["id"] for p in found] == [port["id"]]
    assert [p["id"] for p in call(stack, "GET", f"/ports?network_id={n['id']}&name=p1",
                                  A)["ports"]] == [port["id"]]

    # Addresses change in place; the old one is free again.
    moved = call(stack, "PUT", f"/ports/{port['id']}", A, {"port": {
        "fixed_ips": [{"ip_address": "10.80.0.10"}], "name": "p1b",
        "allowed_address_pairs": [{"ip_address": "10.80.0.0/28"}]}})["port"]
    assert moved["fixed_ips"][0]["ip_address"] == "10.80.0.10"
    assert moved["allowed_address_pairs"] == [{"ip_address": "10.80.0.0/28"}]
    error(stack, "PUT", f"/ports/{port['id']}", A, {"port": {"network_id": n["id"]}})

    assert error(stack, "DELETE", f"/subnets/{sub['id']}", A, status=409)["type"] == \
        "SubnetInUse"
    assert error(stack, "DELETE", f"/networks/{n['id']}", A, status=409)["type"] == \
        "NetworkInUse"
    for p in (port, auto):
        call(stack, "DELETE", f"/ports/{p['id']}", A, status=204)
    error(stack, "GET", f"/ports/{port['id']}", A, status=404)
    call(stack, "DELETE", f"/networks/{n['id']}", A, status=204)
    # The subnet went with its network.
    error(stack, "GET", f"/subnets/{sub['id']}", A, status=404)


def test_quotas(stack):
    project = f"quota-{uuid.uuid4().hex[:6]}"
    who = {"X-User-Id": "q", "X-Project-Id": project, "X-Roles": "member"}
    assert call(stack, "GET", f"/quotas/{project}", who)["quota"] == {
        "network": 100, "subnet": 100, "port": 500, "router": 10, "floatingip": 50,
        "security_group": 10, "security_group_rule": 100}
    error(stack, "GET", "/quotas/proj-a", who, status=403)
    error(stack, "PUT", f"/quotas/{project}", who, {"quota": {"port": 5}}, status=403)
    error(stack, "PUT", f"/quotas/{project}", ADMIN, {"quota": {"bananas": 5}})
    set_ = call(stack, "PUT", f"/quotas/{project}", ADMIN,
                {"quota": {"network": 1, "port": 1}})["quota"]
    assert (set_["network"], set_["port"], set_["subnet"]) == (1, 1, 100)
    assert project in [q["project_id"] for q in call(stack, "GET", "/quotas", ADMIN)["quotas"]]
    n = net(stack, who, "q-net")
    err = error(stack, "POST", "/networks", who, {"network": {"name": "two"}}, status=409)
    assert err["type"] == "OverQuota" and "network" in err["message"]
    subnet(stack, who, n["id"], "10.90.0.0/24")
    call(stack, "POST", "/ports", who, {"port": {"network_id": n["id"]}}, 201)
    assert error(stack, "POST", "/ports", who, {"port": {"network_id": n["id"]}},
                 status=409)["type"] == "OverQuota"
    details = call(stack, "GET", f"/quotas/{project}/details.json", who)["quota"]
    assert details["network"] == {"limit": 1, "used": 1, "reserved": 0}
    assert details["port"]["used"] == 1 and details["subnet"]["used"] == 1
    assert call(stack, "GET", f"/quotas/{project}/default", who)["quota"]["network"] == 100
    call(stack, "DELETE", f"/quotas/{project}", ADMIN, status=204)
    assert call(stack, "GET", f"/quotas/{project}", who)["quota"]["network"] == 100


def test_extensions_and_ip_availability(stack):
    aliases = {e["alias"] for e in call(stack, "GET", "/extensions", A)["extensions"]}
    assert {"quotas", "external-net", "port-security", "binding", "net-mtu"} <= aliases
    assert call(stack, "GET", "/extensions/quotas", A)["extension"]["alias"] == "quotas"
    call(stack, "GET", "/extensions/nope", A, status=404)
    # GET /v2.0/ lists the version's resources (tempest's test_show_api_v2_details).
    resources = {r["name"]: r for r in call(stack, "GET", "/", A)["resources"]}
    assert {"network", "subnet", "port", "router", "floatingip"} <= set(resources)
    assert resources["port"]["links"][0]["href"].endswith("/network/v2.0/ports")
    n = net(stack, A, "avail")
    subnet(stack, A, n["id"], "10.95.0.0/29")
    call(stack, "POST", "/ports", A, {"port": {"network_id": n["id"]}}, 201)
    avail = call(stack, "GET", f"/network-ip-availabilities/{n['id']}",
                 ADMIN)["network_ip_availability"]
    assert (avail["total_ips"], avail["used_ips"]) == (5, 1)
    error(stack, "GET", "/network-ip-availabilities", A, status=403)


def test_a_server_on_a_port_made_before_keeps_it_after_delete(stack):
    n = net(stack, A, "for-servers")
    sub = subnet(stack, A, n["id"], "10.66.0.0/24")
    port = call(stack, "POST", "/ports", A, {"port": {
        "network_id": n["id"], "fixed_ips": [{"ip_address": "10.66.0.40"}]}}, 201)["port"]

    # Another project cannot boot on it, or on the network.
    resp = stack.compute("POST", "/servers", {"server": {
        "name": "thief", "flavorRef": "1", "imageRef": stack.image_id,
        "networks": [{"port": port["id"]}]}}, headers=B)
    assert resp.status_code == 400, resp.text
    resp = stack.compute("POST", "/servers", {"server": {
        "name": "thief", "flavorRef": "1", "imageRef": stack.image_id,
        "networks": [{"uuid": n["id"]}]}}, headers=B)
    assert resp.status_code == 400, resp.text

    resp = stack.compute("POST", "/servers", {"server": {
        "name": "on-port", "flavorRef": "1", "imageRef": stack.image_id,
        "networks": [{"port": port["id"]}, {"uuid": n["id"]}]}}, headers=A)
    assert resp.status_code == 202, resp.text
    server_id = resp.json()["server"]["id"]
    server = stack.wait_status(server_id, "ACTIVE")
    addrs = [a["addr"] for a in server["addresses"]["for-servers"]]
    assert addrs[0] == "10.66.0.40" and len(addrs) == 2
    bound = call(stack, "GET", f"/ports/{port['id']}", ADMIN)["port"]
    assert (bound["device_id"], bound["device_owner"], bound["binding:host_id"],
            bound["status"]) == (server_id, "compute:nova", "host1", "ACTIVE")
    mine = call(stack, "GET", f"/ports?device_id={server_id}", A)["ports"]
    assert len(mine) == 2 and all(p["project_id"] == "proj-a" for p in mine)
    made = [p for p in mine if p["id"] != port["id"]][0]
    assert made["fixed_ips"][0]["subnet_id"] == sub["id"]

    # In use: a second server cannot take the port.
    resp = stack.compute("POST", "/servers", {"server": {
        "name": "second", "flavorRef": "1", "imageRef": stack.image_id,
        "networks": [{"port": port["id"]}]}}, headers=A)
    assert resp.status_code == 409, resp.text
    assert error(stack, "DELETE", f"/networks/{n['id']}", A, status=409)["type"] == \
        "NetworkInUse"

    assert stack.compute("DELETE", f"/servers/{server_id}", headers=A).status_code == 204
    stack.wait_gone(server_id)
    kept = call(stack, "GET", f"/ports/{port['id']}", A)["port"]
    assert (kept["device_id"], kept["device_owner"], kept["status"]) == ("", "", "DOWN")
    assert kept["fixed_ips"] == port["fixed_ips"]
    error(stack, "GET", f"/ports/{made['id']}", A, status=404)
    call(stack, "DELETE", f"/ports/{port['id']}", A, status=204)
    call(stack, "DELETE", f"/networks/{n['id']}", A, status=204)


def test_servers_need_room_in_the_port_quota_and_a_port_is_for_one_server(stack):
    project = f"pq-{uuid.uuid4().hex[:6]}"
    who = {"X-User-Id": "pq", "X-Project-Id": project, "X-Roles": "member"}
    n = net(stack, who, "pq-net")
    subnet(stack, who, n["id"], "10.67.0.0/24")
    call(stack, "PUT", f"/quotas/{project}", ADMIN, {"quota": {"port": 2}})
    port = call(stack, "POST", "/ports", who, {"port": {"network_id": n["id"]}}, 201)["port"]

    def create(networks, **extra):
        return stack.compute("POST", "/servers", {"server": {
            "name": "pq", "flavorRef": "1", "imageRef": stack.image_id,
            "networks": networks, **extra}}, headers=who)

    # Two servers need two more ports: only one fits (Nova's 403).
    resp = create([{"uuid": n["id"]}], min_count=2, max_count=2)
    assert resp.status_code == 403, resp.text
    assert "Maximum number of ports exceeded" in resp.text
    resp = create([{"port": port["id"]}], min_count=2, max_count=2)
    assert resp.status_code == 400 and "single configured port" in resp.text, resp.text
    resp = create([{"port": port["id"]}, {"uuid": n["id"]}])
    assert resp.status_code == 202, resp.text
    server_id = resp.json()["server"]["id"]
    stack.wait_status(server_id, "ACTIVE")
    details = call(stack, "GET", f"/quotas/{project}/details", who)["quota"]["port"]
    assert details == {"limit": 2, "used": 2, "reserved": 0}
    assert create([{"uuid": n["id"]}]).status_code == 403
    assert stack.compute("DELETE", f"/servers/{server_id}", headers=who).status_code == 204
    stack.wait_gone(server_id)
    call(stack, "DELETE", f"/ports/{port['id']}", who, status=204)
    call(stack, "DELETE", f"/networks/{n['id']}", who, status=204)
