"""identity: projects, users, role assignments, revoked tokens

Revision ID: 003
Revises: 002
Create Date: 2026-11-24 19:50:00
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "003"
down_revision = "002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
