"""The instance usage audit log (Nova's rule names): admins only."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

AUDIT_LOG = "os_compute_api:os-instance-usage-audit-log:%s"

rules: list[policy.RuleDefault] = [
    base.rule(AUDIT_LOG % "list", base.ADMIN, "List the usage audits of the last period",
              [("GET", "/os-instance_usage_audit_log")]),
    base.rule(AUDIT_LOG % "show", base.ADMIN,
              "Show the usage audits of the period before a time",
              [("GET", "/os-instance_usage_audit_log/{before_timestamp}")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
