"""Base rules, as Nova's 2025 defaults: project readers read, project
members act, project managers also move their project's servers (without
choosing a host), admins do anything anywhere."""

from __future__ import annotations

from oslo_policy import policy

ADMIN = "rule:context_is_admin"
PROJECT_MEMBER = "rule:project_member_api"
PROJECT_READER = "rule:project_reader_api"
PROJECT_MEMBER_OR_ADMIN = "rule:project_member_or_admin"
PROJECT_READER_OR_ADMIN = "rule:project_reader_or_admin"
PROJECT_MANAGER_OR_ADMIN = "rule:project_manager_or_admin"
ADMIN_API = "rule:admin_api"

# NOTE: every compute API rule applies to project-scoped tokens, as Nova's.
PROJECT_SCOPE = ["project"]

rules = [
    policy.RuleDefault("context_is_admin", "role:admin",
                       "Decides what is required for the 'is_admin:True' check to succeed."),
    policy.RuleDefault("admin_api", "role:admin", "Default rule for administrative APIs."),
    policy.RuleDefault("project_member_api", "role:member and project_id:%(project_id)s",
                       "Default rule for project-level non-admin APIs (members of the "
                       "resource's project)."),
    policy.RuleDefault("project_reader_api", "role:reader and project_id:%(project_id)s",
                       "Default rule for project-level read-only APIs (readers of the "
                       "resource's project)."),
    policy.RuleDefault("project_manager_api", "role:manager and project_id:%(project_id)s",
                       "Default rule for project-level manager APIs (managers of the "
                       "resource's project)."),
    policy.RuleDefault("project_manager_or_admin", "rule:project_manager_api or "
                       "rule:context_is_admin",
                       "Default rule for project manager or admin APIs."),
    policy.RuleDefault("project_member_or_admin", "rule:project_member_api or "
                       "rule:context_is_admin",
                       "Default rule for project member or admin APIs."),
    policy.RuleDefault("project_reader_or_admin", "rule:project_reader_api or "
                       "rule:context_is_admin",
                       "Default rule for project reader or admin APIs."),
]


def list_rules() -> list[policy.RuleDefault]:
    return rules


def rule(name: str, check: str, description: str, operations: list[tuple[str, str]],
         ) -> policy.DocumentedRuleDefault:
    """A documented, project-scoped rule: ``operations`` are (method, path)."""
    return policy.DocumentedRuleDefault(
        name=name, check_str=check, description=description,
        operations=[{"method": m, "path": p} for m, p in operations],
        scope_types=PROJECT_SCOPE)
