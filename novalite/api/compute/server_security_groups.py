"""A server's security groups through the Compute API (Nova's, with
Neutron's groups behind them): ``GET /servers/{id}/os-security-groups``
and the ``addSecurityGroup`` / ``removeSecurityGroup`` actions, which add
or remove the group (by name or id, the server's project's) on every port
of the server. Unknown group 404; already there / not there 400; a server
without a port that can take groups 400; a name two groups share 409."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema
import webob

from novalite import policy
from novalite.api import errors, validation
from novalite.api.compute.servers import target_of
from novalite.api.wsgi import Request
from novalite.network import neutron_l3
from novalite.policies import security_groups as sgp

Action = tuple[Callable[[Any, Any, Any], Any], Any, str]

# NOTE: as Nova's: checked by hand for its messages, any dict passes here.
_ANY = jsonschema.Draft202012Validator({})


def _name(args: Any) -> str:
    """Nova's _parse: the group's name from the action's body."""
    if not isinstance(args, dict):
        raise errors.bad_request("Missing parameter dict")
    if "name" not in args:
        raise errors.bad_request("Security group not specified")
    name = args["name"]
    if not isinstance(name, str) or not name.strip():
        raise errors.bad_request("Security group name cannot be empty")
    return name.strip()


def group_view(group: dict, links_root: str = "") -> dict:
    """Nova's os-security-groups view of a (Neutron) group."""
    rules = []
    for rule in group["rules"]:
        if rule["direction"] != "ingress":
            continue
        protocol = rule["protocol"]
        entry: dict[str, Any] = {
            "id": rule["uuid"], "parent_group_id": group["uuid"],
            "ip_protocol": protocol.upper() if isinstance(protocol, str) and
            protocol.isalpha() else protocol,
            "from_port": rule["port_range_min"] if rule["port_range_min"] is not None else -1,
            "to_port": rule["port_range_max"] if rule["port_range_max"] is not None else -1,
            "ip_range": {"cidr": rule["remote_ip_prefix"]} if rule["remote_ip_prefix"]
            else {}, "group": {}}
        if rule["remote_group_id"]:
            entry["ip_range"] = {}
            entry["group"] = {"name": group["name"] if rule["remote_group_id"] == group["uuid"]
                              else rule["remote_group_id"],
                              "tenant_id": group["project_id"]}
        rules.append(entry)
    return {"id": group["uuid"], "name": group["name"], "description": group["description"],
            "tenant_id": group["project_id"], "rules": rules}


class ServerSecurityGroupsController:
    def __init__(self, compute_api: Any) -> None:
        self.compute_api = compute_api

    def index(self, req: Request, server_id: str) -> dict:
        instance = self.compute_api.get(req.context, server_id)
        policy.authorize(req.context, sgp.LIST, target_of(instance))
        return {"security_groups": [group_view(g) for g in
                                    neutron_l3.server_group_details(instance.uuid)]}


def actions(compute_api: Any) -> dict[str, Action]:
    def add(req: Any, instance: Any, args: Any) -> webob.Response:
        neutron_l3.server_add_group(instance.uuid, instance.project_id, _name(args))
        return webob.Response(status=202)

    def remove(req: Any, instance: Any, args: Any) -> webob.Response:
        neutron_l3.server_remove_group(instance.uuid, instance.project_id, _name(args))
        return webob.Response(status=202)

    return {"addSecurityGroup": (add, _ANY, sgp.ADD),
            "removeSecurityGroup": (remove, _ANY, sgp.REMOVE)}


__all__ = ["ServerSecurityGroupsController", "actions", "validation"]
