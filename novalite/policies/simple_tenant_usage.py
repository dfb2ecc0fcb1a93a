"""Usage reports (Nova's rule names and defaults)."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

USAGE = "os_compute_api:os-simple-tenant-usage:%s"

_rule = base.rule

rules: list[policy.RuleDefault] = [
    _rule(USAGE % "show", base.PROJECT_READER_OR_ADMIN, "Show usage statistics for a specific tenant",
          [("GET", "/os-simple-tenant-usage/{tenant_id}")]),
    _rule(USAGE % "list", base.ADMIN, "List per tenant usage statistics for all tenants",
          [("GET", "/os-simple-tenant-usage")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
