"""Neutron v2.0 ports (``/v2.0/ports``).

Policy as Neutron's defaults: a project sees its own ports and the ports on
networks it owns (an admin: all); choosing a MAC or an IP address, or a
``network:*`` device owner, needs the network's owner or an admin; the
``binding:*`` attributes are an admin's. A port made here has no device
until a server takes it (``server create --nic port-id=``)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from novalite.api import wsgi
from novalite.api.network import common, networks, quotas
from novalite.api.network.common import Attr
from novalite.api.wsgi import Request
from novalite.network import api as network_api
from novalite.network import exceptions as n_exc
from novalite.network import hooks
from novalite.network import neutron as db

VNIC_TYPES = ("normal", "direct", "macvtap", "baremetal", "direct-physical",
              "virtio-forwarder", "smart-nic", "vdpa", "remote-managed")
_MAC = re.compile(r"^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$")


def port_view(req: Request, port: dict, groups: list[str] | None = None) -> dict:
    project = port.get("project_id") or ""
    view: dict[str, Any] = {
        "id": port["uuid"], "name": port["name"], "network_id": port["network_uuid"],
        "tenant_id": project, "project_id": project, "mac_address": port["mac"],
        "admin_state_up": bool(port["admin_state_up"]), "status": port["status"],
        "device_id": port["device_id"], "device_owner": port["device_owner"],
        "fixed_ips": [{"subnet_id": a["subnet_id"], "ip_address": a["ip_address"]}
                      for a in port["fixed_ips"]],
        "allowed_address_pairs": [dict(p) for p in port.get("allowed_address_pairs") or []],
        "extra_dhcp_opts": [], "security_groups": list(groups or []),
        "port_security_enabled": bool(port["port_security_enabled"]),
        "binding:vnic_type": port.get("vnic_type") or "normal",
        "description": port.get("description") or "", "ip_allocation": "immediate",
        "propagate_uplink_status": False, "qos_policy_id": None, "qos_network_policy_id": None,
        "resource_request": None, "tags": [], "revision_number": 0,
        "created_at": common.timestamp(port.get("created_at")),
        "updated_at": common.timestamp(port.get("updated_at") or port.get("created_at")),
    }
    if common.is_admin(req):
        bound = bool(port.get("binding_host"))
        view["binding:host_id"] = port.get("binding_host") or ""
        view["binding:profile"] = {}
        view["binding:vif_type"] = "bridge" if bound else "unbound"
        view["binding:vif_details"] = {"port_filter": True} if bound else {}
    return view


def views(req: Request, ports: list[dict]) -> list[dict]:
    groups = network_api.security_groups_of([p["uuid"] for p in ports])
    return [port_view(req, p, groups.get(p["uuid"])) for p in ports]


def _mac(name: str, value: Any) -> str:
    if not isinstance(value, str) or not _MAC.match(value):
        raise common.invalid(name, value, f"'{value}' is not a valid MAC address")
    mac = value.lower().replace("-", ":")
    if int(mac[:2], 16) & 1:
        raise common.invalid(name, value, f"'{value}' is not a valid unicast MAC address")
    return mac


def _fixed_ip(name: str, value: Any) -> dict:
    if not isinstance(value, dict) or not value or \
            not set(value) <= {"subnet_id", "ip_address"}:
        raise common.invalid(name, value, f"'{value}' is not a valid fixed IP: give "
                                          "'subnet_id' and/or 'ip_address'")
    out = {}
    if value.get("subnet_id") is not None:
        out["subnet_id"] = common.v_uuid(name, value["subnet_id"])
    if value.get("ip_address") is not None:
        out["ip_address"] = common.v_ip(name, value["ip_address"])
    return out


def _address_pair(name: str, value: Any) -> dict:
    if not isinstance(value, dict) or "ip_address" not in value or \
            not set(value) <= {"ip_address", "mac_address"}:
        raise common.invalid(name, value, "Allowed address pairs must be a list of "
                                          "dictionaries with an 'ip_address'")
    try:
        ip = str(ipaddress.ip_network(value["ip_address"], strict=False)) \
            if "/" in str(value["ip_address"]) else str(ipaddress.ip_address(value["ip_address"]))
    except ValueError:
        raise common.invalid(name, value, f"'{value['ip_address']}' is not a valid IP "
                                          "address") from None
    out = {"ip_address": ip}
    if value.get("mac_address") is not None:
        out["mac_address"] = _mac(name, value["mac_address"])
    return out


def _vnic(name: str, value: Any) -> str:
    if value not in VNIC_TYPES:
        raise common.invalid(name, value, f"{value} is not in {list(VNIC_TYPES)}")
    return str(value)


def _empty_dict(name: str, value: Any) -> dict:
    if value not in (None, {}):
        raise common.bad_request(f"{name} is not supported by novalite (only {{}})")
    return {}


def _empty_list(name: str, value: Any) -> list:
    if value not in (None, []):
        raise common.bad_request(f"{name} is not supported by novalite (only [])")
    return []


def port_attrs() -> dict[str, Attr]:
    attrs = {
        "name": Attr(common.v_string(255)),
        "network_id": Attr(common.v_uuid, put=False),
        "admin_state_up": Attr(common.v_bool),
        "mac_address": Attr(_mac, put=False),
        "fixed_ips": Attr(common.v_list_of(_fixed_ip)),
        "device_id": Attr(common.v_string(255)),
        "device_owner": Attr(common.v_string(255)),
        "port_security_enabled": Attr(common.v_bool),
        "allowed_address_pairs": Attr(common.v_list_of(_address_pair)),
        "description": Attr(common.v_string(255)),
        "tenant_id": Attr(common.v_string(255), put=False),
        "project_id": Attr(common.v_string(255), put=False),
        "binding:host_id": Attr(common.v_string(255), admin=True),
        "binding:vnic_type": Attr(_vnic),
        "binding:profile": Attr(_empty_dict, admin=True),
        "extra_dhcp_opts": Attr(_empty_list),
        "security_groups": Attr(common.v_list_of(common.v_uuid)),
        "qos_policy_id": Attr(common.v_any),
        "propagate_uplink_status": Attr(common.v_bool),
        "dns_name": Attr(common.v_string(255)),
        "tags": Attr(common.v_list_of(common.v_string(255))),
    }
    attrs.update(hooks.PORT_ATTRS)
    return attrs


def get_visible(req: Request, port_id: str) -> dict:
    port = db.port_get(port_id)
    if common.is_admin(req) or port.get("project_id") == common.project_of(req):
        return port
    net = db.network_get_by_id(port["network_id"])
    if net.get("project_id") == common.project_of(req):
        return port
    raise n_exc.PortNotFound(port_id=port_id)


def _owner_checks(req: Request, net: dict, values: dict, verb: str) -> None:
    """What only the network's owner (or an admin) may ask for."""
    if networks.owned(req, net):
        return
    if "mac_address" in values:
        raise common.forbidden(f"{verb}_port:mac_address")
    if any("ip_address" in f for f in values.get("fixed_ips") or []):
        raise common.forbidden(f"{verb}_port:fixed_ips:ip_address")
    if str(values.get("device_owner") or "").startswith("network:"):
        raise common.forbidden(f"{verb}_port:device_owner")


def _check_security(values: dict, port: dict | None = None) -> None:
    enabled = values.get("port_security_enabled",
                         True if port is None else port["port_security_enabled"])
    pairs = values.get("allowed_address_pairs",
                       [] if port is None else port.get("allowed_address_pairs") or [])
    if not enabled and pairs:
        raise n_exc.Conflict(reason="Port Security must be enabled in order to have allowed "
                                    "address pairs on a port.")
    if not enabled and values.get("security_groups"):
        raise n_exc.Conflict(reason="Port has security group associated. Cannot disable port "
                                    "security or ip address until security group is removed")


def _db_values(values: dict) -> dict:
    out = {}
    for key, column in (("name", "name"), ("admin_state_up", "admin_state_up"),
                        ("mac_address", "mac"), ("device_id", "device_id"),
                        ("device_owner", "device_owner"),
                        ("port_security_enabled", "port_security_enabled"),
                        ("allowed_address_pairs", "allowed_address_pairs"),
                        ("description", "description"), ("binding:host_id", "binding_host"),
                        ("binding:vnic_type", "vnic_type")):
        if key in values:
            out[column] = values[key]
    if "binding_host" in out and not out["binding_host"]:
        out["binding_host"] = None
    return out


def _fixed_ips_filter(port: dict, wanted: list[str]) -> bool:
    """``fixed_ips=ip_address=X`` / ``fixed_ips=subnet_id=Y`` (repeatable)."""
    for want in wanted:
        key, _, value = want.partition("=")
        if key == "ip_address_substr":
            if not any(value in a["ip_address"] for a in port["fixed_ips"]):
                return False
        elif key in ("ip_address", "subnet_id"):
            if not any(a[key] == value for a in port["fixed_ips"]):
                return False
        else:
            return False
    return True


class PortsController:
    def index(self, req: Request) -> dict:
        if common.is_admin(req):
            ports = db.port_get_all()
        else:
            project = common.project_of(req)
            own_nets = [n["id"] for n in db.network_get_all(project_id=project)]
            ports = db.port_get_all(project_id=project)
            seen = {p["uuid"] for p in ports}
            ports += [p for p in db.port_get_all(network_ids=own_nets) if p["uuid"] not in seen]
            ports.sort(key=lambda p: p["id"])
        return common.listing(req, "ports", views(req, ports),
                              special={"fixed_ips": _fixed_ips_filter})

    def show(self, req: Request, id: str) -> dict:
        return {"port": common.shown(req, views(req, [get_visible(req, id)])[0])}

    @wsgi.response(201)
    def create(self, req: Request) -> dict:
        body = common.body_of(req, "port")
        values = common.check_attrs(req, "port", body, port_attrs())
        if "network_id" not in values:
            raise common.bad_request("Failed to parse request. Required attribute "
                                     "'network_id' not specified")
        net = networks.get_visible(req, values["network_id"])
        _owner_checks(req, net, values, "create")
        _check_security(values)
        project = common.owner_of_request(req, values, "port")
        quotas.check(project, "port", 1)
        row = _db_values(values)
        row.update(network_id=net["id"], project_id=project,
                   status="ACTIVE" if row.get("binding_host") else "DOWN")
        port = db.port_create(row, values.get("fixed_ips"))
        try:
            hooks.port_created(req.context, port, body)
        except Exception:
            db.port_delete(port["uuid"])
            raise
        return {"port": views(req, [db.port_get(port["uuid"])])[0]}

    def update(self, req: Request, id: str) -> dict:
        port = get_visible(req, id)
        body = common.body_of(req, "port")
        values = common.check_attrs(req, "port", body, port_attrs(), updating=True)
        net = db.network_get_by_id(port["network_id"])
        _owner_checks(req, net, values, "update")
        _check_security(values, port)
        row = _db_values(values)
        if "binding_host" in row:
            row["status"] = "ACTIVE" if row["binding_host"] else "DOWN"
        port = db.port_update(id, row, values.get("fixed_ips"))
        hooks.port_updated(req.context, port, body)
        return {"port": views(req, [db.port_get(id)])[0]}

    @wsgi.response(204)
    def delete(self, req: Request, id: str) -> None:
        port = get_visible(req, id)
        hooks.port_deleting(port)
        db.port_delete(id)
