"""Resize, cold and live migration, evacuation and the migrations lists
(Nova's rule names and defaults)."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

RESIZE = "os_compute_api:servers:resize"
CONFIRM_RESIZE = "os_compute_api:servers:confirm_resize"
REVERT_RESIZE = "os_compute_api:servers:revert_resize"
MIGRATE = "os_compute_api:os-migrate-server:migrate"
MIGRATE_HOST = "os_compute_api:os-migrate-server:migrate:host"
MIGRATE_LIVE = "os_compute_api:os-migrate-server:migrate_live"
MIGRATE_LIVE_HOST = "os_compute_api:os-migrate-server:migrate_live:host"
EVACUATE = "os_compute_api:os-evacuate"
MIGRATIONS_INDEX = "os_compute_api:os-migrations:index"
MIGRATIONS_INDEX_ALL_PROJECTS = "os_compute_api:os-migrations:index:all_projects"
MIGRATIONS_INDEX_HOST = "os_compute_api:os-migrations:index:host"
SERVER_MIGRATIONS_INDEX = "os_compute_api:servers:migrations:index"
SERVER_MIGRATIONS_INDEX_HOST = "os_compute_api:servers:migrations:index:host"
SERVER_MIGRATIONS_SHOW = "os_compute_api:servers:migrations:show"

_ACTION = "/servers/{server_id}/action"

rules: list[policy.RuleDefault] = [
    base.rule(RESIZE, base.PROJECT_MEMBER_OR_ADMIN, "Resize a server",
              [("POST", f"{_ACTION} (resize)")]),
    base.rule(CONFIRM_RESIZE, base.PROJECT_MEMBER_OR_ADMIN, "Confirm a server's resize",
              [("POST", f"{_ACTION} (confirmResize)")]),
    base.rule(REVERT_RESIZE, base.PROJECT_MEMBER_OR_ADMIN, "Revert a server's resize",
              [("POST", f"{_ACTION} (revertResize)")]),
    # NOTE: Nova 2025's defaults: a project manager moves its project's
    # servers where the scheduler chooses; naming the host stays admin's.
    base.rule(MIGRATE, base.PROJECT_MANAGER_OR_ADMIN,
              "Cold migrate a server to a host chosen by the scheduler",
              [("POST", f"{_ACTION} (migrate)")]),
    base.rule(MIGRATE_HOST, base.ADMIN, "Cold migrate a server to a given host (2.56)",
              [("POST", f"{_ACTION} (migrate)")]),
    base.rule(MIGRATE_LIVE, base.PROJECT_MANAGER_OR_ADMIN,
              "Live migrate a server to a new host without specifying a host",
              [("POST", f"{_ACTION} (os-migrateLive)")]),
    base.rule(MIGRATE_LIVE_HOST, base.ADMIN, "Live migrate a server to a specified host",
              [("POST", f"{_ACTION} (os-migrateLive)")]),
    base.rule(EVACUATE, base.ADMIN, "Evacuate a server from a failed host to a new host",
              [("POST", f"{_ACTION} (evacuate)")]),
    base.rule(MIGRATIONS_INDEX, base.PROJECT_MANAGER_OR_ADMIN,
              "List migrations without host info", [("GET", "/os-migrations")]),
    base.rule(MIGRATIONS_INDEX_ALL_PROJECTS, base.ADMIN,
              "List migrations for all or cross projects", [("GET", "/os-migrations")]),
    base.rule(MIGRATIONS_INDEX_HOST, base.ADMIN, "List migrations with host info",
              [("GET", "/os-migrations")]),
    base.rule(SERVER_MIGRATIONS_INDEX, base.PROJECT_MANAGER_OR_ADMIN,
              "List a server's in-progress live migrations without host info",
              [("GET", "/servers/{server_id}/migrations")]),
    base.rule(SERVER_MIGRATIONS_INDEX_HOST, base.ADMIN,
              "List a server's in-progress live migrations with host info",
              [("GET", "/servers/{server_id}/migrations")]),
    base.rule(SERVER_MIGRATIONS_SHOW, base.ADMIN, "Show a server's in-progress live migration",
              [("GET", "/servers/{server_id}/migrations/{migration_id}")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
