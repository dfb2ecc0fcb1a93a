"""server tags and descriptions: Nova's ``tags`` table and
``instances.display_description`` (microversions 2.26 and 2.19)

Revision ID: 012
Revises: 011
Create Date: 2026-12-06 11:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "012"
down_revision = "011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tags",
        sa.Column("resource_id", sa.String(length=36), nullable=False),
        sa.Column("tag", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("resource_id", "tag"),
    )
    op.create_index("tags_tag_idx", "tags", ["tag"])
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("display_description", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("display_description")
    op.drop_index("tags_tag_idx", table_name="tags")
    op.drop_table("tags")
