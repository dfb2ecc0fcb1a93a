"""Neutron v2.0 floating IPs (``/v2.0/floatingips``): an address of a
``router:external`` network, associated with (NATed to) a fixed address of
a port whose subnet a router connects to that external network (404
ExternalGatewayForFloatingIPNotFound otherwise, as Neutron's). Policy as
Neutron's defaults: the owner or an admin; choosing the address is an
admin's; another project's floating IP is 404."""

from __future__ import annotations

import ipaddress
from typing import Any

from novalite.api import wsgi
from novalite.api.network import common, networks, ports, quotas
from novalite.api.network.common import Attr
from novalite.api.wsgi import Request
from novalite.network import exceptions as n_exc
from novalite.network import l3_exceptions as l3_exc
from novalite.network import neutron_l3

fdb = neutron_l3.floating_ips


def fip_view(fip: dict) -> dict:
    project = fip.get("project_id") or ""
    return {
        "id": fip["uuid"], "tenant_id": project, "project_id": project,
        "floating_ip_address": fip["floating_ip_address"],
        "floating_network_id": fip["floating_network_uuid"],
        "router_id": fip["router_uuid"], "port_id": fip["port_uuid"],
        "fixed_ip_address": fip["fixed_ip_address"], "status": fip["status"],
        "description": fip.get("description") or "", "tags": [], "revision_number": 0,
        "created_at": common.timestamp(fip.get("created_at")),
        "updated_at": common.timestamp(fip.get("updated_at") or fip.get("created_at")),
    }


def get_visible(req: Request, fip_id: str) -> dict:
    fip = fdb.fip_get(fip_id)
    if not common.is_admin(req) and fip["project_id"] != common.project_of(req):
        raise l3_exc.FloatingIPNotFound(floatingip_id=fip_id)
    return fip


def _port_id(name: str, value: Any) -> str | None:
    return None if value is None else common.v_uuid(name, value)


def _fixed_ip(name: str, value: Any) -> str | None:
    return None if value is None else common.v_ip(name, value)


FIP_ATTRS = {
    "floating_network_id": Attr(common.v_uuid, put=False),
    "floating_ip_address": Attr(common.v_ip, put=False, admin=True),
    "subnet_id": Attr(common.v_uuid, put=False),
    "port_id": Attr(_port_id),
    "fixed_ip_address": Attr(_fixed_ip),
    "description": Attr(common.v_string(255)),
    "tenant_id": Attr(common.v_string(255), put=False),
    "project_id": Attr(common.v_string(255), put=False),
    "tags": Attr(common.v_list_of(common.v_string(255))),
}


def _association(req: Request, fip: dict, port_id: str, fixed_ip: str | None) -> tuple:
    """(port, fixed address, router) the floating IP would be NATed through."""
    port = ports.get_visible(req, port_id)
    if not common.is_admin(req) and port.get("project_id") != fip["project_id"]:
        raise n_exc.PortNotFound(port_id=port_id)
    v4 = [a for a in port["fixed_ips"] if ipaddress.ip_address(a["ip_address"]).version == 4]
    if fixed_ip is not None:
        chosen = [a for a in port["fixed_ips"] if a["ip_address"] == fixed_ip]
        if not chosen:
            raise l3_exc.BadRequest(resource="floatingip",
                                    msg=f"Port {port_id} does not have fixed ip {fixed_ip}")
    else:
        if not v4:
            raise l3_exc.BadRequest(resource="floatingip",
                                    msg=f"Port {port_id} does not have any IPv4 address")
        if len(v4) > 1:
            raise l3_exc.BadRequest(
                resource="floatingip",
                msg=f"Port {port_id} has multiple fixed IPv4 addresses.  Must provide a "
                    "specific IPv4 address when assigning a floating IP")
        chosen = v4
    alloc = chosen[0]
    router = neutron_l3.routers.router_for(fip["floating_network_id"], alloc["subnet_id"])
    if router is None:
        raise l3_exc.ExternalGatewayForFloatingIPNotFound(
            external_network_id=fip["floating_network_uuid"], subnet_id=alloc["subnet_id"],
            port_id=port_id)
    return port, alloc["ip_address"], router


class FloatingIPsController:
    def index(self, req: Request) -> dict:
        fips = fdb.fip_get_all(project_id=None if common.is_admin(req)
                               else common.project_of(req))
        return common.listing(req, "floatingips", [fip_view(f) for f in fips])

    def show(self, req: Request, id: str) -> dict:
        return {"floatingip": common.shown(req, fip_view(get_visible(req, id)))}

    @wsgi.response(201)
    def create(self, req: Request) -> dict:
        body = common.body_of(req, "floatingip")
        values = common.check_attrs(req, "floatingip", body, FIP_ATTRS)
        if "floating_network_id" not in values:
            raise common.bad_request("Failed to parse request. Required attribute "
                                     "'floating_network_id' not specified")
        net = networks.get_visible(req, values["floating_network_id"])
        if not net["router_external"]:
            raise l3_exc.BadRequest(resource="floatingip",
                                    msg=f"Network {net['uuid']} is not a valid external "
                                        "network")
        project = common.owner_of_request(req, values, "floatingip")
        quotas.check(project, "floatingip", 1)
        fip = fdb.fip_create(project, net["id"], values.get("floating_ip_address"),
                             values.get("subnet_id"), values.get("description") or "")
        if values.get("port_id"):
            try:
                port, fixed, router = _association(req, fip, values["port_id"],
                                                   values.get("fixed_ip_address"))
                fip = fdb.fip_associate(fip["uuid"], port["uuid"], fixed, router["uuid"])
            except Exception:
                fdb.fip_delete(fip["uuid"])
                raise
        return {"floatingip": fip_view(fip)}

    def update(self, req: Request, id: str) -> dict:
        fip = get_visible(req, id)
        body = common.body_of(req, "floatingip")
        values = common.check_attrs(req, "floatingip", body, FIP_ATTRS, updating=True)
        if "description" in values:
            fip = fdb.fip_update(id, {"description": values["description"]})
        if "port_id" in values:
            if values["port_id"] is None:
                fip = fdb.fip_associate(id, None, None, None)
            else:
                port, fixed, router = _association(req, fip, values["port_id"],
                                                   values.get("fixed_ip_address"))
                fip = fdb.fip_associate(id, port["uuid"], fixed, router["uuid"])
        elif "fixed_ip_address" in values:
            raise common.bad_request("fixed_ip_address cannot be specified without a port_id")
        return {"floatingip": fip_view(fip)}

    @wsgi.response(204)
    def delete(self, req: Request, id: str) -> None:
        get_visible(req, id)
        fdb.fip_delete(id)
