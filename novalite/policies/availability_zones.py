"""Availability zones (Nova's rule names)."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

AZ = "os_compute_api:os-availability-zone:%s"


def _rule(name: str, check: str, description: str, operations: list[tuple[str, str]],
          ) -> policy.DocumentedRuleDefault:
    return policy.DocumentedRuleDefault(
        name=name, check_str=check, description=description,
        operations=[{"method": m, "path": p} for m, p in operations],
        scope_types=base.PROJECT_SCOPE)


rules: list[policy.RuleDefault] = [
    _rule(AZ % "list", "@", "List availability zones", [("GET", "/os-availability-zone")]),
    _rule(AZ % "detail", base.ADMIN, "List availability zones with their hosts and services",
          [("GET", "/os-availability-zone/detail")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
