"""Server diagnostics (Nova's rule name): admins only."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

SERVER_DIAGNOSTICS = "os_compute_api:os-server-diagnostics"

rules: list[policy.RuleDefault] = [
    base.rule(SERVER_DIAGNOSTICS, base.ADMIN, "Show the usage data of a server's guest",
              [("GET", "/servers/{server_id}/diagnostics")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
