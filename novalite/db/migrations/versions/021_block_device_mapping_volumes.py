"""block device mapping: volumes (issue 14)

Nova's ``block_device_mapping`` columns a volume needs: ``uuid`` (2.89's
bdm_uuid), ``tag`` (2.49), ``attachment_id`` (the volume service's
attachment, Cinder >= 3.44 flow), ``connection_info`` (JSON: what the
attachment's update answered, for the host that attached it),
``volume_type`` (2.67) and ``snapshot_id``. Existing rows get a uuid; a
device name is unique per instance (racing attaches take the next one).

Revision ID: 021
Revises: 020
Create Date: 2026-12-06 18:10:00
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "021"
down_revision = "020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("block_device_mapping") as batch:
        batch.add_column(sa.Column("uuid", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("tag", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("attachment_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("connection_info", sa.Text(), nullable=True))
        batch.add_column(sa.Column("volume_type", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("snapshot_id", sa.String(length=36), nullable=True))
    bdm = sa.table("block_device_mapping", sa.column("id", sa.Integer),
                   sa.column("uuid", sa.String))
    conn = op.get_bind()
    for (row_id,) in conn.execute(sa.select(bdm.c.id)).all():
        conn.execute(bdm.update().where(bdm.c.id == row_id).values(uuid=str(uuid.uuid4())))
    with op.batch_alter_table("block_device_mapping") as batch:
        batch.create_unique_constraint("uniq_block_device_mapping0uuid", ["uuid"])
        batch.create_unique_constraint("uniq_block_device_mapping0instance0device",
                                       ["instance_uuid", "device_name"])
    op.create_index("block_device_mapping_volume_id_idx", "block_device_mapping",
                    ["volume_id"])


def downgrade() -> None:
    op.drop_index("block_device_mapping_volume_id_idx", table_name="block_device_mapping")
    with op.batch_alter_table("block_device_mapping") as batch:
        batch.drop_constraint("uniq_block_device_mapping0instance0device", type_="unique")
        batch.drop_constraint("uniq_block_device_mapping0uuid", type_="unique")
        for name in ("snapshot_id", "volume_type", "connection_info", "attachment_id", "tag",
                     "uuid"):
            batch.drop_column(name)
