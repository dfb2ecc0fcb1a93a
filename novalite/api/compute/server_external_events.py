"""POST /os-server-external-events: other services tell compute about
events of its servers, as Nova's API (admins: Nova's service role).

Each event names a server and is answered with its own ``code``: 200 (sent
to the server's host), 404 (no such server), 422 (the server has no host
yet). The answer is 200 when every event was accepted, 207 when some
were, 404 (Nova's error body) when none. ``volume-extended`` (2.51; ``tag`` the volume id) makes
the server's host show the guest the volume's new size
(driver.extend_volume). Neutron's network events are accepted and have no
effect: novalite's network service plugs and binds ports itself.
"""

from __future__ import annotations

import copy
from typing import Any

from novalite import exception, policy
from novalite.api import errors, validation, wsgi
from novalite.api.wsgi import Request
from novalite.policies.server_external_events import CREATE

_NETWORK_EVENTS = ["network-changed", "network-vif-plugged", "network-vif-unplugged",
                   "network-vif-deleted"]

create_schema: dict[str, Any] = {
    "type": "object",
    "properties": {
        "events": {
            "type": "array", "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "server_uuid": {"type": "string", "format": "uuid"},
                    "name": {"type": "string", "enum": list(_NETWORK_EVENTS)},
                    "status": {"type": "string",
                               "enum": ["failed", "completed", "in-progress"]},
                    "tag": {"type": "string", "maxLength": 255},
                },
                "required": ["server_uuid", "name"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["events"],
    "additionalProperties": False,
}
create_schema_v251 = copy.deepcopy(create_schema)
create_schema_v251["properties"]["events"]["items"]["properties"]["name"]["enum"].append(
    "volume-extended")

_EVENT = {"type": "object",
          "properties": {"server_uuid": {"type": "string"}, "name": {"type": "string"},
                         "status": {"type": "string"}, "tag": {"type": "string"},
                         "code": {"type": "integer"}},
          "required": ["server_uuid", "name", "status", "code"]}
_RESPONSE = {"type": "object",
             "properties": {"events": {"type": "array", "items": _EVENT}},
             "required": ["events"], "additionalProperties": False}


class ServerExternalEventsController:
    def __init__(self, compute_api: Any) -> None:
        self.compute_api = compute_api

    @validation.schema(create_schema, "2.1", "2.50")
    @validation.schema(create_schema_v251, "2.51")
    @validation.response_schema(_RESPONSE)
    def create(self, req: Request, body: dict) -> Any:
        """Send each event to its server's host; the events with their codes."""
        ctx = req.context
        policy.authorize(ctx, CREATE, {})
        answered = [self._one(ctx, dict(event)) for event in body["events"]]
        accepted = sum(1 for e in answered if e["code"] == 200)
        if not accepted:
            # NOTE: as Nova: no event accepted is a 404 error (itemNotFound),
            # not an events body.
            raise errors.not_found("No instances found for any event")
        return wsgi.json_response({"events": answered},
                                  200 if accepted == len(answered) else 207)

    def _one(self, ctx: Any, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("status", "completed")
        try:
            instance = self.compute_api.get(ctx, event["server_uuid"])
        except exception.InstanceNotFound:
            return {**event, "status": "failed", "code": 404}
        if not instance.host:
            return {**event, "status": "failed", "code": 422}
        if event["name"] == "volume-extended":
            self.compute_api.compute_rpcapi.external_instance_event(
                ctx, instance, event["name"], event.get("tag"))
        return {**event, "code": 200}
