"""Admin actions on servers (Nova's os-admin-actions rule names)."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

RESET_STATE = "os_compute_api:os-admin-actions:reset_state"

rules: list[policy.RuleDefault] = [
    base.rule(RESET_STATE, base.ADMIN, "Reset the state of a given server",
              [("POST", "/servers/{server_id}/action (os-resetState)")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
