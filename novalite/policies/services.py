"""Compute services (Nova's rule names): admins only."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

SERVICES = "os_compute_api:os-services:%s"


_rule = base.rule


rules: list[policy.RuleDefault] = [
    _rule(SERVICES % "list", base.ADMIN, "List all running services",
          [("GET", "/os-services")]),
    _rule(SERVICES % "update", base.ADMIN, "Enable or disable a service",
          [("PUT", "/os-services/enable"), ("PUT", "/os-services/disable"),
           ("PUT", "/os-services/disable-log-reason")]),
    _rule(SERVICES % "delete", base.ADMIN, "Delete a service",
          [("DELETE", "/os-services/{service_id}")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
