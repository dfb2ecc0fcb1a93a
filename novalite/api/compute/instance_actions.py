"""/servers/{id}/os-instance-actions: what was done to a server and how each
step went (Nova's instance actions at 2.1). Compute records the actions and
their events through the InstanceAction objects (via the conductor); the API
reads them through the same objects."""

from __future__ import annotations

from typing import Any

from novalite import exception, policy
from novalite.api import validation
from novalite.api.compute.servers import target_of
from novalite.api.schemas import server_responses as responses
from novalite.api.views.common import naive_isotime
from novalite.api.wsgi import Request
from novalite.objects.instance_action import (
    InstanceAction,
    InstanceActionEventList,
    InstanceActionList,
)
from novalite.policies import servers as sp

_ACTION_KEYS = ("action", "instance_uuid", "message", "project_id", "request_id", "user_id")


def _action(action: InstanceAction) -> dict:
    out = {k: action.get(k) for k in _ACTION_KEYS}
    out["start_time"] = naive_isotime(action.get("start_time"))
    return out


def _event(event: Any) -> dict:
    return {"event": event.event, "start_time": naive_isotime(event.get("start_time")),
            "finish_time": naive_isotime(event.get("finish_time")),
            "result": event.get("result"), "traceback": event.get("traceback")}


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
        actions = InstanceActionList.get_by_instance_uuid(req.context, instance.uuid)
        return {"instanceActions": [_action(a) for a in actions]}

    @validation.response_schema(responses.instance_action_response)
    def show(self, req: Request, server_id: str, id: str) -> dict:
        instance = self._instance(req, server_id)
        found = InstanceAction.get_by_request_id(req.context, instance.uuid, id)
        if found is None:
            raise exception.InstanceActionNotFound(request_id=id, instance_uuid=instance.uuid)
        action = _action(found)
        # NOTE: at 2.1 Nova shows the events (with tracebacks) to admins only.
        if policy.check_is_admin(req.context):
            events = InstanceActionEventList.get_by_action(req.context, found.id)
            action["events"] = [_event(e) for e in events]
        return {"instanceAction": action}
