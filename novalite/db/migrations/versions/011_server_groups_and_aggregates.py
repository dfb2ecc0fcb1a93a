"""server groups and host aggregates

Nova's ``instance_groups`` (one policy and its rules per group, as since
compute API 2.64) with ``instance_group_member``, and ``aggregates`` with
``aggregate_hosts`` and ``aggregate_metadata``.

Revision ID: 011
Revises: 010
Create Date: 2026-12-06 11:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "011"
down_revision = "010"
branch_labels = None
depends_on = None


def _times() -> list[sa.Column]:
    return [sa.Column("created_at", sa.DateTime(), nullable=True),
            sa.Column("updated_at", sa.DateTime(), nullable=True)]


def upgrade() -> None:
    op.create_table(
        "instance_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("policy", sa.String(length=255), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=True),
        *_times(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid", name="uniq_instance_groups0uuid"),
    )
    op.create_index("instance_groups_project_id_idx", "instance_groups", ["project_id"])
    op.create_table(
        "instance_group_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("group_id", "instance_uuid",
                            name="uniq_instance_group_member0group_id0instance_uuid"),
    )
    op.create_index("instance_group_member_instance_uuid_idx", "instance_group_member",
                    ["instance_uuid"])
    op.create_table(
        "aggregates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid", name="uniq_aggregates0uuid"),
        sa.UniqueConstraint("name", name="uniq_aggregates0name"),
    )
    op.create_table(
        "aggregate_hosts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("aggregate_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("host", "aggregate_id",
                            name="uniq_aggregate_hosts0host0aggregate_id"),
    )
    op.create_table(
        "aggregate_metadata",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("aggregate_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("aggregate_id", "key",
                            name="uniq_aggregate_metadata0aggregate_id0key"),
    )


def downgrade() -> None:
    op.drop_table("aggregate_metadata")
    op.drop_table("aggregate_hosts")
    op.drop_table("aggregates")
    op.drop_index("instance_group_member_instance_uuid_idx",
                  table_name="instance_group_member")
    op.drop_table("instance_group_member")
    op.drop_index("instance_groups_project_id_idx", table_name="instance_groups")
    op.drop_table("instance_groups")
