"""block device mapping: each instance's block devices

Nova's ``block_device_mapping`` (the columns novalite uses). The API records
a server's image-backed root disk here at create; the ``block_devices`` key
of ``system_metadata`` (a string nobody read) went in migration 008.

Revision ID: 010
Revises: 009
Create Date: 2026-12-06 08:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "010"
down_revision = "009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "block_device_mapping",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("source_type", sa.String(length=255), nullable=False),
        sa.Column("destination_type", sa.String(length=255), nullable=False),
        sa.Column("boot_index", sa.Integer(), nullable=True),
        sa.Column("device_name", sa.String(length=255), nullable=True),
        sa.Column("device_type", sa.String(length=255), nullable=True),
        sa.Column("disk_bus", sa.String(length=255), nullable=True),
        sa.Column("image_id", sa.String(length=36), nullable=True),
        sa.Column("volume_id", sa.String(length=36), nullable=True),
        sa.Column("volume_size", sa.Integer(), nullable=True),
        sa.Column("guest_format", sa.String(length=255), nullable=True),
        sa.Column("delete_on_termination", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("block_device_mapping_instance_uuid_idx", "block_device_mapping",
                    ["instance_uuid"])


def downgrade() -> None:
    op.drop_index("block_device_mapping_instance_uuid_idx", table_name="block_device_mapping")
    op.drop_table("block_device_mapping")
