"""Flavors, their extra specs and flavor management (Nova's rule names).

NOTE: as in Nova, listing and showing flavors needs no rule: every
authenticated caller may."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

EXTRA_SPECS = "os_compute_api:os-flavor-extra-specs:%s"
MANAGE = "os_compute_api:os-flavor-manage:%s"
ACCESS = "os_compute_api:os-flavor-access"


_rule = base.rule


rules: list[policy.RuleDefault] = [
    _rule(EXTRA_SPECS % "index", base.PROJECT_READER_OR_ADMIN,
          "List the extra specs of a flavor", [("GET", "/flavors/{flavor_id}/os-extra_specs")]),
    _rule(EXTRA_SPECS % "show", base.PROJECT_READER_OR_ADMIN,
          "Show an extra spec of a flavor",
          [("GET", "/flavors/{flavor_id}/os-extra_specs/{flavor_extra_spec_key}")]),
    _rule(EXTRA_SPECS % "create", base.ADMIN, "Create extra specs of a flavor",
          [("POST", "/flavors/{flavor_id}/os-extra_specs")]),
    _rule(EXTRA_SPECS % "update", base.ADMIN, "Update an extra spec of a flavor",
          [("PUT", "/flavors/{flavor_id}/os-extra_specs/{flavor_extra_spec_key}")]),
    _rule(EXTRA_SPECS % "delete", base.ADMIN, "Delete an extra spec of a flavor",
          [("DELETE", "/flavors/{flavor_id}/os-extra_specs/{flavor_extra_spec_key}")]),
    _rule(ACCESS, base.ADMIN, "List the projects that may use a private flavor",
          [("GET", "/flavors/{flavor_id}/os-flavor-access")]),
    _rule(ACCESS + ":add_tenant_access", base.ADMIN, "Let a project use a private flavor",
          [("POST", "/flavors/{flavor_id}/action (addTenantAccess)")]),
    _rule(ACCESS + ":remove_tenant_access", base.ADMIN,
          "Stop a project from using a private flavor",
          [("POST", "/flavors/{flavor_id}/action (removeTenantAccess)")]),
    _rule(MANAGE % "create", base.ADMIN, "Create a flavor", [("POST", "/flavors")]),
    _rule(MANAGE % "delete", base.ADMIN, "Delete a flavor",
          [("DELETE", "/flavors/{flavor_id}")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
