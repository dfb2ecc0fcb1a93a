"""Pause, suspend, lock, rescue, password, crash dump and remote console
rules of servers (Nova's rule names and defaults)."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

PAUSE = "os_compute_api:os-pause-server:pause"
UNPAUSE = "os_compute_api:os-pause-server:unpause"
SUSPEND = "os_compute_api:os-suspend-server:suspend"
RESUME = "os_compute_api:os-suspend-server:resume"
LOCK = "os_compute_api:os-lock-server:lock"
UNLOCK = "os_compute_api:os-lock-server:unlock"
UNLOCK_OVERRIDE = "os_compute_api:os-lock-server:unlock:unlock_override"
RESCUE = "os_compute_api:os-rescue"
UNRESCUE = "os_compute_api:os-unrescue"
ADMIN_PASSWORD = "os_compute_api:os-admin-password"
TRIGGER_CRASH_DUMP = "os_compute_api:servers:trigger_crash_dump"
REMOTE_CONSOLES = "os_compute_api:os-remote-consoles"

_ACTION = "/servers/{server_id}/action (%s)"

rules: list[policy.RuleDefault] = [
    base.rule(PAUSE, base.PROJECT_MEMBER_OR_ADMIN, "Pause a server",
              [("POST", _ACTION % "pause")]),
    base.rule(UNPAUSE, base.PROJECT_MEMBER_OR_ADMIN, "Unpause a paused server",
              [("POST", _ACTION % "unpause")]),
    base.rule(SUSPEND, base.PROJECT_MEMBER_OR_ADMIN, "Suspend a server",
              [("POST", _ACTION % "suspend")]),
    base.rule(RESUME, base.PROJECT_MEMBER_OR_ADMIN, "Resume a suspended server",
              [("POST", _ACTION % "resume")]),
    base.rule(LOCK, base.PROJECT_MEMBER_OR_ADMIN, "Lock a server",
              [("POST", _ACTION % "lock")]),
    base.rule(UNLOCK, base.PROJECT_MEMBER_OR_ADMIN, "Unlock a locked server",
              [("POST", _ACTION % "unlock")]),
    base.rule(UNLOCK_OVERRIDE, base.ADMIN,
              "Unlock a server locked by someone else (an admin's lock, for the "
              "server's own project)", [("POST", _ACTION % "unlock")]),
    base.rule(RESCUE, base.PROJECT_MEMBER_OR_ADMIN, "Rescue a server",
              [("POST", _ACTION % "rescue")]),
    base.rule(UNRESCUE, base.PROJECT_MEMBER_OR_ADMIN, "Unrescue a server",
              [("POST", _ACTION % "unrescue")]),
    base.rule(ADMIN_PASSWORD, base.PROJECT_MEMBER_OR_ADMIN,
              "Change the administrative password for a server",
              [("POST", _ACTION % "changePassword")]),
    base.rule(TRIGGER_CRASH_DUMP, base.PROJECT_MEMBER_OR_ADMIN,
              "Trigger a crash dump in a server", [("POST", _ACTION % "trigger_crash_dump")]),
    base.rule(REMOTE_CONSOLES, base.PROJECT_MEMBER_OR_ADMIN,
              "Generate a URL to a server's remote console",
              [("POST", "/servers/{server_id}/remote-consoles"),
               ("POST", _ACTION % "os-getSerialConsole")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
