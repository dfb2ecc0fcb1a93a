"""Neutron v2.0 routers (``/v2.0/routers``) with their external gateway and
interfaces (``PUT /v2.0/routers/{id}/add_router_interface``,
``remove_router_interface``).

The gateway is a port on a ``router:external`` network (device_owner
``network:router_gateway``); an interface is a port holding a subnet's
gateway address (``network:router_interface``). Policy as Neutron's
defaults: the owner or an admin; ``enable_snat`` and ``external_fixed_ips``
are an admin's; another project's router is 404."""

from __future__ import annotations

import ipaddress
from typing import Any

from novalite.api import wsgi
from novalite.api.network import common, networks, ports, quotas
from novalite.api.network.common import Attr
from novalite.api.wsgi import Request
from novalite.network import exceptions as n_exc
from novalite.network import l3_exceptions as l3_exc
from novalite.network import neutron as db
from novalite.network import neutron_l3

rdb = neutron_l3.routers


def router_view(router: dict) -> dict:
    project = router.get("project_id") or ""
    gw = router.get("gateway_port")
    info = None
    if gw is not None:
        info = {"network_id": gw["network_uuid"], "enable_snat": bool(router["enable_snat"]),
                "external_fixed_ips": [{"subnet_id": a["subnet_id"],
                                        "ip_address": a["ip_address"]}
                                       for a in gw["fixed_ips"]]}
    return {
        "id": router["uuid"], "name": router["name"], "tenant_id": project,
        "project_id": project, "admin_state_up": bool(router["admin_state_up"]),
        "status": router["status"], "external_gateway_info": info,
        "routes": [dict(r) for r in router.get("routes") or []],
        "description": router.get("description") or "", "availability_zone_hints": [],
        "availability_zones": ["nova"], "flavor_id": None, "tags": [], "revision_number": 0,
        "created_at": common.timestamp(router.get("created_at")),
        "updated_at": common.timestamp(router.get("updated_at") or router.get("created_at")),
    }


def get_visible(req: Request, router_id: str) -> dict:
    router = rdb.router_get(router_id)
    if not common.is_admin(req) and router["project_id"] != common.project_of(req):
        raise l3_exc.RouterNotFound(router_id=router_id)
    return router


def _gateway_info(name: str, value: Any) -> dict | None:
    if value is None or value == {}:
        return None
    if not isinstance(value, dict) or not set(value) <= {"network_id", "enable_snat",
                                                         "external_fixed_ips"}:
        raise common.invalid(name, value, f"{value} is not a valid external_gateway_info")
    if "network_id" not in value:
        raise common.invalid(name, value, "network_id is required")
    out: dict[str, Any] = {"network_id": common.v_uuid(name, value["network_id"])}
    if "enable_snat" in value:
        out["enable_snat"] = common.v_bool(name, value["enable_snat"])
    if value.get("external_fixed_ips") is not None:
        out["external_fixed_ips"] = ports.port_attrs()["fixed_ips"].validate(
            name, value["external_fixed_ips"])
    return out


def _route(name: str, value: Any) -> dict:
    if not isinstance(value, dict) or set(value) != {"destination", "nexthop"}:
        raise common.invalid(name, value, f"{value} is not a valid route "
                                          "({'destination', 'nexthop'})")
    try:
        dest = str(ipaddress.ip_network(value["destination"], strict=False))
        nexthop = str(ipaddress.ip_address(value["nexthop"]))
    except (TypeError, ValueError):
        raise common.invalid(name, value, f"{value} is not a valid route") from None
    return {"destination": dest, "nexthop": nexthop}


ROUTER_ATTRS = {
    "name": Attr(common.v_string(255)),
    "description": Attr(common.v_string(255)),
    "admin_state_up": Attr(common.v_bool),
    "external_gateway_info": Attr(_gateway_info),
    "routes": Attr(common.v_list_of(_route), post=False),
    "tenant_id": Attr(common.v_string(255), put=False),
    "project_id": Attr(common.v_string(255), put=False),
    "distributed": Attr(common.v_bool, admin=True, default=False),
    "ha": Attr(common.v_bool, admin=True, default=False),
    "availability_zone_hints": Attr(common.v_list_of(common.v_string(255)), put=False),
    "tags": Attr(common.v_list_of(common.v_string(255))),
}


def _set_gateway(req: Request, router: dict, info: dict | None, verb: str) -> dict:
    if info is None:
        return rdb.clear_gateway(router["uuid"])
    if not common.is_admin(req):
        for key in ("enable_snat", "external_fixed_ips"):
            if key in info:
                raise common.forbidden(f"{verb}_router:external_gateway_info:{key}")
    net = networks.get_visible(req, info["network_id"])
    if not net["router_external"]:
        raise l3_exc.BadRequest(resource="router",
                                msg=f"Network {net['uuid']} is not an external network")
    return rdb.set_gateway(router["uuid"], net["id"], info.get("enable_snat", True),
                           info.get("external_fixed_ips"))


def _check_routes(router: dict, routes: list[dict]) -> None:
    cidrs = [ipaddress.ip_network(db.subnet_get(a["subnet_id"])["cidr"])
             for p in router["interfaces"] for a in p["fixed_ips"]]
    for route in routes:
        nexthop = ipaddress.ip_address(route["nexthop"])
        if not any(nexthop in c for c in cidrs):
            raise n_exc.InvalidInput(error_message=(
                f"Invalid format for routes: {routes}, the nexthop is not connected with "
                "router"))


class RoutersController:
    def index(self, req: Request) -> dict:
        routers = rdb.router_get_all(project_id=None if common.is_admin(req)
                                     else common.project_of(req))
        return common.listing(req, "routers", [router_view(r) for r in routers])

    def show(self, req: Request, id: str) -> dict:
        return {"router": common.shown(req, router_view(get_visible(req, id)))}

    @wsgi.response(201)
    def create(self, req: Request) -> dict:
        body = common.body_of(req, "router")
        values = common.check_attrs(req, "router", body, ROUTER_ATTRS)
        project = common.owner_of_request(req, values, "router")
        if values.get("distributed") or values.get("ha"):
            raise common.bad_request("novalite's routers are neither distributed nor HA")
        quotas.check(project, "router", 1)
        router = rdb.router_create({
            "project_id": project, "name": values.get("name") or "",
            "description": values.get("description") or "",
            "admin_state_up": values.get("admin_state_up", True), "status": "ACTIVE",
            "enable_snat": True})
        if values.get("external_gateway_info"):
            try:
                router = _set_gateway(req, router, values["external_gateway_info"], "create")
            except Exception:
                rdb.router_delete(router["uuid"])
                raise
        return {"router": router_view(router)}

    def update(self, req: Request, id: str) -> dict:
        router = get_visible(req, id)
        body = common.body_of(req, "router")
        values = common.check_attrs(req, "router", body, ROUTER_ATTRS, updating=True)
        values.pop("tags", None)
        if values.pop("distributed", False) or values.pop("ha", False):
            raise common.bad_request("novalite's routers are neither distributed nor HA")
        if "routes" in values:
            _check_routes(router, values["routes"])
        if "external_gateway_info" in values:
            router = _set_gateway(req, router, values.pop("external_gateway_info"), "update")
        row = {k: values[k] for k in ("name", "description", "admin_state_up", "routes")
               if k in values}
        if row:
            router = rdb.router_update(id, row)
        return {"router": router_view(router)}

    @wsgi.response(204)
    def delete(self, req: Request, id: str) -> None:
        get_visible(req, id)
        rdb.router_delete(id)

    def _interface_body(self, req: Request) -> tuple[str | None, str | None]:
        body = _plain_body(req)
        unknown = set(body) - {"subnet_id", "port_id"}
        if unknown:
            raise common.bad_request(f"Unrecognized attribute(s) '{', '.join(sorted(unknown))}'")
        subnet_id = body.get("subnet_id")
        port_id = body.get("port_id")
        if subnet_id is not None:
            common.v_uuid("subnet_id", subnet_id)
        if port_id is not None:
            common.v_uuid("port_id", port_id)
        return subnet_id, port_id

    def add_interface(self, req: Request, id: str) -> dict:
        router = get_visible(req, id)
        subnet_id, port_id = self._interface_body(req)
        if subnet_id and port_id:
            raise l3_exc.BadRequest(resource="router",
                                    msg="Cannot specify both subnet-id and port-id")
        if port_id:
            port = ports.get_visible(req, port_id)
            neutron_l3.security_groups.port_clear_groups(port["uuid"])
            port = rdb.add_interface_port(router["uuid"], port["uuid"])
        elif subnet_id:
            sub = db.subnet_get(subnet_id)
            net = db.network_get_by_id(sub["network_id"])
            if not networks.visible(req, net):
                raise n_exc.SubnetNotFound(subnet_id=subnet_id)
            port = rdb.add_interface_subnet(router["uuid"], subnet_id)
        else:
            raise l3_exc.BadRequest(resource="router",
                                    msg="Either subnet_id or port_id must be specified")
        return _interface_info(router, port, [a["subnet_id"] for a in port["fixed_ips"]])

    def remove_interface(self, req: Request, id: str) -> dict:
        router = get_visible(req, id)
        subnet_id, port_id = self._interface_body(req)
        if not subnet_id and not port_id:
            raise l3_exc.BadRequest(resource="router",
                                    msg="Either subnet_id or port_id must be specified")
        port, subnets = rdb.remove_interface(router["uuid"], subnet_id, port_id)
        return _interface_info(router, port, subnets)


def _plain_body(req: Request) -> dict:
    import json

    try:
        data = json.loads(req.body or b"null")
    except ValueError:
        raise common.bad_request("Malformed request body") from None
    if not isinstance(data, dict):
        raise common.bad_request("Resource body required")
    return data


def _interface_info(router: dict, port: dict, subnets: list[str]) -> dict:
    project = router.get("project_id") or ""
    return {"id": router["uuid"], "tenant_id": project, "project_id": project,
            "port_id": port["uuid"], "network_id": port["network_uuid"],
            "subnet_id": subnets[0] if subnets else None, "subnet_ids": subnets}
