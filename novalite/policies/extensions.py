"""The API extensions list (Nova's rule name): any authenticated caller."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

EXTENSIONS = "os_compute_api:extensions"

rules: list[policy.RuleDefault] = [
    base.rule(EXTENSIONS, "@", "List the API extensions, or show one",
              [("GET", "/extensions"), ("GET", "/extensions/{alias}")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
