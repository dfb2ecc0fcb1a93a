"""The Block Storage API's rules (Cinder's names and defaults): a project's
readers see its volumes, snapshots and attachments, its members change them,
admins do anything (and the admin-only actions: reset status, quota changes,
another project's resources). A volume of another project is not found
(404) whatever the verb: the API checks the owner before these rules."""

from __future__ import annotations

from oslo_policy import policy

from novalite.policies import base

_V3 = "/volume/v3/{project_id}"

rules: list[policy.RuleDefault] = [
    base.rule("volume:get", base.PROJECT_READER_OR_ADMIN, "Show a volume",
              [("GET", f"{_V3}/volumes/{{volume_id}}")]),
    base.rule("volume:get_all", base.PROJECT_READER_OR_ADMIN, "List volumes",
              [("GET", f"{_V3}/volumes"), ("GET", f"{_V3}/volumes/detail")]),
    base.rule("volume:create", base.PROJECT_MEMBER_OR_ADMIN,
              "Create a volume (empty, from an image, a snapshot or a volume)",
              [("POST", f"{_V3}/volumes")]),
    base.rule("volume:update", base.PROJECT_MEMBER_OR_ADMIN,
              "Update a volume's name, description or metadata",
              [("PUT", f"{_V3}/volumes/{{volume_id}}")]),
    base.rule("volume:delete", base.PROJECT_MEMBER_OR_ADMIN, "Delete a volume",
              [("DELETE", f"{_V3}/volumes/{{volume_id}}")]),
    base.rule("volume:extend", base.PROJECT_MEMBER_OR_ADMIN, "Extend a volume",
              [("POST", f"{_V3}/volumes/{{volume_id}}/action (os-extend)")]),
    base.rule("volume:extend_attached_volume", base.PROJECT_MEMBER_OR_ADMIN,
              "Extend an attached volume (3.42+)",
              [("POST", f"{_V3}/volumes/{{volume_id}}/action (os-extend)")]),
    base.rule("volume:revert_to_snapshot", base.PROJECT_MEMBER_OR_ADMIN,
              "Revert a volume to its latest snapshot (3.40)",
              [("POST", f"{_V3}/volumes/{{volume_id}}/action (revert)")]),
    base.rule("volume_extension:volume_actions:set_bootable", base.PROJECT_MEMBER_OR_ADMIN,
              "Set a volume's bootable flag",
              [("POST", f"{_V3}/volumes/{{volume_id}}/action (os-set_bootable)")]),
    base.rule("volume_extension:volume_admin_actions:reset_status", base.ADMIN,
              "Reset a volume's status",
              [("POST", f"{_V3}/volumes/{{volume_id}}/action (os-reset_status)")]),
    base.rule("volume_extension:snapshot_admin_actions:reset_status", base.ADMIN,
              "Reset a snapshot's status",
              [("POST", f"{_V3}/snapshots/{{snapshot_id}}/action (os-reset_status)")]),
    base.rule("volume:get_snapshot", base.PROJECT_READER_OR_ADMIN, "Show a snapshot",
              [("GET", f"{_V3}/snapshots/{{snapshot_id}}")]),
    base.rule("volume:get_all_snapshots", base.PROJECT_READER_OR_ADMIN, "List snapshots",
              [("GET", f"{_V3}/snapshots"), ("GET", f"{_V3}/snapshots/detail")]),
    base.rule("volume:create_snapshot", base.PROJECT_MEMBER_OR_ADMIN, "Create a snapshot",
              [("POST", f"{_V3}/snapshots")]),
    base.rule("volume:update_snapshot", base.PROJECT_MEMBER_OR_ADMIN, "Update a snapshot",
              [("PUT", f"{_V3}/snapshots/{{snapshot_id}}")]),
    base.rule("volume:delete_snapshot", base.PROJECT_MEMBER_OR_ADMIN, "Delete a snapshot",
              [("DELETE", f"{_V3}/snapshots/{{snapshot_id}}")]),
    base.rule("volume:attachment_get", base.PROJECT_READER_OR_ADMIN,
              "Show or list attachments",
              [("GET", f"{_V3}/attachments"), ("GET", f"{_V3}/attachments/{{id}}")]),
    base.rule("volume:attachment_create", base.PROJECT_MEMBER_OR_ADMIN,
              "Create an attachment", [("POST", f"{_V3}/attachments")]),
    base.rule("volume:attachment_update", base.PROJECT_MEMBER_OR_ADMIN,
              "Update an attachment with a connector", [("PUT", f"{_V3}/attachments/{{id}}")]),
    base.rule("volume:attachment_complete", base.PROJECT_MEMBER_OR_ADMIN,
              "Complete an attachment",
              [("POST", f"{_V3}/attachments/{{id}}/action (os-complete)")]),
    base.rule("volume:attachment_delete", base.PROJECT_MEMBER_OR_ADMIN,
              "Delete an attachment", [("DELETE", f"{_V3}/attachments/{{id}}")]),
    base.rule("volume_extension:types_get", base.PROJECT_READER_OR_ADMIN,
              "List or show volume types", [("GET", f"{_V3}/types")]),
    base.rule("volume_extension:quotas:show", base.PROJECT_READER_OR_ADMIN,
              "Show a project's quotas (an admin: any project's)",
              [("GET", f"{_V3}/os-quota-sets/{{project_id}}")]),
    base.rule("volume_extension:quotas:update", base.ADMIN, "Update a project's quotas",
              [("PUT", f"{_V3}/os-quota-sets/{{project_id}}")]),
    base.rule("volume_extension:quotas:delete", base.ADMIN,
              "Reset a project's quotas to the defaults",
              [("DELETE", f"{_V3}/os-quota-sets/{{project_id}}")]),
    base.rule("volume_extension:services:index", base.ADMIN, "List the volume services",
              [("GET", f"{_V3}/os-services")]),
    base.rule("scheduler_extension:scheduler_stats:get_pools", base.ADMIN,
              "List the back-end pools and their capacity",
              [("GET", f"{_V3}/scheduler-stats/get_pools")]),
    base.rule("limits_extension:used_limits", base.PROJECT_READER_OR_ADMIN,
              "Show the project's limits and usage", [("GET", f"{_V3}/limits")]),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules
