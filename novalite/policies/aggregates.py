"""Host aggregates (Nova's rule names): admins only."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

AGGREGATES = "os_compute_api:os-aggregates:%s"

_rule = base.rule

rules: list[policy.RuleDefault] = [
    _rule(AGGREGATES % "index", base.ADMIN, "List all aggregates",
          [("GET", "/os-aggregates")]),
    _rule(AGGREGATES % "create", base.ADMIN, "Create an aggregate",
          [("POST", "/os-aggregates")]),
    _rule(AGGREGATES % "show", base.ADMIN, "Show details for an aggregate",
          [("GET", "/os-aggregates/{aggregate_id}")]),
    _rule(AGGREGATES % "update", base.ADMIN, "Update name and/or availability zone",
          [("PUT", "/os-aggregates/{aggregate_id}")]),
    _rule(AGGREGATES % "delete", base.ADMIN, "Delete an aggregate",
          [("DELETE", "/os-aggregates/{aggregate_id}")]),
    _rule(AGGREGATES % "add_host", base.ADMIN, "Add a host to an aggregate",
          [("POST", "/os-aggregates/{aggregate_id}/action (add_host)")]),
    _rule(AGGREGATES % "remove_host", base.ADMIN, "Remove a host from an aggregate",
          [("POST", "/os-aggregates/{aggregate_id}/action (remove_host)")]),
    _rule(AGGREGATES % "set_metadata", base.ADMIN, "Create or replace metadata for an aggregate",
          [("POST", "/os-aggregates/{aggregate_id}/action (set_metadata)")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
