"""Restoring a soft-deleted server (Nova's rule name): members and admins."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

RESTORE = "os_compute_api:os-deferred-delete:restore"

rules: list[policy.RuleDefault] = [
    base.rule(RESTORE, base.PROJECT_MEMBER_OR_ADMIN, "Restore a soft deleted server",
              [("POST", "/servers/{server_id}/action (restore)")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
