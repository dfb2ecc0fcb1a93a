"""Neutron-shaped, read-only views of novalite's flat networks.

Each network has one IPv4 subnet (same id derived from the network's), is
shared, up and ACTIVE. Ports and security groups do not exist as Neutron
objects here: their listings answer empty, which is what the clients need
to proceed (novalite has no port API; addresses show in a server's
``addresses``)."""

from __future__ import annotations

import uuid
from typing import Any

from novalite.api.wsgi import Request
from novalite.objects.network import Network, NetworkList

_SUBNET_NS = uuid.UUID("6f1f4e1e-5b0a-4c43-9f4e-0c5b7b1f2a10")


def subnet_id(net: Network) -> str:
    return str(uuid.uuid5(_SUBNET_NS, net["uuid"]))


def network_view(net: Network) -> dict:
    project = net.get("project_id") or ""
    return {"id": net["uuid"], "name": net["name"], "status": "ACTIVE",
            "admin_state_up": True, "shared": True, "router:external": False,
            "subnets": [subnet_id(net)], "tenant_id": project, "project_id": project,
            "mtu": 1500, "description": "", "port_security_enabled": False,
            "availability_zones": [], "tags": []}


def subnet_view(net: Network) -> dict:
    project = net.get("project_id") or ""
    return {"id": subnet_id(net), "name": net["name"], "network_id": net["uuid"],
            "ip_version": 4, "cidr": net["cidr"], "gateway_ip": net["gateway"],
            "enable_dhcp": False, "dns_nameservers": [], "host_routes": [],
            "allocation_pools": [], "tenant_id": project, "project_id": project,
            "description": "", "tags": []}


def _filtered(req: Request, rows: Any, view: Any) -> list[dict]:
    """Neutron's filters: any field given in the query (repeatable) must match."""
    items = [view(r) for r in rows]
    for key in set(req.GET.keys()):
        if key in ("fields", "limit", "marker", "sort_key", "sort_dir"):
            continue
        wanted = req.GET.getall(key)
        items = [i for i in items if key in i and _matches(i[key], wanted)]
    fields = req.GET.getall("fields")
    if fields:
        items = [{k: v for k, v in i.items() if k in fields} for i in items]
    return items


def _matches(value: Any, wanted: list[str]) -> bool:
    if isinstance(value, bool):
        return str(value).lower() in [w.lower() for w in wanted]
    if isinstance(value, list):
        return any(w in value for w in wanted)
    return str(value) in wanted


class VersionsController:
    def index(self, req: Request) -> dict:
        href = f"{req.links.root}/network/v2.0/"
        return {"versions": [{"id": "v2.0", "status": "CURRENT",
                              "links": [{"href": href, "rel": "self"}]}]}


class NetworksController:
    def index(self, req: Request) -> dict:
        return {"networks": _filtered(req, NetworkList.get_all(req.context), network_view)}

    def show(self, req: Request, id: str) -> dict:
        return {"network": network_view(Network.get_by_uuid(req.context, id))}

    def subnets(self, req: Request) -> dict:
        return {"subnets": _filtered(req, NetworkList.get_all(req.context), subnet_view)}

    def ports(self, req: Request) -> dict:
        return {"ports": []}

    def security_groups(self, req: Request) -> dict:
        return {"security_groups": []}

    def extensions(self, req: Request) -> dict:
        return {"extensions": []}

    # NOTE: `openstack quota show` asks the network service too when the
    # catalog has one. novalite limits no network resource: -1 (unlimited).
    def quota(self, req: Request, project_id: str) -> dict:
        return {"quota": dict.fromkeys(_QUOTA_RESOURCES, -1)}

    def quota_default(self, req: Request, project_id: str) -> dict:
        return self.quota(req, project_id)

    def quota_details(self, req: Request, project_id: str) -> dict:
        count = len(NetworkList.get_all(req.context))
        used = {"network": count, "subnet": count}
        return {"quota": {k: {"limit": -1, "used": used.get(k, 0), "reserved": 0}
                          for k in _QUOTA_RESOURCES}}


_QUOTA_RESOURCES = ("network", "subnet", "port", "router", "floatingip", "security_group",
                    "security_group_rule", "rbac_policy", "subnetpool")
