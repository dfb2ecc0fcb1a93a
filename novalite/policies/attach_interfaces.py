"""A server's interfaces (os-interface), Nova's rule names and defaults:
list and show for the project's readers, attach and detach for its members."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

ROOT = "os_compute_api:os-attach-interfaces:%s"
LIST = ROOT % "list"
SHOW = ROOT % "show"
CREATE = ROOT % "create"
DELETE = ROOT % "delete"

rules: list[policy.RuleDefault] = [
    base.rule(LIST, base.PROJECT_READER_OR_ADMIN, "List port interfaces attached to a server",
              [("GET", "/servers/{server_id}/os-interface")]),
    base.rule(SHOW, base.PROJECT_READER_OR_ADMIN, "Show details of a port interface",
              [("GET", "/servers/{server_id}/os-interface/{port_id}")]),
    base.rule(CREATE, base.PROJECT_MEMBER_OR_ADMIN, "Attach an interface to a server",
              [("POST", "/servers/{server_id}/os-interface")]),
    base.rule(DELETE, base.PROJECT_MEMBER_OR_ADMIN, "Detach an interface from a server",
              [("DELETE", "/servers/{server_id}/os-interface/{port_id}")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
