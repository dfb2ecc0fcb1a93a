"""os-server-external-events (Nova's rule name): what other services tell
compute about its servers; admins (Nova's service role) only."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

CREATE = "os_compute_api:os-server-external-events:create"

rules: list[policy.RuleDefault] = [
    base.rule(CREATE, base.ADMIN, "Tell compute about events of its servers "
              "(volume-extended, network events)",
              [("POST", "/os-server-external-events")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
