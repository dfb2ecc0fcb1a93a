"""Availability zones (Nova's rule names)."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

AZ = "os_compute_api:os-availability-zone:%s"


_rule = base.rule


rules: list[policy.RuleDefault] = [
    _rule(AZ % "list", "@", "List availability zones", [("GET", "/os-availability-zone")]),
    _rule(AZ % "detail", base.ADMIN, "List availability zones with their hosts and services",
          [("GET", "/os-availability-zone/detail")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
