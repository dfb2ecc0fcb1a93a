"""Security groups, routers and floating IPs joined to the Network API's
core (networks, subnets, ports) through :mod:`novalite.network.hooks`, and
what the Compute API and the host state read of them. Importing this module
registers the hooks (``novalite.network.api`` imports it)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from novalite.db import api as db_api
from novalite.db import floating_ips, routers, security_groups
from novalite.db import network as net_db
from novalite.network import exceptions as n_exc
from novalite.network import hooks
from novalite.network import l3_exceptions as l3_exc
from novalite.network.dataplane import state as st

# NOTE: the requested groups of a server (their ids), in its
# system_metadata, for the ports Nova makes for it.
SERVER_GROUPS_KEY = "network_security_groups"

__all__ = ["floating_ips", "routers", "security_groups", "SERVER_GROUPS_KEY"]


def _gets_groups(port: dict) -> bool:
    """Ports of the network itself (DHCP, routers, floating IPs) have none."""
    return bool(port["port_security_enabled"]) and \
        not str(port.get("device_owner") or "").startswith("network:")


def resolve_groups(project_id: str, names_or_ids: Iterable[str]) -> list[str]:
    """Group ids from names or ids of the project's groups (``default`` is
    made on first use); SecurityGroupNotFound for one not found, NoUniqueMatch
    for a name two groups have."""
    out = []
    for wanted in names_or_ids:
        if wanted == security_groups.DEFAULT_NAME:
            out.append(security_groups.ensure_default(project_id)["uuid"])
            continue
        by_id = security_groups.group_get_all(project_id=project_id, uuids=[wanted])
        if by_id:
            out.append(by_id[0]["uuid"])
            continue
        named = security_groups.group_get_all(project_id=project_id, name=wanted)
        if len(named) > 1:
            raise l3_exc.NoUniqueMatch(reason=f"Multiple security_group matches found for "
                                              f"name '{wanted}', use an ID to be more specific.")
        if not named:
            raise l3_exc.SecurityGroupNotFound(id=wanted)
        out.append(named[0]["uuid"])
    return list(dict.fromkeys(out))


def check_port_groups(project_id: str | None, group_ids: list[str]) -> None:
    """Groups a port of the project may be a member of: its project's (404 otherwise)."""
    for gid in group_ids:
        try:
            group = security_groups.group_get(gid)
        except l3_exc.SecurityGroupNotFound:
            raise
        if project_id and group["project_id"] != project_id:
            raise l3_exc.SecurityGroupNotFound(id=gid)


def _server_groups(port: dict) -> list[str] | None:
    """The groups the port's server asked for (None: none asked for)."""
    if not port.get("device_id") or not str(port.get("device_owner")).startswith("compute:"):
        return None
    try:
        inst = db_api.instance_get_by_uuid(port["device_id"], read_deleted=True)
    except Exception:  # noqa: BLE001 - no such instance: the default group
        return None
    raw = (inst.get("system_metadata") or {}).get(SERVER_GROUPS_KEY)
    if not raw:
        return None
    try:
        return [str(g) for g in json.loads(raw)]
    except ValueError:
        return None


def _port_created(context: Any, port: dict, body: dict) -> None:
    if "security_groups" in body:
        wanted = list(body.get("security_groups") or [])
        check_port_groups(port.get("project_id"), wanted)
        security_groups.port_set_groups(port["uuid"], wanted)
        return
    if not _gets_groups(port):
        return
    asked = _server_groups(port)
    project = port.get("project_id") or ""
    if asked is not None:
        security_groups.port_set_groups(port["uuid"], asked)
    elif project:
        security_groups.port_set_groups(port["uuid"],
                                        [security_groups.ensure_default(project)["uuid"]])


def _port_updated(context: Any, port: dict, body: dict) -> None:
    if "security_groups" in body:
        wanted = list(body.get("security_groups") or [])
        check_port_groups(port.get("project_id"), wanted)
        security_groups.port_set_groups(port["uuid"], wanted)
    if not port["port_security_enabled"] and \
            security_groups.groups_of_ports([port["uuid"]]).get(port["uuid"]):
        # NOTE: as Neutron, port security goes off only without groups.
        net_db.port_update(port["uuid"], {"port_security_enabled": True})
        raise n_exc.Conflict(reason="Port has security group associated. Cannot disable port "
                                    "security or ip address until security group is removed")


def _port_deleting(port: dict) -> None:
    owner = str(port.get("device_owner") or "")
    if owner in (routers.INTERFACE_OWNER, routers.GATEWAY_OWNER,
                 floating_ips.FLOATING_OWNER) and port.get("device_id"):
        raise l3_exc.ServicePortInUse(port_id=port["uuid"],
                                      reason=f"has device owner {owner}")
    floating_ips.disassociate_port(port["uuid"])
    security_groups.port_clear_groups(port["uuid"])


def security_groups_of(port_uuids: list[str]) -> dict[str, list[str]]:
    return security_groups.groups_of_ports(port_uuids)


def register() -> None:
    if _port_created in hooks.PORT_CREATED:
        return
    hooks.USAGE.update({"security_group": security_groups.groups_count,
                        "security_group_rule": security_groups.rules_count,
                        "router": routers.routers_count,
                        "floatingip": floating_ips.fips_count})
    hooks.PORT_CREATED.append(_port_created)
    hooks.PORT_UPDATED.append(_port_updated)
    hooks.PORT_DELETING.append(_port_deleting)
    for alias, name in (("security-group", "security-group"), ("router", "Neutron L3 Router"),
                        ("ext-gw-mode", "Neutron L3 Configurable external gateway mode"),
                        ("extraroute", "Neutron Extra Route")):
        if not any(e.get("alias") == alias for e in hooks.EXTENSIONS):
            hooks.EXTENSIONS.append({"alias": alias, "name": name, "description": name,
                                     "links": [], "updated": "2013-01-01T00:00:00-00:00"})


# -- what the Compute API shows ----------------------------------------------------

def server_security_groups(instance_uuids: Iterable[str]) -> dict[str, list[dict]]:
    """``{instance uuid: [{"name": group name}]}`` of the groups of the
    instances' ports (servers with none left out, as Nova's view)."""
    return security_groups.group_names_of_devices(instance_uuids)


def server_floating_addresses(instance_uuids: Iterable[str]) -> dict[str, list[dict]]:
    return floating_ips.floating_of_instances(instance_uuids)


def _server_ports(instance_uuid: str) -> list[dict]:
    return net_db.port_get_all(device_id=instance_uuid)


def server_group_details(instance_uuid: str) -> list[dict]:
    """The instance's groups, whole (GET /servers/{id}/os-security-groups)."""
    ports = _server_ports(instance_uuid)
    by_port = security_groups.groups_of_ports([p["uuid"] for p in ports])
    ids = list(dict.fromkeys(g for p in ports for g in by_port.get(p["uuid"], [])))
    return security_groups.group_get_all(uuids=ids) if ids else []


def server_add_group(instance_uuid: str, project_id: str, name: str) -> None:
    """Nova's addSecurityGroup: the group (name or id, the server's project)
    joins every port of the server."""
    (gid,) = _server_group_id(project_id, name)
    ports = _server_ports(instance_uuid)
    if not ports or any(not p["port_security_enabled"] or not p["fixed_ips"] for p in ports):
        raise l3_exc.SecurityGroupCannotBeApplied()
    by_port = security_groups.groups_of_ports([p["uuid"] for p in ports])
    if all(gid in by_port.get(p["uuid"], []) for p in ports):
        raise l3_exc.SecurityGroupExistsForInstance(security_group_id=name,
                                                    instance_id=instance_uuid)
    for port in ports:
        have = by_port.get(port["uuid"], [])
        if gid not in have:
            security_groups.port_set_groups(port["uuid"], have + [gid])
    hooks.network_changed()


def server_remove_group(instance_uuid: str, project_id: str, name: str) -> None:
    """Nova's removeSecurityGroup: the group leaves every port of the server."""
    (gid,) = _server_group_id(project_id, name)
    ports = _server_ports(instance_uuid)
    by_port = security_groups.groups_of_ports([p["uuid"] for p in ports])
    if not any(gid in by_port.get(p["uuid"], []) for p in ports):
        raise l3_exc.SecurityGroupNotExistsForInstance(security_group_id=name,
                                                       instance_id=instance_uuid)
    for port in ports:
        have = by_port.get(port["uuid"], [])
        if gid in have:
            security_groups.port_set_groups(port["uuid"], [g for g in have if g != gid])
    hooks.network_changed()


def _server_group_id(project_id: str, name: str) -> list[str]:
    try:
        return resolve_groups(project_id, [name])
    except l3_exc.SecurityGroupNotFound:
        raise l3_exc.SecurityGroupNotFoundForServer(name=name, project_id=project_id) from None


# -- the data plane's view ---------------------------------------------------------

def _rule_state(rule: dict) -> st.SecurityGroupRule:
    protocol = rule["protocol"]
    if protocol is not None:
        number = security_groups.protocol_number(protocol, rule["ethertype"])
        names = {"6": "tcp", "17": "udp", "1": "icmp", "58": "ipv6-icmp"}
        protocol = names.get(str(number), str(number))
    return st.SecurityGroupRule(
        direction=rule["direction"], ethertype=rule["ethertype"], protocol=protocol,
        port_range_min=rule["port_range_min"], port_range_max=rule["port_range_max"],
        remote_ip_prefix=rule["remote_ip_prefix"], remote_group_id=rule["remote_group_id"])


def fill_host_state(state: st.HostState) -> st.HostState:
    """``state`` with its security groups (every group a local port uses,
    and the groups their rules name) and routers (all of them, on the
    host that serves the network's DHCP: the all-in-one's network node)."""
    import dataclasses

    from novalite.network import hoststate

    used = {g for p in state.ports for g in p.security_groups}
    groups = security_groups.group_get_all(uuids=used) if used else []
    remote = {r["remote_group_id"] for g in groups for r in g["rules"] if r["remote_group_id"]}
    every = used | remote
    members = security_groups.member_addresses(every)
    sg_states = tuple(st.SecurityGroup(
        id=g["uuid"], rules=tuple(_rule_state(r) for r in g["rules"]),
        member_addresses=tuple(members.get(g["uuid"], ())))
        for g in (security_groups.group_get_all(uuids=every) if every else []))
    routers_state: tuple[st.Router, ...] = ()
    networks = state.networks
    if state.host == hoststate.dhcp_host():
        routers_state = tuple(router_states())
        networks = networks + _router_networks(state, routers_state)
    return dataclasses.replace(state, security_groups=sg_states, networks=networks,
                               routers=state.routers + routers_state)


def _router_networks(state: st.HostState, hosted: tuple[st.Router, ...]) -> tuple:
    """The networks the hosted routers have a leg on that the host has no
    other reason to have (their bridges and VXLAN peers)."""
    have = {n.id for n in state.networks}
    wanted = {i.network_id for r in hosted for i in r.interfaces} | \
        {r.gateway.network_id for r in hosted if r.gateway}
    missing = wanted - have
    if not missing:
        return ()
    tunnels = net_db.tunnel_endpoints()
    out = []
    for net in net_db.network_get_all():
        if net["uuid"] not in missing:
            continue
        subs = net_db.subnet_get_all(network_id=net["id"])
        hosts = {p["binding_host"] for p in net_db.port_get_all(network_id=net["id"])
                 if p["binding_host"]}
        peers = sorted({tunnels[h] for h in hosts if h != state.host and h in tunnels
                        and tunnels[h] != state.local_ip})
        out.append(st.Network(
            id=net["uuid"], vni=int(net["segmentation_id"] or 0), mtu=int(net["mtu"]),
            subnets=tuple(_subnet_state(s) for s in subs),
            peers=tuple(peers) if not net["router_external"] else (),
            external=bool(net["router_external"])))
    return tuple(out)


def _subnet_state(sub: dict) -> st.Subnet:
    return st.Subnet(
        id=sub["uuid"], network_id=sub["network_uuid"], cidr=sub["cidr"],
        gateway_ip=sub["gateway_ip"], ip_version=sub["ip_version"],
        enable_dhcp=bool(sub["enable_dhcp"]),
        dns_nameservers=tuple(sub.get("dns_nameservers") or ()),
        host_routes=tuple((r["destination"], r["nexthop"]) for r in sub.get("host_routes") or ()),
        allocation_pools=tuple((p["start"], p["end"]) for p in sub.get("allocation_pools") or ()))


def router_states() -> list[st.Router]:
    out = []
    subnets = {s["uuid"]: s for s in net_db.subnet_get_all()}
    fips = floating_ips.fip_get_all()
    for router in routers.router_get_all():
        if not router["admin_state_up"]:
            continue
        gateway = None
        gw = router["gateway_port"]
        if gw is not None and gw["fixed_ips"]:
            sub = subnets[gw["fixed_ips"][0]["subnet_id"]]
            gateway = st.RouterGateway(network_id=gw["network_uuid"],
                                       address=gw["fixed_ips"][0]["ip_address"],
                                       cidr=sub["cidr"], gateway_ip=sub["gateway_ip"],
                                       enable_snat=bool(router["enable_snat"]))
        interfaces = tuple(
            st.RouterInterface(port_id=p["uuid"], network_id=p["network_uuid"],
                               subnet_id=a["subnet_id"], address=a["ip_address"],
                               cidr=subnets[a["subnet_id"]]["cidr"], mac=p["mac"])
            for p in router["interfaces"] for a in p["fixed_ips"])
        floating = tuple(
            st.FloatingIP(id=f["uuid"], address=f["floating_ip_address"],
                          fixed_address=f["fixed_ip_address"], port_id=f["port_uuid"])
            for f in fips if f["router_uuid"] == router["uuid"] and f["port_uuid"])
        out.append(st.Router(id=router["uuid"], gateway=gateway, interfaces=interfaces,
                             floating_ips=floating))
    return out


def delete_unassociated_floating_ips(net: dict) -> None:
    """Neutron deletes an external network with its floating IPs that no
    port uses (tempest's test_delete_external_networks_with_floating_ip);
    an associated one, as any other port, keeps it in use (409), checked
    before any floating IP goes."""
    fips = [f for f in floating_ips.fip_get_all() if f["floating_network_id"] == net["id"]]
    free = {f["floating_port_uuid"] for f in fips if not f["port_uuid"]}
    ports = net_db.port_get_all(network_id=net["id"])
    if not free or any(p["device_owner"] not in net_db.AUTO_DELETE_OWNERS and p["uuid"] not in free
                       for p in ports):
        return
    for fip in fips:
        if not fip["port_uuid"]:
            floating_ips.fip_delete(fip["uuid"])


register()
