"""Neutron v2.0 networks (``/v2.0/networks``), the version document and the
extension list.

Policy as Neutron's defaults: a project sees its own networks, shared ones
and external ones (an admin: all); only an admin makes a network shared or
external or sets provider attributes; only the owner or an admin changes
or deletes one (another project's shared network: 403, a network it cannot
see: 404)."""

from __future__ import annotations

from typing import Any

from novalite.api import wsgi
from novalite.api.network import common, quotas
from novalite.api.network.common import Attr
from novalite.api.wsgi import Request
from novalite.network import exceptions as n_exc
from novalite.network import hooks, neutron_l3
from novalite.network import neutron as db


def visible(req: Request, net: dict) -> bool:
    return common.is_admin(req) or net.get("project_id") == common.project_of(req) or \
        bool(net.get("shared")) or bool(net.get("router_external"))


def owned(req: Request, net: dict) -> bool:
    return common.is_admin(req) or net.get("project_id") == common.project_of(req)


def get_visible(req: Request, network_id: str) -> dict:
    """The network, or NetworkNotFound (404) when the caller may not see it."""
    from novalite import exception

    net = db.network_get(network_id)
    if not visible(req, net):
        raise exception.NetworkNotFound(network_id=network_id)
    return net


def network_view(req: Request, net: dict) -> dict:
    project = net.get("project_id") or ""
    view: dict[str, Any] = {
        "id": net["uuid"], "name": net["name"], "tenant_id": project, "project_id": project,
        "admin_state_up": bool(net["admin_state_up"]), "status": net["status"],
        "mtu": net["mtu"], "subnets": list(net.get("subnets") or []),
        "shared": bool(net["shared"]), "router:external": bool(net["router_external"]),
        "port_security_enabled": True, "description": net.get("description") or "",
        "availability_zone_hints": [], "availability_zones": ["nova"],
        "ipv4_address_scope": None, "ipv6_address_scope": None, "l2_adjacency": True,
        "qos_policy_id": None, "is_default": False, "tags": [], "revision_number": 0,
        "created_at": common.timestamp(net.get("created_at")),
        "updated_at": common.timestamp(net.get("updated_at") or net.get("created_at")),
    }
    if common.is_admin(req):
        view["provider:network_type"] = "vxlan"
        view["provider:physical_network"] = None
        view["provider:segmentation_id"] = net.get("segmentation_id")
    return view


def _port_security(name: str, value: Any) -> bool:
    if not common.v_bool(name, value):
        raise common.bad_request("novalite filters every port: port_security_enabled "
                                 "is set on each port, not on the network")
    return True


def _network_type(name: str, value: Any) -> str:
    if value not in ("vxlan", None):
        raise n_exc.InvalidInput(error_message=f"network_type value '{value}' not supported")
    return "vxlan"


NETWORK_ATTRS = {
    "name": Attr(common.v_string(255)),
    "admin_state_up": Attr(common.v_bool),
    "shared": Attr(common.v_bool, admin=True, default=False),
    "router:external": Attr(common.v_bool, admin=True, default=False),
    "description": Attr(common.v_string(255)),
    "mtu": Attr(common.v_int(68, 1450)),
    "port_security_enabled": Attr(_port_security),
    "tenant_id": Attr(common.v_string(255), put=False),
    "project_id": Attr(common.v_string(255), put=False),
    "provider:network_type": Attr(_network_type, put=False, admin=True),
    "provider:segmentation_id": Attr(common.v_int(1, 2 ** 24 - 1), put=False, admin=True),
    "provider:physical_network": Attr(common.v_any, put=False, admin=True),
    "availability_zone_hints": Attr(common.v_list_of(common.v_string(255)), put=False),
    "is_default": Attr(common.v_bool, admin=True, default=False),
    "dns_domain": Attr(common.v_string(255)),
    "qos_policy_id": Attr(common.v_any),
}


def _db_values(values: dict) -> dict:
    out = {}
    for key, column in (("name", "name"), ("admin_state_up", "admin_state_up"),
                        ("shared", "shared"), ("router:external", "router_external"),
                        ("description", "description"), ("mtu", "mtu"),
                        ("provider:segmentation_id", "segmentation_id")):
        if key in values:
            out[column] = values[key]
    return out


class VersionsController:
    def index(self, req: Request) -> dict:
        href = f"{req.links.root}/network/v2.0/"
        return {"versions": [{"id": "v2.0", "status": "CURRENT",
                              "links": [{"href": href, "rel": "self"}]}]}

    def resources(self, req: Request) -> dict:
        """GET /v2.0/: the version's resources, as Neutron lists them."""
        base = f"{req.links.root}/network/v2.0"
        return {"resources": [
            {"name": name, "collection": collection,
             "links": [{"href": f"{base}/{collection}", "rel": "self"}]}
            for name, collection in _RESOURCES]}


_RESOURCES = [("network", "networks"), ("subnet", "subnets"), ("port", "ports"),
              ("security_group", "security-groups"),
              ("security_group_rule", "security-group-rules"), ("router", "routers"),
              ("floatingip", "floatingips"), ("quota", "quotas"),
              ("network_ip_availability", "network-ip-availabilities")]


class NetworksController:
    def index(self, req: Request) -> dict:
        admin = common.is_admin(req)
        rows = db.network_get_all(visible_to=None if admin else common.project_of(req))
        return common.listing(req, "networks", [network_view(req, n) for n in rows])

    def show(self, req: Request, id: str) -> dict:
        return {"network": common.shown(req, network_view(req, get_visible(req, id)))}

    @wsgi.response(201)
    def create(self, req: Request) -> dict:
        values = common.check_attrs(req, "network", common.body_of(req, "network"),
                                    NETWORK_ATTRS)
        project = common.owner_of_request(req, values, "network")
        quotas.check(project, "network", 1)
        row = _db_values(values)
        row.setdefault("name", "")
        row["project_id"] = project
        net = db.network_create(row)
        return {"network": network_view(req, net)}

    def update(self, req: Request, id: str) -> dict:
        net = get_visible(req, id)
        if not owned(req, net):
            raise common.forbidden("update_network")
        values = common.check_attrs(req, "network", common.body_of(req, "network"),
                                    NETWORK_ATTRS, updating=True)
        if values.get("shared") is False and net["shared"]:
            others = {p["project_id"] for p in db.port_get_all(network_id=net["id"])
                      if p["device_owner"] not in db.AUTO_DELETE_OWNERS}
            others.discard(net["project_id"])
            if others:
                raise n_exc.Conflict(reason=f"Unable to reconfigure sharing settings for "
                                            f"network {id}. Multiple tenants are using it.")
        net = db.network_update(id, _db_values(values))
        return {"network": network_view(req, net)}

    @wsgi.response(204)
    def delete(self, req: Request, id: str) -> None:
        net = get_visible(req, id)
        if not owned(req, net):
            raise common.forbidden("delete_network")
        if net.get("router_external"):
            neutron_l3.delete_unassociated_floating_ips(net)
        db.network_delete(id)


_EXTENSIONS = [
    ("quotas", "Quota management support", "Expose functions for quotas management per tenant"),
    ("quota_details", "Quota details management support",
     "Expose functions for quotas usage statistics per project"),
    ("external-net", "Neutron external network",
     "Adds external network attribute to network resource."),
    ("port-security", "Port Security", "Provides port security"),
    ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"),
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external "
                                "application"),
    ("provider", "Provider Network", "Expose mapping of virtual networks to physical "
                                     "networks"),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    ("standard-attr-description", "standard-attr-description",
     "Extension to add descriptions to standard attributes"),
    ("standard-attr-timestamp", "Resource timestamps",
     "Adds created_at and updated_at fields to all Neutron resources that have Neutron "
     "standard attributes."),
    ("project-id", "project_id field enabled",
     "Extension that indicates that project_id field is enabled."),
    ("network-ip-availability", "Network IP Availability",
     "Provides IP availability data for each network and subnet."),
]


class ExtensionsController:
    @staticmethod
    def _all() -> list[dict]:
        base = [{"alias": alias, "name": name, "description": desc,
                 "updated": "2013-01-20T00:00:00-00:00", "links": []}
                for alias, name, desc in _EXTENSIONS]
        return base + list(hooks.EXTENSIONS)

    def index(self, req: Request) -> dict:
        return {"extensions": self._all()}

    def show(self, req: Request, alias: str) -> dict:
        for ext in self._all():
            if ext["alias"] == alias:
                return {"extension": ext}
        raise common.errors.HTTPError(404, f"Extension with alias {alias} does not exist")


def _pool_size(pools: list[dict]) -> int:
    import ipaddress

    return sum(int(ipaddress.ip_address(p["end"])) - int(ipaddress.ip_address(p["start"])) + 1
               for p in pools or [])


class IpAvailabilitiesController:
    """``/v2.0/network-ip-availabilities`` (admin only, as Neutron's policy)."""

    def _view(self, net: dict) -> dict:
        used: dict[str, int] = {}
        for port in db.port_get_all(network_id=net["id"]):
            for alloc in port["fixed_ips"]:
                used[alloc["subnet_id"]] = used.get(alloc["subnet_id"], 0) + 1
        subs = [{"subnet_id": s["uuid"], "subnet_name": s["name"], "cidr": s["cidr"],
                 "ip_version": s["ip_version"], "total_ips": _pool_size(s["allocation_pools"]),
                 "used_ips": used.get(s["uuid"], 0)}
                for s in db.subnet_get_all(network_id=net["id"])]
        project = net.get("project_id") or ""
        return {"network_id": net["uuid"], "network_name": net["name"],
                "tenant_id": project, "project_id": project,
                "total_ips": sum(s["total_ips"] for s in subs),
                "used_ips": sum(s["used_ips"] for s in subs), "subnet_ip_availability": subs}

    def index(self, req: Request) -> dict:
        if not common.is_admin(req):
            raise common.forbidden("get_network_ip_availability")
        return common.listing(req, "network_ip_availabilities",
                              [self._view(n) for n in db.network_get_all()])

    def show(self, req: Request, id: str) -> dict:
        if not common.is_admin(req):
            raise common.forbidden("get_network_ip_availability")
        return {"network_ip_availability": self._view(db.network_get(id))}
