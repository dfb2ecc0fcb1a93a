"""Hypervisors (Nova's rule names): admins only."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

HYPERVISORS = "os_compute_api:os-hypervisors:%s"


_rule = base.rule


rules: list[policy.RuleDefault] = [
    _rule(HYPERVISORS % "list", base.ADMIN, "List all hypervisors",
          [("GET", "/os-hypervisors")]),
    _rule(HYPERVISORS % "list-detail", base.ADMIN, "List all hypervisors with details",
          [("GET", "/os-hypervisors/detail")]),
    _rule(HYPERVISORS % "statistics", base.ADMIN, "Show summary statistics of all hypervisors",
          [("GET", "/os-hypervisors/statistics")]),
    _rule(HYPERVISORS % "show", base.ADMIN, "Show a hypervisor",
          [("GET", "/os-hypervisors/{hypervisor_id}")]),
    _rule(HYPERVISORS % "uptime", base.ADMIN, "Show the uptime of a hypervisor",
          [("GET", "/os-hypervisors/{hypervisor_id}/uptime")]),
    _rule(HYPERVISORS % "search", base.ADMIN, "Search hypervisors by host name",
          [("GET", "/os-hypervisors/{hypervisor_hostname_pattern}/search")]),
    _rule(HYPERVISORS % "servers", base.ADMIN, "List the servers on hypervisors",
          [("GET", "/os-hypervisors/{hypervisor_hostname_pattern}/servers")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
