"""createImage, createBackup, shelve, shelveOffload, unshelve, rebuild (Nova's rule names and defaults)."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

CREATE_IMAGE = "os_compute_api:servers:create_image"
CREATE_BACKUP = "os_compute_api:os-create-backup"
SHELVE = "os_compute_api:os-shelve:shelve"
SHELVE_OFFLOAD = "os_compute_api:os-shelve:shelve_offload"
UNSHELVE = "os_compute_api:os-shelve:unshelve"
UNSHELVE_TO_HOST = "os_compute_api:os-shelve:unshelve_to_host"
REBUILD = "os_compute_api:servers:rebuild"

_ACTION = "/servers/{server_id}/action (%s)"

rules: list[policy.RuleDefault] = [
    base.rule(CREATE_IMAGE, base.PROJECT_MEMBER_OR_ADMIN, "Create an image from a server",
              [("POST", _ACTION % "createImage")]),
    base.rule(CREATE_BACKUP, base.PROJECT_MEMBER_OR_ADMIN, "Create a back up of a server",
              [("POST", _ACTION % "createBackup")]),
    base.rule(SHELVE, base.PROJECT_MEMBER_OR_ADMIN, "Shelve server",
              [("POST", _ACTION % "shelve")]),
    # NOTE: as Nova's default: the owner may offload too (project member).
    base.rule(SHELVE_OFFLOAD, base.PROJECT_MEMBER_OR_ADMIN, "Shelf-offload (remove) server",
              [("POST", _ACTION % "shelveOffload")]),
    base.rule(UNSHELVE, base.PROJECT_MEMBER_OR_ADMIN, "Unshelve (restore) shelved server",
              [("POST", _ACTION % "unshelve")]),
    base.rule(UNSHELVE_TO_HOST, base.ADMIN,
              "Unshelve (restore) shelve offloaded server to a specific host",
              [("POST", _ACTION % "unshelve")]),
    base.rule(REBUILD, base.PROJECT_MEMBER_OR_ADMIN, "Rebuild a server",
              [("POST", _ACTION % "rebuild")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
