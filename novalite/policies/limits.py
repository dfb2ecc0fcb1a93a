"""Absolute limits (Nova's rule names)."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

LIMITS = "os_compute_api:limits"
OTHER_PROJECT = "os_compute_api:limits:other_project"


_rule = base.rule


rules: list[policy.RuleDefault] = [
    _rule(LIMITS, "@", "Show rate and absolute limits of the caller's project",
          [("GET", "/limits")]),
    _rule(OTHER_PROJECT, base.ADMIN, "Show the limits of another project (tenant_id)",
          [("GET", "/limits")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
