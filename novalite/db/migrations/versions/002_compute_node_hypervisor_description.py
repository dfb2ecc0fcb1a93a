"""compute node hypervisor description

Revision ID: 002
Revises: 001
Create Date: 2026-11-24 17:42:18.231154
"""

import sqlalchemy as sa
from alembic import op

revision = "002"
down_revision = "001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("compute_nodes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("hypervisor_description", sa.String(length=255), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("compute_nodes", schema=None) as batch_op:
        batch_op.drop_column("hypervisor_description")
