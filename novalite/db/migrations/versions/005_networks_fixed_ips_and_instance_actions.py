"""networks, fixed IPs and instance actions

Revision ID: 005
Revises: 004
Create Date: 2026-11-24 19:50:00
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "005"
down_revision = "004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
