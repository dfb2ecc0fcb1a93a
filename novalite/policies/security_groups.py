"""A server's security groups through the Compute API (Nova's rule names
and defaults): list them, add one, remove one."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

LIST = "os_compute_api:os-security-groups:list"
ADD = "os_compute_api:os-security-groups:add"
REMOVE = "os_compute_api:os-security-groups:remove"

rules: list[policy.RuleDefault] = [
    base.rule(LIST, base.PROJECT_READER_OR_ADMIN, "List security groups of a server",
              [("GET", "/servers/{server_id}/os-security-groups")]),
    base.rule(ADD, base.PROJECT_MEMBER_OR_ADMIN, "Add a security group to a server",
              [("POST", "/servers/{server_id}/action (addSecurityGroup)")]),
    base.rule(REMOVE, base.PROJECT_MEMBER_OR_ADMIN, "Remove a security group from a server",
              [("POST", "/servers/{server_id}/action (removeSecurityGroup)")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
