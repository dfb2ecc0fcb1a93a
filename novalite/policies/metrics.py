"""GET /metrics: every authenticated caller may scrape; this rule decides
who sees everything (host, process and every project's series); any other
caller sees only the series labelled with its own project."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

METRICS_ALL = "novalite:metrics:all"

rules: list[policy.RuleDefault] = [
    base.rule(METRICS_ALL, base.ADMIN,
              "See every series on /metrics (hosts, services, processes, every project); "
              "others see their own project's only", [("GET", "/metrics")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
