"""``/servers/{id}/ips`` and ``/servers/{id}/ips/{network_label}``: a
server's addresses per network, as Nova's ips controller (each address with
its version only; the server view adds the OS-EXT-IPS fields)."""

from __future__ import annotations

from typing import Any

from novalite import policy
from novalite.api import errors
from novalite.api.compute.servers import target_of
from novalite.api.views import servers as views
from novalite.api.wsgi import Request
from novalite.policies.servers import IPS


class ServerIpsController:
    def __init__(self, compute_api: Any) -> None:
        self.compute_api = compute_api

    def _addresses(self, req: Request, server_id: str, rule: str) -> dict[str, list[dict]]:
        # NOTE: the lookup first (404 for another project's server), then policy.
        instance = self.compute_api.get(req.context, server_id)
        policy.authorize(req.context, IPS % rule, target_of(instance))
        ports = views.addresses_of([instance]).get(instance.uuid, [])
        return views.plain_addresses(ports)

    def index(self, req: Request, server_id: str) -> dict:
        return {"addresses": self._addresses(req, server_id, "index")}

    def show(self, req: Request, server_id: str, network_label: str) -> dict:
        addresses = self._addresses(req, server_id, "show")
        if network_label not in addresses:
            raise errors.not_found(f"There's no network with label {network_label!r} "
                                   "for this server")
        return {network_label: addresses[network_label]}
