"""POST /servers/{server_id}/remote-consoles (2.6+): a remote console's
URL. novalite has serial consoles only (the websocket proxy of
novalite/console/serialproxy.py); the other protocols are 400
"Unavailable console type ..." as in a Nova without them."""

from __future__ import annotations

from typing import Any

from novalite import policy
from novalite.api import errors, microversions, validation
from novalite.api.compute.actions_power import serial_console_url
from novalite.api.compute.servers import target_of
from novalite.api.schemas import power_actions as schemas
from novalite.api.wsgi import Request
from novalite.policies import power_actions as pp


class RemoteConsolesController:
    def __init__(self, compute_api: Any) -> None:
        self.compute_api = compute_api

    @microversions.versioned("2.6")
    @validation.versioned_schemas(schemas.REMOTE_CONSOLE_VERSIONS)
    def create(self, req: Request, server_id: str, body: dict) -> dict:
        instance = self.compute_api.get(req.context, server_id)
        policy.authorize(req.context, pp.REMOTE_CONSOLES, target_of(instance))
        protocol = body["remote_console"]["protocol"]
        console_type = body["remote_console"]["type"]
        if protocol != "serial":
            raise errors.bad_request(f"Unavailable console type {console_type}.")
        if console_type != "serial":
            raise errors.bad_request(f"Invalid console type {console_type}")
        url = serial_console_url(self.compute_api, req.context, instance)
        return {"remote_console": {"protocol": protocol, "type": console_type, "url": url}}
