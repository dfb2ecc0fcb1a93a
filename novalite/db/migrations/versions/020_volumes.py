"""Volumes (issue 14): Cinder's volumes, snapshots, attachments and volume
types (with the one default type, ``__DEFAULT__``). The block device
mapping's volume fields are migration 021's (compute side).

Revision ID: 020
Revises: 019
Create Date: 2026-12-06 18:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "020"
down_revision = "019"
branch_labels = None
depends_on = None

# NOTE: the same id on every deployment (Cinder makes a random one): tests
# and docs can name it; novalite.volume.api.DEFAULT_TYPE_ID is this.
DEFAULT_TYPE_ID = "5b6e3d1c-2f0a-4c1e-9a57-4b0c1d6e7f80"


def _times() -> list[sa.Column]:
    return [sa.Column("created_at", sa.DateTime(), nullable=True),
            sa.Column("updated_at", sa.DateTime(), nullable=True)]


def upgrade() -> None:
    types = op.create_table(
        "volume_types",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("extra_specs", sa.JSON(), nullable=True),
        *_times(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", name="uniq_volume_types0name"),
    )
    op.bulk_insert(types, [{"id": DEFAULT_TYPE_ID, "name": "__DEFAULT__",
                            "description": "Default Volume Type", "is_public": True,
                            "extra_specs": {}}])
    op.create_table(
        "volumes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("attach_status", sa.String(length=32), nullable=False),
        sa.Column("previous_status", sa.String(length=32), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("availability_zone", sa.String(length=255), nullable=True),
        sa.Column("bootable", sa.Boolean(), nullable=False),
        sa.Column("multiattach", sa.Boolean(), nullable=False),
        sa.Column("readonly", sa.Boolean(), nullable=False),
        sa.Column("volume_type_id", sa.String(length=36), nullable=True),
        sa.Column("snapshot_id", sa.String(length=36), nullable=True),
        sa.Column("source_volid", sa.String(length=36), nullable=True),
        sa.Column("image_id", sa.String(length=36), nullable=True),
        sa.Column("provider_location", sa.String(length=1024), nullable=True),
        sa.Column("migration_status", sa.String(length=32), nullable=True),
        sa.Column("volume_metadata", sa.JSON(), nullable=True),
        sa.Column("volume_image_metadata", sa.JSON(), nullable=True),
        sa.Column("fault", sa.Text(), nullable=True),
        sa.Column("launched_at", sa.DateTime(), nullable=True),
        *_times(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("volumes_project_id_idx", "volumes", ["project_id"])
    op.create_index("volumes_host_idx", "volumes", ["host"])
    op.create_table(
        "volume_snapshots",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("volume_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("progress", sa.String(length=255), nullable=True),
        sa.Column("provider_location", sa.String(length=1024), nullable=True),
        sa.Column("snapshot_metadata", sa.JSON(), nullable=True),
        sa.Column("fault", sa.Text(), nullable=True),
        *_times(),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["volume_id"], ["volumes.id"],
                                name="fk_volume_snapshots0volume_id"),
    )
    op.create_index("volume_snapshots_volume_id_idx", "volume_snapshots", ["volume_id"])
    op.create_index("volume_snapshots_project_id_idx", "volume_snapshots", ["project_id"])
    op.create_table(
        "volume_attachments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("volume_id", sa.String(length=36), nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=True),
        sa.Column("attached_host", sa.String(length=255), nullable=True),
        sa.Column("mountpoint", sa.String(length=255), nullable=True),
        sa.Column("attach_mode", sa.String(length=8), nullable=False),
        sa.Column("attach_status", sa.String(length=32), nullable=False),
        sa.Column("connector", sa.JSON(), nullable=True),
        sa.Column("connection_info", sa.JSON(), nullable=True),
        sa.Column("attach_time", sa.DateTime(), nullable=True),
        sa.Column("detach_time", sa.DateTime(), nullable=True),
        *_times(),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["volume_id"], ["volumes.id"],
                                name="fk_volume_attachments0volume_id"),
    )
    op.create_index("volume_attachments_volume_id_idx", "volume_attachments", ["volume_id"])
    op.create_index("volume_attachments_instance_uuid_idx", "volume_attachments",
                    ["instance_uuid"])


def downgrade() -> None:
    op.drop_table("volume_attachments")
    op.drop_table("volume_snapshots")
    op.drop_table("volumes")
    op.drop_table("volume_types")
