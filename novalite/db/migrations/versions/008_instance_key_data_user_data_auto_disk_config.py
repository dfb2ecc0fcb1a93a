"""instances: key_data, user_data and auto_disk_config columns

They were ``system_metadata`` keys (``key_data``, ``user_data``,
``disk_config``); Nova keeps them as the instance's own fields. The values of
existing instances move into the columns and leave ``system_metadata``, as do
``injected_files`` (the build request carries them, as Nova's) and
``block_devices`` (a record nobody read: novalite's only block device is the
image-backed root disk, which ``image_ref`` names).

Revision ID: 008
Revises: 007
Create Date: 2026-12-06 08:20:00
"""

import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "008"
down_revision = "007"
branch_labels = None
depends_on = None

_MOVED = ("key_data", "user_data", "disk_config")
_DROPPED = ("injected_files", "block_devices")

_instances = sa.table(
    "instances",
    sa.column("id", sa.Integer()),
    sa.column("system_metadata", sa.JSON()),
    sa.column("key_data", sa.Text()),
    sa.column("user_data", sa.Text()),
    sa.column("auto_disk_config", sa.Boolean()),
)


def _as_dict(value: object) -> dict:
    if isinstance(value, str):
        value = json.loads(value or "{}")
    return dict(value) if isinstance(value, dict) else {}


def upgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("key_data", sa.Text(), nullable=True))
        batch.add_column(sa.Column(
            "user_data", sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb"),
            nullable=True))
        batch.add_column(sa.Column("auto_disk_config", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    conn = op.get_bind()
    rows = conn.execute(sa.select(_instances.c.id, _instances.c.system_metadata)).all()
    for row_id, raw in rows:
        sysmeta = _as_dict(raw)
        if not any(k in sysmeta for k in _MOVED + _DROPPED):
            continue
        values = {"key_data": sysmeta.pop("key_data", None),
                  "user_data": sysmeta.pop("user_data", None),
                  "auto_disk_config": sysmeta.pop("disk_config", None) == "AUTO"}
        for key in _DROPPED:
            sysmeta.pop(key, None)
        conn.execute(sa.update(_instances).where(_instances.c.id == row_id)
                     .values(system_metadata=sysmeta, **values))


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(_instances.c.id, _instances.c.system_metadata,
                                  _instances.c.key_data, _instances.c.user_data,
                                  _instances.c.auto_disk_config)).all()
    for row_id, raw, key_data, user_data, auto in rows:
        sysmeta = _as_dict(raw)
        sysmeta["disk_config"] = "AUTO" if auto else "MANUAL"
        if key_data is not None:
            sysmeta["key_data"] = key_data
        if user_data is not None:
            sysmeta["user_data"] = user_data
        conn.execute(sa.update(_instances).where(_instances.c.id == row_id)
                     .values(system_metadata=sysmeta))
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("auto_disk_config")
        batch.drop_column("user_data")
        batch.drop_column("key_data")
