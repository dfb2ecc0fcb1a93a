"""Neutron's security groups (with rules, each project's default group and
the ports' memberships), routers and floating IPs.

Revision ID: 019
Revises: 018
Create Date: 2026-12-06 15:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "019"
down_revision = "018"
branch_labels = None
depends_on = None


def _times() -> list[sa.Column]:
    return [sa.Column("created_at", sa.DateTime(), nullable=True),
            sa.Column("updated_at", sa.DateTime(), nullable=True)]


def upgrade() -> None:
    op.create_table(
        "security_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid", name="uniq_security_groups0uuid"),
    )
    op.create_index("security_groups_project_id_idx", "security_groups", ["project_id"])
    op.create_table(
        "default_security_groups",
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("security_group_id", sa.Integer(), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("project_id"),
        sa.ForeignKeyConstraint(["security_group_id"], ["security_groups.id"],
                                name="fk_default_security_groups0sg_id", ondelete="CASCADE"),
    )
    op.create_table(
        "security_group_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("security_group_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("ethertype", sa.String(length=16), nullable=False),
        sa.Column("protocol", sa.String(length=40), nullable=True),
        sa.Column("port_range_min", sa.Integer(), nullable=True),
        sa.Column("port_range_max", sa.Integer(), nullable=True),
        sa.Column("remote_ip_prefix", sa.String(length=255), nullable=True),
        sa.Column("remote_group_id", sa.String(length=36), nullable=True),
        sa.Column("description", sa.String(length=255), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["security_group_id"], ["security_groups.id"],
                                name="fk_security_group_rules0sg_id", ondelete="CASCADE"),
        sa.UniqueConstraint("uuid", name="uniq_security_group_rules0uuid"),
    )
    op.create_index("security_group_rules_sg_id_idx", "security_group_rules",
                    ["security_group_id"])
    op.create_table(
        "security_group_port_bindings",
        sa.Column("port_id", sa.Integer(), nullable=False),
        sa.Column("security_group_id", sa.Integer(), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("port_id", "security_group_id"),
        sa.ForeignKeyConstraint(["port_id"], ["ports.id"], name="fk_sg_port_bindings0port_id",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["security_group_id"], ["security_groups.id"],
                                name="fk_sg_port_bindings0sg_id"),
    )
    op.create_index("security_group_port_bindings_sg_id_idx", "security_group_port_bindings",
                    ["security_group_id"])
    op.create_table(
        "routers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("gw_port_id", sa.Integer(), nullable=True),
        sa.Column("enable_snat", sa.Boolean(), nullable=False),
        sa.Column("routes", sa.JSON(), nullable=True),
        *_times(),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["gw_port_id"], ["ports.id"], name="fk_routers0gw_port_id"),
        sa.UniqueConstraint("uuid", name="uniq_routers0uuid"),
    )
    op.create_index("routers_project_id_idx", "routers", ["project_id"])
    op.create_table(
        "floating_ips",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("floating_network_id", sa.Integer(), nullable=False),
        sa.Column("floating_port_id", sa.Integer(), nullable=False),
        sa.Column("floating_ip_address", sa.String(length=64), nullable=False),
        sa.Column("fixed_port_id", sa.Integer(), nullable=True),
        sa.Column("fixed_ip_address", sa.String(length=64), nullable=True),
        sa.Column("router_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["floating_network_id"], ["networks.id"],
                                name="fk_floating_ips0network_id"),
        sa.ForeignKeyConstraint(["floating_port_id"], ["ports.id"],
                                name="fk_floating_ips0floating_port_id"),
        sa.ForeignKeyConstraint(["fixed_port_id"], ["ports.id"],
                                name="fk_floating_ips0fixed_port_id"),
        sa.ForeignKeyConstraint(["router_id"], ["routers.id"],
                                name="fk_floating_ips0router_id"),
        sa.UniqueConstraint("uuid", name="uniq_floating_ips0uuid"),
        sa.UniqueConstraint("floating_network_id", "floating_ip_address",
                            name="uniq_floating_ips0floating_network_id0address"),
    )
    op.create_index("floating_ips_fixed_port_id_idx", "floating_ips", ["fixed_port_id"])
    op.create_index("floating_ips_router_id_idx", "floating_ips", ["router_id"])


def downgrade() -> None:
    for table in ("floating_ips", "routers", "security_group_port_bindings",
                  "security_group_rules", "default_security_groups", "security_groups"):
        op.drop_table(table)
