"""GET /servers/{server_id}/diagnostics: what the hypervisor measures of a
running guest (admins only). From 2.48 every driver answers Nova's standard
format; before it, the flat per-hypervisor form (libvirt's keys).

409 while the server has no host or its guest is not running, as Nova; 501
when the host's driver cannot describe guests.
"""

from __future__ import annotations

from typing import Any

from novalite import policy
from novalite.api import errors
from novalite.api.compute.servers import target_of
from novalite.api.wsgi import Request
from novalite.policies.server_diagnostics import SERVER_DIAGNOSTICS
from novalite.virt import diagnostics


class ServerDiagnosticsController:
    def __init__(self, compute_api: Any) -> None:
        self.compute_api = compute_api

    def index(self, req: Request, server_id: str) -> dict:
        """The server's diagnostics (2.48: the standard format)."""
        instance = self.compute_api.get(req.context, server_id)
        policy.authorize(req.context, SERVER_DIAGNOSTICS, target_of(instance))
        try:
            diag = self.compute_api.get_instance_diagnostics(req.context, instance)
        except NotImplementedError:
            raise errors.HTTPError(501, "Unable to get diagnostics, functionality not "
                                        "implemented") from None
        if req.api_version.at_least("2.48"):
            return diag
        return diagnostics.legacy(diag)
