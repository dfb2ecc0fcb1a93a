"""networks, fixed IPs and instance actions

Revision ID: 005
Revises: 004
Create Date: 2026-11-24 19:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "005"
down_revision = "004"
branch_labels = None
depends_on = None


def _times() -> list[sa.Column]:
    return [sa.Column("created_at", sa.DateTime(), nullable=True),
            sa.Column("updated_at", sa.DateTime(), nullable=True)]


def upgrade() -> None:
    op.create_table(
        "networks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("cidr", sa.String(length=43), nullable=False),
        sa.Column("gateway", sa.String(length=39), nullable=False),
        sa.Column("bridge", sa.String(length=15), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.Column("deleted", sa.Integer(), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid", name="uniq_networks0uuid"),
        sa.UniqueConstraint("name", "deleted", name="uniq_networks0name0deleted"),
        sa.UniqueConstraint("bridge", "deleted", name="uniq_networks0bridge0deleted"),
    )
    op.create_table(
        "fixed_ips",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=39), nullable=False),
        sa.Column("mac", sa.String(length=17), nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        *_times(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("network_id", "address", name="uniq_fixed_ips0network_id0address"),
        sa.UniqueConstraint("mac", name="uniq_fixed_ips0mac"),
        sa.UniqueConstraint("uuid", name="uniq_fixed_ips0uuid"),
    )
    op.create_index("fixed_ips_instance_uuid_idx", "fixed_ips", ["instance_uuid"])
    op.create_table(
        "instance_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=255), nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.String(length=255), nullable=True),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("start_time", sa.DateTime(), nullable=True),
        sa.Column("finish_time", sa.DateTime(), nullable=True),
        sa.Column("message", sa.String(length=255), nullable=True),
        *_times(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("instance_actions_instance_uuid_idx", "instance_actions",
                    ["instance_uuid"])
    op.create_index("instance_actions_request_id_idx", "instance_actions", ["request_id"])
    op.create_table(
        "instance_actions_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=255), nullable=False),
        sa.Column("start_time", sa.DateTime(), nullable=True),
        sa.Column("finish_time", sa.DateTime(), nullable=True),
        sa.Column("result", sa.String(length=255), nullable=True),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        *_times(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("instance_actions_events_action_id_idx", "instance_actions_events",
                    ["action_id"])


def downgrade() -> None:
    op.drop_table("instance_actions_events")
    op.drop_table("instance_actions")
    op.drop_table("fixed_ips")
    op.drop_table("networks")
