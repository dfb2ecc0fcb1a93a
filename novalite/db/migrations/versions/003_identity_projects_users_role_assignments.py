"""identity: projects, users, role assignments, revoked tokens

Revision ID: 003
Revises: 002
Create Date: 2026-11-24 19:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "003"
down_revision = "002"
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column]:
    return [sa.Column("created_at", sa.DateTime(), nullable=True),
            sa.Column("updated_at", sa.DateTime(), nullable=True)]


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("domain_id", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("domain_id", "name", name="uniq_projects0domain_id0name"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("domain_id", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=128), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("default_project_id", sa.String(length=64), nullable=True),
        sa.Column("failed_auth_count", sa.Integer(), nullable=False),
        sa.Column("failed_auth_at", sa.DateTime(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("domain_id", "name", name="uniq_users0domain_id0name"),
    )
    op.create_table(
        "role_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "project_id", "role",
                            name="uniq_role_assignments0user_id0project_id0role"),
    )
    op.create_index("role_assignments_project_id_idx", "role_assignments", ["project_id"])
    op.create_table(
        "revoked_tokens",
        sa.Column("audit_id", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("audit_id"),
    )
    op.create_index("revoked_tokens_expires_at_idx", "revoked_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_index("revoked_tokens_expires_at_idx", table_name="revoked_tokens")
    op.drop_table("revoked_tokens")
    op.drop_index("role_assignments_project_id_idx", table_name="role_assignments")
    op.drop_table("role_assignments")
    op.drop_table("users")
    op.drop_table("projects")
