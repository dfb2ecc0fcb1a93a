"""Servers, their metadata and actions (Nova's rule names)."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

SERVERS = "os_compute_api:servers:%s"
METADATA = "os_compute_api:os-server-metadata:%s"
IPS = "os_compute_api:ips:%s"
EXTENDED_ATTRS = "os_compute_api:os-extended-server-attributes"
CONSOLE_OUTPUT = "os_compute_api:os-console-output"
FORCE_DELETE = "os_compute_api:os-deferred-delete:force"
ZERO_DISK_FLAVOR = SERVERS % "create:zero_disk_flavor"


_rule = base.rule


rules: list[policy.RuleDefault] = [
    _rule(SERVERS % "index", base.PROJECT_READER_OR_ADMIN, "List all servers",
          [("GET", "/servers")]),
    _rule(SERVERS % "detail", base.PROJECT_READER_OR_ADMIN,
          "List all servers with detailed information", [("GET", "/servers/detail")]),
    _rule(SERVERS % "index:get_all_tenants", base.ADMIN,
          "List all servers for all projects", [("GET", "/servers")]),
    _rule(SERVERS % "detail:get_all_tenants", base.ADMIN,
          "List all servers with detailed information for all projects",
          [("GET", "/servers/detail")]),
    _rule(SERVERS % "allow_all_filters", base.ADMIN,
          "Allow all filters when listing servers (host, node, ...)",
          [("GET", "/servers"), ("GET", "/servers/detail")]),
    _rule(SERVERS % "show", base.PROJECT_READER_OR_ADMIN, "Show a server",
          [("GET", "/servers/{server_id}")]),
    _rule(SERVERS % "create", base.PROJECT_MEMBER_OR_ADMIN, "Create a server",
          [("POST", "/servers")]),
    _rule(ZERO_DISK_FLAVOR, base.ADMIN,
          "Create an image-backed server with a flavor that has 0 disk. Its root disk then "
          "takes the image's virtual size (claimed on the host, so the scheduler and the "
          "compute host refuse one larger than the free disk). WARNING: if users may upload "
          "their own images, opening this rule lets them take as much host disk as an image "
          "claims (Nova bug 1739646).", [("POST", "/servers")]),
    _rule(SERVERS % "update", base.PROJECT_MEMBER_OR_ADMIN, "Update a server",
          [("PUT", "/servers/{server_id}")]),
    _rule(SERVERS % "delete", base.PROJECT_MEMBER_OR_ADMIN, "Delete a server",
          [("DELETE", "/servers/{server_id}")]),
    _rule(SERVERS % "reboot", base.PROJECT_MEMBER_OR_ADMIN, "Reboot a server",
          [("POST", "/servers/{server_id}/action (reboot)")]),
    _rule(SERVERS % "start", base.PROJECT_MEMBER_OR_ADMIN, "Start a server",
          [("POST", "/servers/{server_id}/action (os-start)")]),
    _rule(SERVERS % "stop", base.PROJECT_MEMBER_OR_ADMIN, "Stop a server",
          [("POST", "/servers/{server_id}/action (os-stop)")]),
    _rule(CONSOLE_OUTPUT, base.PROJECT_MEMBER_OR_ADMIN, "Show console output for a server",
          [("POST", "/servers/{server_id}/action (os-getConsoleOutput)")]),
    _rule(FORCE_DELETE, base.PROJECT_MEMBER_OR_ADMIN, "Force delete a server before "
          "deferred cleanup", [("POST", "/servers/{server_id}/action (forceDelete)")]),
    _rule(EXTENDED_ATTRS, base.ADMIN, "Return extended attributes (OS-EXT-SRV-ATTR:*) "
          "of servers", [("GET", "/servers/{id}"), ("GET", "/servers/detail"),
                         ("PUT", "/servers/{server_id}")]),
    _rule(METADATA % "index", base.PROJECT_READER_OR_ADMIN, "List all metadata of a server",
          [("GET", "/servers/{server_id}/metadata")]),
    _rule(METADATA % "show", base.PROJECT_READER_OR_ADMIN, "Show metadata for a server",
          [("GET", "/servers/{server_id}/metadata/{key}")]),
    _rule(METADATA % "create", base.PROJECT_MEMBER_OR_ADMIN,
          "Create metadata for a server", [("POST", "/servers/{server_id}/metadata")]),
    _rule(METADATA % "update_all", base.PROJECT_MEMBER_OR_ADMIN,
          "Replace metadata for a server", [("PUT", "/servers/{server_id}/metadata")]),
    _rule(METADATA % "update", base.PROJECT_MEMBER_OR_ADMIN,
          "Update metadata from a server", [("PUT", "/servers/{server_id}/metadata/{key}")]),
    _rule(METADATA % "delete", base.PROJECT_MEMBER_OR_ADMIN,
          "Delete metadata from a server",
          [("DELETE", "/servers/{server_id}/metadata/{key}")]),
    _rule(IPS % "index", base.PROJECT_READER_OR_ADMIN, "List IP addresses of a server",
          [("GET", "/servers/{server_id}/ips")]),
    _rule(IPS % "show", base.PROJECT_READER_OR_ADMIN,
          "Show the IP addresses of a server on one network",
          [("GET", "/servers/{server_id}/ips/{network_label}")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
