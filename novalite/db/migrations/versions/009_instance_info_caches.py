"""instance info caches: each instance's network_info

The VIF list compute and the virt driver use (to plug a port again after a
host reboot, to unplug it at delete) was the ``network_info`` key of
``system_metadata``; as Nova's, it is a row of ``instance_info_caches`` now,
written by the network allocation itself. Existing values move there.

Revision ID: 009
Revises: 008
Create Date: 2026-12-06 08:40:00
"""

import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "009"
down_revision = "008"
branch_labels = None
depends_on = None

_KEY = "network_info"
_instances = sa.table("instances", sa.column("id", sa.Integer()),
                      sa.column("uuid", sa.String()), sa.column("system_metadata", sa.JSON()))
_caches = sa.table("instance_info_caches", sa.column("instance_uuid", sa.String()),
                   sa.column("network_info", sa.Text()))


def _as_dict(value: object) -> dict:
    if isinstance(value, str):
        value = json.loads(value or "{}")
    return dict(value) if isinstance(value, dict) else {}


def upgrade() -> None:
    op.create_table(
        "instance_info_caches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("network_info",
                  sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb"), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("instance_uuid", name="uniq_instance_info_caches0instance_uuid"),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(_instances.c.id, _instances.c.uuid,
                                  _instances.c.system_metadata)).all()
    for row_id, uuid, raw in rows:
        sysmeta = _as_dict(raw)
        if _KEY not in sysmeta:
            continue
        conn.execute(sa.insert(_caches).values(instance_uuid=uuid,
                                               network_info=sysmeta.pop(_KEY) or "[]"))
        conn.execute(sa.update(_instances).where(_instances.c.id == row_id)
                     .values(system_metadata=sysmeta))


def downgrade() -> None:
    conn = op.get_bind()
    caches = dict(conn.execute(sa.select(_caches.c.instance_uuid,
                                         _caches.c.network_info)).all())
    rows = conn.execute(sa.select(_instances.c.id, _instances.c.uuid,
                                  _instances.c.system_metadata)).all()
    for row_id, uuid, raw in rows:
        if uuid in caches:
            sysmeta = _as_dict(raw)
            sysmeta[_KEY] = caches[uuid] or "[]"
            conn.execute(sa.update(_instances).where(_instances.c.id == row_id)
                         .values(system_metadata=sysmeta))
    op.drop_table("instance_info_caches")
