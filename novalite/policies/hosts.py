"""os-hosts (Nova's rule names, deprecated API): admins only."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

HOSTS = "os_compute_api:os-hosts:%s"

_rule = base.rule

rules: list[policy.RuleDefault] = [
    _rule(HOSTS % "list", base.ADMIN, "List physical hosts (deprecated until 2.42)",
          [("GET", "/os-hosts")]),
    _rule(HOSTS % "show", base.ADMIN, "Show a physical host's resources (until 2.42)",
          [("GET", "/os-hosts/{host_name}")]),
    _rule(HOSTS % "update", base.ADMIN, "Enable or disable a host (until 2.42)",
          [("PUT", "/os-hosts/{host_name}")]),
    _rule(HOSTS % "reboot", base.ADMIN, "Reboot a host (until 2.42)",
          [("GET", "/os-hosts/{host_name}/reboot")]),
    _rule(HOSTS % "shutdown", base.ADMIN, "Shut a host down (until 2.42)",
          [("GET", "/os-hosts/{host_name}/shutdown")]),
    _rule(HOSTS % "start", base.ADMIN, "Start a host (until 2.42)",
          [("GET", "/os-hosts/{host_name}/startup")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
