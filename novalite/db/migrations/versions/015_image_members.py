"""image_members (Glance's image sharing: the projects a shared image is
offered to and their pending/accepted/rejected answer)

Revision ID: 015
Revises: 014
Create Date: 2026-12-06 11:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "015"
down_revision = "014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "image_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.String(length=36), nullable=False),
        sa.Column("member", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("image_id", "member", name="uniq_image_members0image_id0member"),
    )
    op.create_index("image_members_member_idx", "image_members", ["member"])


def downgrade() -> None:
    op.drop_index("image_members_member_idx", table_name="image_members")
    op.drop_table("image_members")
