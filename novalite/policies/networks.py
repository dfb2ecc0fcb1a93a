"""os-networks, the deprecated proxy to the network service (Nova's rule
names): project readers and admins."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

NETWORKS = "os_compute_api:os-networks:%s"

rules: list[policy.RuleDefault] = [
    base.rule(NETWORKS % "list", base.PROJECT_READER_OR_ADMIN,
              "List the networks a project may use (until 2.35)",
              [("GET", "/os-networks")]),
    base.rule(NETWORKS % "show", base.PROJECT_READER_OR_ADMIN,
              "Show a network (until 2.35)", [("GET", "/os-networks/{network_id}")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
