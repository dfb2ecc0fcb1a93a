"""/servers/{id}/os-instance-actions: what was done to a server and how each
step went (Nova's instance actions at 2.1). Compute records the actions and
their events through the conductor; the API reads them."""

from __future__ import annotations

from typing import Any

from novalite import exception, policy
from novalite.api import validation
from novalite.api.compute.servers import target_of
from novalite.api.schemas import server_responses as responses
from novalite.api.views.common import naive_isotime
from novalite.api.wsgi import Request
from novalite.db import network as db
from novalite.policies import servers as sp

_ACTION_KEYS = ("action", "instance_uuid", "message", "project_id", "request_id", "user_id")


def _action(row: dict) -> dict:
    out = {k: row.get(k) for k in _ACTION_KEYS}
    out["start_time"] = naive_isotime(row.get("start_time"))
    return out


def _event(row: dict) -> dict:
    return {"event": row["event"], "start_time": naive_isotime(row.get("start_time")),
            "finish_time": naive_isotime(row.get("finish_time")), "result": row.get("result"),
            "traceback": row.get("traceback")}


class InstanceActionsController:
    def __init__(self, compute_api: Any) -> None:
        self.compute_api = compute_api

    def _instance(self, req: Request, server_id: str) -> Any:
        instance = self.compute_api.get(req.context, server_id)
        policy.authorize(req.context, sp.SERVERS % "show", target_of(instance))
        return instance

    @validation.response_schema(responses.instance_actions_response)
    def index(self, req: Request, server_id: str) -> dict:
        instance = self._instance(req, server_id)
        return {"instanceActions": [_action(a) for a in db.actions_get(instance.uuid)]}

    @validation.response_schema(responses.instance_action_response)
    def show(self, req: Request, server_id: str, id: str) -> dict:
        instance = self._instance(req, server_id)
        row = db.action_get_by_request_id(instance.uuid, id)
        if row is None:
            raise exception.InstanceActionNotFound(request_id=id, instance_uuid=instance.uuid)
        action = _action(row)
        # NOTE: at 2.1 Nova shows the events (with tracebacks) to admins only.
        if policy.check_is_admin(req.context):
            action["events"] = [_event(e) for e in db.action_events_get(row["id"])]
        return {"instanceAction": action}
