"""moves: Nova's ``migrations`` table and the instance's old/new flavor
during a resize (issue 12 item 3)

Revision ID: 013
Revises: 012
Create Date: 2026-12-06 11:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "013"
down_revision = "012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "migrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("source_compute", sa.String(length=255), nullable=True),
        sa.Column("dest_compute", sa.String(length=255), nullable=True),
        sa.Column("source_node", sa.String(length=255), nullable=True),
        sa.Column("dest_node", sa.String(length=255), nullable=True),
        sa.Column("dest_host", sa.String(length=255), nullable=True),
        sa.Column("old_instance_type_id", sa.Integer(), nullable=True),
        sa.Column("new_instance_type_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=255), nullable=True),
        sa.Column("migration_type", sa.String(length=255), nullable=True),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid", name="uniq_migrations0uuid"),
    )
    op.create_index("migrations_instance_uuid_and_status_idx", "migrations",
                    ["deleted", "instance_uuid", "status"])
    op.create_index("migrations_by_host_nodes_and_status_idx", "migrations",
                    ["deleted", "source_compute", "dest_compute", "status"])
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("old_flavor", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("new_flavor", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("new_flavor")
        batch.drop_column("old_flavor")
    op.drop_index("migrations_by_host_nodes_and_status_idx", table_name="migrations")
    op.drop_index("migrations_instance_uuid_and_status_idx", table_name="migrations")
    op.drop_table("migrations")
