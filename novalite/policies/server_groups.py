"""Server groups (Nova's rule names and defaults)."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

SERVER_GROUPS = "os_compute_api:os-server-groups:%s"

_rule = base.rule

rules: list[policy.RuleDefault] = [
    _rule(SERVER_GROUPS % "create", base.PROJECT_MEMBER, "Create a new server group",
          [("POST", "/os-server-groups")]),
    _rule(SERVER_GROUPS % "delete", base.PROJECT_MEMBER_OR_ADMIN, "Delete a server group",
          [("DELETE", "/os-server-groups/{server_group_id}")]),
    _rule(SERVER_GROUPS % "index", base.PROJECT_READER_OR_ADMIN,
          "List all server groups", [("GET", "/os-server-groups")]),
    _rule(SERVER_GROUPS % "index:all_projects", base.ADMIN,
          "List all server groups for all projects", [("GET", "/os-server-groups")]),
    _rule(SERVER_GROUPS % "show", base.PROJECT_READER_OR_ADMIN, "Show details of a server group",
          [("GET", "/os-server-groups/{server_group_id}")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
