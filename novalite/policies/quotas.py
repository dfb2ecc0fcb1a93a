"""Quota sets and quota classes (Nova's rule names): a project reads its own
quotas, admins set them and the classes."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

QUOTA_SETS = "os_compute_api:os-quota-sets:%s"
QUOTA_CLASS_SETS = "os_compute_api:os-quota-class-sets:%s"


_rule = base.rule


rules: list[policy.RuleDefault] = [
    _rule(QUOTA_SETS % "update", base.ADMIN, "Update the quotas of a project",
          [("PUT", "/os-quota-sets/{tenant_id}")]),
    _rule(QUOTA_SETS % "defaults", "@", "List the default quotas",
          [("GET", "/os-quota-sets/{tenant_id}/defaults")]),
    _rule(QUOTA_SETS % "show", base.PROJECT_READER_OR_ADMIN, "Show the quotas of a project",
          [("GET", "/os-quota-sets/{tenant_id}")]),
    _rule(QUOTA_SETS % "delete", base.ADMIN, "Revert the quotas of a project to the defaults",
          [("DELETE", "/os-quota-sets/{tenant_id}")]),
    _rule(QUOTA_SETS % "detail", base.PROJECT_READER_OR_ADMIN,
          "Show the quotas of a project with usage",
          [("GET", "/os-quota-sets/{tenant_id}/detail")]),
    _rule(QUOTA_CLASS_SETS % "show", base.ADMIN, "List quotas for specific quota class",
          [("GET", "/os-quota-class-sets/{quota_class}")]),
    _rule(QUOTA_CLASS_SETS % "update", base.ADMIN, "Update quotas for specific quota class",
          [("PUT", "/os-quota-class-sets/{quota_class}")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
