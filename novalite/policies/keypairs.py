"""Key pairs (Nova's rule names): each user's own, or an admin."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

KEYPAIRS = "os_compute_api:os-keypairs:%s"
# NOTE: the target is the key pair's owner: {"user_id": ...}.
ADMIN_OR_OWNER = f"({base.ADMIN}) or user_id:%(user_id)s"


_rule = base.rule


rules: list[policy.RuleDefault] = [
    _rule(KEYPAIRS % "index", ADMIN_OR_OWNER, "List all key pairs",
          [("GET", "/os-keypairs")]),
    _rule(KEYPAIRS % "create", ADMIN_OR_OWNER, "Create or import a key pair",
          [("POST", "/os-keypairs")]),
    _rule(KEYPAIRS % "show", ADMIN_OR_OWNER, "Show a key pair",
          [("GET", "/os-keypairs/{keypair_name}")]),
    _rule(KEYPAIRS % "delete", ADMIN_OR_OWNER, "Delete a key pair",
          [("DELETE", "/os-keypairs/{keypair_name}")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
