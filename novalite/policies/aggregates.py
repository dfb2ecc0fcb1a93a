"""Host aggregates (Nova's rule names): admins only."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

AGGREGATES = "os_compute_api:os-aggregates:%s"

rules: list[policy.RuleDefault] = [
    policy.DocumentedRuleDefault(
        name=AGGREGATES % "index", check_str=base.ADMIN, description="List all aggregates",
        operations=[{"method": "GET", "path": "/os-aggregates"}],
        scope_types=base.PROJECT_SCOPE),
    policy.DocumentedRuleDefault(
        name=AGGREGATES % "show", check_str=base.ADMIN, description="Show an aggregate",
        operations=[{"method": "GET", "path": "/os-aggregates/{aggregate_id}"}],
        scope_types=base.PROJECT_SCOPE),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
