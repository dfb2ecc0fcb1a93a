"""Quota classes (Nova's os-quota-class-sets): per class name, a limit per
resource; the ``default`` class's limits are the defaults of every project
without its own (over the [quota] options).

Revision ID: 018
Revises: 017
Create Date: 2026-12-06 14:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "018"
down_revision = "017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quota_classes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("class_name", sa.String(length=255), nullable=False),
        sa.Column("resource", sa.String(length=255), nullable=False),
        sa.Column("hard_limit", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("class_name", "resource",
                            name="uniq_quota_classes0class_name0resource"),
    )


def downgrade() -> None:
    op.drop_table("quota_classes")
