"""Rules of what later microversions added: host status (2.16), the
flavor's extra specs in the server (2.47), server tags (2.26), a requested
destination on create (2.74), live migration force complete and
abort (2.22, 2.24), trusted image certificates (2.63) and flavor updates (2.55), with Nova's names
and defaults."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

HOST_STATUS = "os_compute_api:servers:show:host_status"
FLAVOR_EXTRA_SPECS = "os_compute_api:servers:show:flavor-extra-specs"
REQUESTED_DESTINATION = "compute:servers:create:requested_destination"
# NOTE: Nova 2025 makes these two PROJECT_MANAGER_OR_ADMIN; novalite has no
# manager role yet, so they stay admin's.
MIGRATIONS_FORCE_COMPLETE = "os_compute_api:servers:migrations:force_complete"
MIGRATIONS_DELETE = "os_compute_api:servers:migrations:delete"
TRUSTED_CERTS_CREATE = "os_compute_api:servers:create:trusted_certs"
TRUSTED_CERTS_REBUILD = "os_compute_api:servers:rebuild:trusted_certs"
TAGS = "os_compute_api:os-server-tags:%s"
FLAVOR_UPDATE = "os_compute_api:os-flavor-manage:update"

_rule = base.rule

rules: list[policy.RuleDefault] = [
    _rule(HOST_STATUS, base.ADMIN, "Show the host status of a server (2.16)",
          [("GET", "/servers/{server_id}"), ("GET", "/servers/detail"),
           ("PUT", "/servers/{server_id}")]),
    _rule(FLAVOR_EXTRA_SPECS, base.PROJECT_READER_OR_ADMIN,
          "Show the extra specs of the server's flavor (2.47)",
          [("GET", "/servers/{server_id}"), ("GET", "/servers/detail"),
           ("PUT", "/servers/{server_id}")]),
    _rule(REQUESTED_DESTINATION, base.ADMIN,
          "Ask for a host and/or node when creating a server (2.74)", [("POST", "/servers")]),
    _rule(TRUSTED_CERTS_CREATE, base.PROJECT_MEMBER_OR_ADMIN,
          "Create a server with trusted image certificate ids (2.63)", [("POST", "/servers")]),
    _rule(TRUSTED_CERTS_REBUILD, base.PROJECT_MEMBER_OR_ADMIN,
          "Rebuild a server with trusted image certificate ids (2.63)",
          [("POST", "/servers/{server_id}/action (rebuild)")]),
    _rule(MIGRATIONS_FORCE_COMPLETE, base.ADMIN,
          "Force a server's in-progress live migration to complete (2.22)",
          [("POST", "/servers/{server_id}/migrations/{migration_id}/action (force_complete)")]),
    _rule(MIGRATIONS_DELETE, base.ADMIN,
          "Abort a server's in-progress live migration (2.24, 2.65)",
          [("DELETE", "/servers/{server_id}/migrations/{migration_id}")]),
    _rule(FLAVOR_UPDATE, base.ADMIN, "Update a flavor's description (2.55)",
          [("PUT", "/flavors/{flavor_id}")]),
    _rule(TAGS % "index", base.PROJECT_READER_OR_ADMIN, "List the tags of a server",
          [("GET", "/servers/{server_id}/tags")]),
    _rule(TAGS % "show", base.PROJECT_READER_OR_ADMIN, "Check a tag of a server",
          [("GET", "/servers/{server_id}/tags/{tag}")]),
    _rule(TAGS % "update_all", base.PROJECT_MEMBER_OR_ADMIN, "Replace the tags of a server",
          [("PUT", "/servers/{server_id}/tags")]),
    _rule(TAGS % "update", base.PROJECT_MEMBER_OR_ADMIN, "Add a tag to a server",
          [("PUT", "/servers/{server_id}/tags/{tag}")]),
    _rule(TAGS % "delete", base.PROJECT_MEMBER_OR_ADMIN, "Remove a tag from a server",
          [("DELETE", "/servers/{server_id}/tags/{tag}")]),
    _rule(TAGS % "delete_all", base.PROJECT_MEMBER_OR_ADMIN,
          "Remove every tag from a server", [("DELETE", "/servers/{server_id}/tags")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
