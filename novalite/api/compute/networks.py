"""/os-networks: Nova's deprecated proxy to the network service, served
until 2.35 (404 from 2.36).

Nova answers it from Neutron since nova-network's removal: every field of
the old nova-network view is present, but only ``id`` and ``label`` (the
network's name) carry a value; non-admins see the short field set. novalite
answers from its own networks, which every project may use. What only
nova-network could do (create, delete, associate) is 410 Gone, as in Nova.
"""

from __future__ import annotations

from typing import Any

from novalite import exception, policy
from novalite.api import errors, microversions, validation
from novalite.api.wsgi import Request
from novalite.objects.network import Network, NetworkList
from novalite.policies.networks import NETWORKS

_MAX = "2.35"
_FIELDS = ("id", "cidr", "netmask", "gateway", "broadcast", "dns1", "dns2", "cidr_v6",
           "gateway_v6", "label", "netmask_v6")
_ADMIN_FIELDS = ("created_at", "updated_at", "deleted_at", "deleted", "injected", "bridge",
                 "vlan", "vpn_public_address", "vpn_public_port", "vpn_private_address",
                 "dhcp_start", "project_id", "host", "bridge_interface", "multi_host",
                 "priority", "rxtx_base", "mtu", "dhcp_server", "enable_dhcp",
                 "share_address")
_GONE = ("This API only works with nova-network, which novalite (like Nova since "
         "21.0.0) does not have.")


def _view(ctx: Any, net: Any) -> dict:
    names = _FIELDS + (_ADMIN_FIELDS if ctx.is_admin else ())
    out: dict[str, Any] = dict.fromkeys(names)
    out.update(id=net["uuid"], label=net["name"])
    return out


class NetworksController:
    @microversions.versioned(max_version=_MAX)
    def index(self, req: Request) -> dict:
        """The networks the caller's project may use."""
        ctx = req.context
        policy.authorize(ctx, NETWORKS % "list", {"project_id": ctx.project_id})
        return {"networks": [_view(ctx, n) for n in NetworkList.get_all(ctx)]}

    @microversions.versioned(max_version=_MAX)
    def show(self, req: Request, id: str) -> dict:
        """One network by id."""
        ctx = req.context
        policy.authorize(ctx, NETWORKS % "show", {"project_id": ctx.project_id})
        try:
            net = Network.get_by_uuid(ctx, id)
        except exception.NetworkNotFound:
            raise errors.not_found(f"Network {id} not found") from None
        return {"network": _view(ctx, net)}

    @validation.openapi(responses={"410": {
        "description": "nova-network's API, removed (as in Nova since 21.0.0)",
        "content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/NovaError"}}}}})
    def gone(self, req: Request, **_kw: Any) -> None:
        """nova-network's create, delete, add and associate actions: 410."""
        raise errors.HTTPError(410, _GONE)
