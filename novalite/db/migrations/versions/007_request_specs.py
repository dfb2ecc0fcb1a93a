"""request specs: each instance's RequestSpec object

What a build asked for (flavor, image, requested networks, availability
zone, hosts tried) as one versioned object per instance, as Nova's API
database keeps it, so that a reschedule or a network allocation reads the
request as it was made. Instances recorded before keep their requested
networks in ``system_metadata``; readers fall back to it.

Revision ID: 007
Revises: 006
Create Date: 2026-12-06 08:20:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "007"
down_revision = "006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_specs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("spec", sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb"),
                  nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("instance_uuid", name="uniq_request_specs0instance_uuid"),
    )


def downgrade() -> None:
    op.drop_table("request_specs")
