"""Neutron v2.0 subnets (``/v2.0/subnets``) with Neutron's validation: a
CIDR overlapping another subnet of the network is 400, the gateway must be
a host address of the CIDR, allocation pools lie inside the CIDR, do not
overlap and do not hold the gateway; IPv4 and IPv6. Only the network's
owner (or an admin) adds a subnet; a project sees the subnets of the
networks it sees."""

from __future__ import annotations

import ipaddress
from typing import Any

from novalite.api import wsgi
from novalite.api.network import common, networks, quotas
from novalite.api.network.common import Attr
from novalite.api.wsgi import Request
from novalite.network import exceptions as n_exc
from novalite.network import neutron as db

Net = ipaddress.IPv4Network | ipaddress.IPv6Network


def subnet_view(sub: dict) -> dict:
    project = sub.get("project_id") or ""
    return {
        "id": sub["uuid"], "name": sub["name"], "network_id": sub["network_uuid"],
        "tenant_id": project, "project_id": project, "ip_version": sub["ip_version"],
        "cidr": sub["cidr"], "gateway_ip": sub["gateway_ip"],
        "enable_dhcp": bool(sub["enable_dhcp"]),
        "allocation_pools": list(sub.get("allocation_pools") or []),
        "dns_nameservers": list(sub.get("dns_nameservers") or []),
        "host_routes": list(sub.get("host_routes") or []),
        "description": sub.get("description") or "",
        "ipv6_ra_mode": None, "ipv6_address_mode": None, "subnetpool_id": None,
        "service_types": [], "segment_id": None, "dns_publish_fixed_ip": False,
        "tags": [], "revision_number": 0,
        "created_at": common.timestamp(sub.get("created_at")),
        "updated_at": common.timestamp(sub.get("updated_at") or sub.get("created_at")),
    }


def _cidr(name: str, value: Any) -> str:
    try:
        net = ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise common.invalid(name, value, f"'{value}' is not a valid IP subnet.") from None
    if str(net) != str(value) and str(net) != str(value).lower():
        raise common.invalid(name, value, f"'{value}' isn't a recognized IP subnet cidr, "
                                          f"'{net}' is recommended")
    return str(net)


def _pool(name: str, value: Any) -> dict:
    if not isinstance(value, dict) or set(value) != {"start", "end"}:
        raise common.invalid(name, value, f"'{value}' is not a valid allocation pool "
                                          "(needs 'start' and 'end')")
    return {"start": common.v_ip(name, value["start"]), "end": common.v_ip(name, value["end"])}


def _route(name: str, value: Any) -> dict:
    if not isinstance(value, dict) or set(value) != {"destination", "nexthop"}:
        raise common.invalid(name, value, f"Validation of dictionary's keys failed. "
                                          f"Expected keys: {{'destination', 'nexthop'}} "
                                          f"Provided keys: {set(value) if isinstance(value, dict) else value}")
    return {"destination": _cidr(name, value["destination"]),
            "nexthop": common.v_ip(name, value["nexthop"])}


def _unique(item: Any) -> Any:
    def check(name: str, value: Any) -> Any:
        out = common.v_list_of(item)(name, value)
        if len({str(v) for v in out}) != len(out):
            raise common.invalid(name, value, f"Duplicate items in the list: '{value}'")
        return out
    return check


def _gateway(name: str, value: Any) -> str | None:
    return None if value is None else common.v_ip(name, value)


def _ip_version(name: str, value: Any) -> int:
    if value not in (4, 6, "4", "6"):
        raise common.invalid(name, value, f"{value} is not in [4, 6].")
    return int(value)


def _null_only(name: str, value: Any) -> None:
    if value is not None:
        raise common.bad_request(f"{name} is not supported by novalite (only null)")
    return None


SUBNET_ATTRS = {
    "name": Attr(common.v_string(255)),
    "network_id": Attr(common.v_uuid, put=False),
    "cidr": Attr(_cidr, put=False),
    "ip_version": Attr(_ip_version, put=False),
    "gateway_ip": Attr(_gateway),
    "enable_dhcp": Attr(common.v_bool),
    "allocation_pools": Attr(common.v_list_of(_pool)),
    "dns_nameservers": Attr(_unique(common.v_ip)),
    "host_routes": Attr(_unique(_route)),
    "description": Attr(common.v_string(255)),
    "tenant_id": Attr(common.v_string(255), put=False),
    "project_id": Attr(common.v_string(255), put=False),
    "ipv6_ra_mode": Attr(common.v_any, put=False),
    "ipv6_address_mode": Attr(common.v_any, put=False),
    "subnetpool_id": Attr(_null_only, put=False),
    "prefixlen": Attr(_null_only, put=False),
    "segment_id": Attr(_null_only),
    "service_types": Attr(common.v_list_of(common.v_string(255))),
    "use_default_subnetpool": Attr(common.v_bool, put=False),
    "dns_publish_fixed_ip": Attr(common.v_bool),
}


def _check_gateway(cidr: Net, gateway: str | None) -> None:
    if gateway is None:
        return
    gw = ipaddress.ip_address(gateway)
    if gw.version != cidr.version or gw not in cidr or gw == cidr.network_address or \
            (cidr.version == 4 and cidr.num_addresses > 2 and gw == cidr.broadcast_address):
        raise n_exc.InvalidInput(error_message=f"Gateway is not valid on subnet {cidr}"
                                 if gw in cidr else
                                 f"Gateway ip {gateway} is not in subnet {cidr}")


def _check_pools(cidr: Net, pools: list[dict], gateway: str | None) -> None:
    """Neutron's pool checks: each pool inside the CIDR (not its network or
    broadcast address), start <= end, no overlaps, the gateway in none."""
    ranges = []
    for pool in pools:
        start, end = ipaddress.ip_address(pool["start"]), ipaddress.ip_address(pool["end"])
        text = f"{pool['start']}-{pool['end']}"
        if start.version != cidr.version or end.version != cidr.version or \
                int(start) > int(end):
            raise n_exc.InvalidAllocationPool(pool=text)
        if start not in cidr or end not in cidr or start == cidr.network_address or (
                cidr.version == 4 and end == cidr.broadcast_address):
            raise n_exc.OutOfBoundsAllocationPool(pool=text, subnet_cidr=str(cidr))
        ranges.append((int(start), int(end), text))
    ranges.sort()
    for (_, end_a, text_a), (start_b, _, text_b) in zip(ranges, ranges[1:], strict=False):
        if start_b <= end_a:
            raise n_exc.OverlappingAllocationPools(pool_1=text_a, pool_2=text_b,
                                                   subnet_cidr=str(cidr))
    if gateway is not None:
        gw = int(ipaddress.ip_address(gateway))
        for start_i, end_i, text in ranges:
            if start_i <= gw <= end_i:
                raise n_exc.GatewayConflictWithAllocationPools(ip_address=gateway, pool=text)


def _check_versions(cidr: Net, values: dict) -> None:
    for address in values.get("dns_nameservers") or []:
        if ipaddress.ip_address(address).version != cidr.version:
            raise n_exc.InvalidInput(error_message=f"Invalid input for dns_nameservers. "
                                     f"Reason: {address} is not of IP version {cidr.version}")
    for route in values.get("host_routes") or []:
        if ipaddress.ip_network(route["destination"]).version != cidr.version or \
                ipaddress.ip_address(route["nexthop"]).version != cidr.version:
            raise n_exc.InvalidInput(error_message=f"Invalid input for host_routes. "
                                     f"Reason: {route} is not of IP version {cidr.version}")


def visible(req: Request, net: dict, sub: dict) -> bool:
    """Neutron's get_subnet policy: admin, the subnet's or the network's
    project, or a shared network. An external network is visible to all,
    its subnets are not (tempest's test_external_network_visibility)."""
    return networks.owned(req, net) or bool(net.get("shared")) or \
        sub.get("project_id") == common.project_of(req)


def get_visible(req: Request, subnet_id: str) -> dict:
    sub = db.subnet_get(subnet_id)
    net = db.network_get_by_id(sub["network_id"])
    if not visible(req, net, sub):
        raise n_exc.SubnetNotFound(subnet_id=subnet_id)
    return sub


def _owns_network(req: Request, sub: dict) -> bool:
    net = db.network_get_by_id(sub["network_id"])
    return networks.owned(req, net) or sub.get("project_id") == common.project_of(req)


class SubnetsController:
    def index(self, req: Request) -> dict:
        admin = common.is_admin(req)
        nets = {n["id"]: n for n in
                db.network_get_all(visible_to=None if admin else common.project_of(req))}
        subs = [s for s in db.subnet_get_all(network_ids=list(nets))
                if admin or visible(req, nets[s["network_id"]], s)]
        return common.listing(req, "subnets", [subnet_view(s) for s in subs])

    def show(self, req: Request, id: str) -> dict:
        return {"subnet": common.shown(req, subnet_view(get_visible(req, id)))}

    @wsgi.response(201)
    def create(self, req: Request) -> dict:
        values = common.check_attrs(req, "subnet", common.body_of(req, "subnet"), SUBNET_ATTRS)
        for required in ("network_id", "cidr", "ip_version"):
            if required not in values:
                raise common.bad_request(f"Failed to parse request. Required attribute "
                                         f"'{required}' not specified")
        net = networks.get_visible(req, values["network_id"])
        if not networks.owned(req, net):
            raise common.forbidden("create_subnet")
        project = common.owner_of_request(req, values, "subnet")
        cidr = ipaddress.ip_network(values["cidr"])
        if cidr.version != values["ip_version"]:
            raise n_exc.InvalidInput(error_message=f"Cidr {cidr} does not match the "
                                     f"ip_version {values['ip_version']}")
        if cidr.version == 4 and cidr.prefixlen > 30:
            raise n_exc.InvalidInput(error_message=f"Invalid input for cidr. Reason: "
                                     f"{cidr} is too small: a subnet needs room for a "
                                     "gateway and a port (/30 or larger)")
        if "gateway_ip" in values:
            gateway = values["gateway_ip"]
        else:
            gateway = str(next(iter(cidr.hosts()))) if cidr.version == 4 else \
                str(cidr.network_address + 1)
        _check_gateway(cidr, gateway)
        _check_versions(cidr, values)
        if values.get("allocation_pools"):
            pools = values["allocation_pools"]
            _check_pools(cidr, pools, gateway)
        else:
            pools = db.default_pools(str(cidr), gateway)
        quotas.check(project, "subnet", 1)
        sub = db.subnet_create({
            "network_id": net["id"], "project_id": project, "name": values.get("name", ""),
            "cidr": str(cidr), "ip_version": cidr.version, "gateway_ip": gateway,
            "enable_dhcp": values.get("enable_dhcp", True), "allocation_pools": pools,
            "dns_nameservers": values.get("dns_nameservers") or [],
            "host_routes": values.get("host_routes") or [],
            "description": values.get("description", "")})
        return {"subnet": subnet_view(sub)}

    def update(self, req: Request, id: str) -> dict:
        sub = get_visible(req, id)
        if not _owns_network(req, sub):
            raise common.forbidden("update_subnet")
        values = common.check_attrs(req, "subnet", common.body_of(req, "subnet"),
                                    SUBNET_ATTRS, updating=True)
        cidr = ipaddress.ip_network(sub["cidr"])
        gateway = values.get("gateway_ip", sub["gateway_ip"])
        pools = values.get("allocation_pools", sub["allocation_pools"]) or []
        if "gateway_ip" in values:
            _check_gateway(cidr, gateway)
        if "gateway_ip" in values or "allocation_pools" in values:
            _check_pools(cidr, pools, gateway)
        _check_versions(cidr, values)
        row = {k: values[k] for k in ("name", "gateway_ip", "enable_dhcp", "allocation_pools",
                                      "dns_nameservers", "host_routes", "description")
               if k in values}
        return {"subnet": subnet_view(db.subnet_update(id, row))}

    @wsgi.response(204)
    def delete(self, req: Request, id: str) -> None:
        sub = get_visible(req, id)
        if not _owns_network(req, sub):
            raise common.forbidden("delete_subnet")
        db.subnet_delete(id)
