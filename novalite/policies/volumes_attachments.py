"""os-volume_attachments (Nova's rule names): readers list and show,
members attach, detach and update, swapping a volume is for admins."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

VOLUME_ATTACHMENTS = "os_compute_api:os-volumes-attachments:%s"

_PATH = "/servers/{server_id}/os-volume_attachments"

rules: list[policy.RuleDefault] = [
    base.rule(VOLUME_ATTACHMENTS % "index", base.PROJECT_READER_OR_ADMIN,
              "List the volumes attached to a server", [("GET", _PATH)]),
    base.rule(VOLUME_ATTACHMENTS % "show", base.PROJECT_READER_OR_ADMIN,
              "Show a volume attachment of a server", [("GET", _PATH + "/{volume_id}")]),
    base.rule(VOLUME_ATTACHMENTS % "create", base.PROJECT_MEMBER_OR_ADMIN,
              "Attach a volume to a server", [("POST", _PATH)]),
    base.rule(VOLUME_ATTACHMENTS % "update", base.PROJECT_MEMBER_OR_ADMIN,
              "Update a volume attachment (delete_on_termination, 2.85)",
              [("PUT", _PATH + "/{volume_id}")]),
    base.rule(VOLUME_ATTACHMENTS % "swap", base.ADMIN,
              "Swap a server's volume for another", [("PUT", _PATH + "/{volume_id}")]),
    base.rule(VOLUME_ATTACHMENTS % "delete", base.PROJECT_MEMBER_OR_ADMIN,
              "Detach a volume from a server", [("DELETE", _PATH + "/{volume_id}")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
