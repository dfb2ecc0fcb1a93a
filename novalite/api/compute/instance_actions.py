"""/servers/{id}/os-instance-actions: what was done to a server and how each
step went, as Nova's instance actions at each microversion: 2.21 a deleted
server's too, 2.51 events for every reader (tracebacks for admins), 2.58
``updated_at``, paging and ``changes-since``, 2.62 an event's ``hostId``
(and ``host`` for admins), 2.66 ``changes-before``, 2.84 an event's
``details`` (every reader: written for users; the timeline's steps,
novalite/compute/timeline.py). Compute records the actions and their events
through the InstanceAction objects (via the conductor); the API reads them
through the same objects."""

from __future__ import annotations

from typing import Any

from novalite import exception, policy
from novalite.api import common, errors, validation
from novalite.api.compute.servers import target_of
from novalite.api.schemas import server_responses as responses
from novalite.api.views.common import naive_isotime
from novalite.api.views.servers import host_id
from novalite.api.wsgi import Request
from novalite.objects.instance import Instance
from novalite.objects.instance_action import (
    InstanceAction,
    InstanceActionEventList,
    InstanceActionList,
)
from novalite.policies import servers as sp

_ACTION_KEYS = ("action", "instance_uuid", "message", "project_id", "request_id", "user_id")


def _updated_at(action: InstanceAction) -> Any:
    # NOTE: novalite's actions have no updated_at column: an action last
    # changes when it finishes (its last event), else when it started.
    return action.get("finish_time") or action.get("start_time")


def _action(action: InstanceAction, version: Any = None) -> dict:
    out = {k: action.get(k) for k in _ACTION_KEYS}
    out["start_time"] = naive_isotime(action.get("start_time"))
    if version is not None and version.at_least("2.58"):
        out["updated_at"] = naive_isotime(_updated_at(action))
    return out


def _event(event: Any, project_id: str | None, admin: bool, version: Any = None) -> dict:
    at = version.at_least if version is not None else (lambda _v: False)
    out = {"event": event.event, "start_time": naive_isotime(event.get("start_time")),
           "finish_time": naive_isotime(event.get("finish_time")),
           "result": event.get("result")}
    if admin:
        out["traceback"] = event.get("traceback")
    if at("2.62"):
        if admin:
            out["host"] = event.get("host")
        out["hostId"] = host_id(project_id, event.get("host"))
    if at("2.84"):
        # NOTE: as Nova's: every reader; what is recorded there is written
        # for users (the traceback and host have the rest, for admins).
        out["details"] = event.get("details")
    return out


class InstanceActionsController:
    def __init__(self, compute_api: Any) -> None:
        self.compute_api = compute_api

    def _instance(self, req: Request, server_id: str) -> Any:
        if req.api_version.at_least("2.21"):
            # NOTE: 2.21: a deleted server's actions too.
            ctx = req.context
            project_id = None if policy.check_is_admin(ctx) else ctx.project_id
            instance = Instance.get_by_uuid(ctx, server_id, read_deleted=True,
                                            project_id=project_id)
        else:
            instance = self.compute_api.get(req.context, server_id)
        policy.authorize(req.context, sp.SERVERS % "show", target_of(instance))
        return instance

    @validation.strict_query("2.58", ("limit", "marker", "changes-since", "changes-before"))
    @validation.response_schema(responses.instance_actions_response)
    def index(self, req: Request, server_id: str) -> dict:
        instance = self._instance(req, server_id)
        version = req.api_version
        actions = list(InstanceActionList.get_by_instance_uuid(req.context, instance.uuid))
        body: dict = {}
        if version.at_least("2.58"):
            actions, body = _page(req, server_id, actions)
        return {"instanceActions": [_action(a, version) for a in actions], **body}

    @validation.response_schema(responses.instance_action_response)
    def show(self, req: Request, server_id: str, id: str) -> dict:
        instance = self._instance(req, server_id)
        version = req.api_version
        found = InstanceAction.get_by_request_id(req.context, instance.uuid, id)
        if found is None:
            raise exception.InstanceActionNotFound(request_id=id, instance_uuid=instance.uuid)
        action = _action(found, version)
        # NOTE: at 2.1 Nova shows the events (with tracebacks) to admins
        # only; from 2.51 to every reader, tracebacks still to admins only.
        admin = policy.check_is_admin(req.context)
        if admin or version.at_least("2.51"):
            events = InstanceActionEventList.get_by_action(req.context, found.id)
            project_id = found.get("project_id") or instance.project_id
            action["events"] = [_event(e, project_id, admin, version) for e in events]
        return {"instanceAction": action}


def _page(req: Request, server_id: str, actions: list[Any]) -> tuple[list[Any], dict]:
    """2.58's ``changes-since``, 2.66's ``changes-before``, then ``limit``
    and ``marker`` (a request id), newest first as listed."""
    since = _time(req, "changes-since")
    if "changes-before" in req.GET and not req.api_version.at_least("2.66"):
        raise validation.query_error("changes-before", req.GET["changes-before"],
                                     "Additional properties are not allowed "
                                     "('changes-before' was unexpected)")
    before = _time(req, "changes-before")
    if since is not None and before is not None and before < since:
        raise errors.bad_request("The value of changes-since must be less than or equal "
                                 "to changes-before.")
    if since is not None:
        actions = [a for a in actions if _naive(_updated_at(a)) >= since]
    if before is not None:
        actions = [a for a in actions if _naive(_updated_at(a)) <= before]
    limit, marker = common.limit_and_marker(req.GET)
    if marker is not None:
        ids = [a.get("request_id") for a in actions]
        if marker not in ids:
            raise errors.bad_request(f"Marker {marker} could not be found.")
        actions = actions[ids.index(marker) + 1:]
    page = actions[:limit]
    body: dict = {}
    if page and len(page) == limit and "limit" in req.GET:
        body["links"] = [req.links.next_link(f"servers/{server_id}/os-instance-actions",
                                             req.GET.items(), page[-1].get("request_id"))]
    return page, body


def _time(req: Request, name: str) -> Any:
    from oslo_utils import timeutils

    value = req.GET.get(name)
    if value is None:
        return None
    try:
        return timeutils.normalize_time(timeutils.parse_isotime(value))
    except ValueError:
        raise validation.query_error(name, value, f"'{value}' is not a 'date-time'") from None


def _naive(value: Any) -> Any:
    import datetime

    from oslo_utils import timeutils

    if value is None:
        return datetime.datetime.min
    return timeutils.normalize_time(value)
