"""identity: lockout per user and source, token revocation by user

The lockout counts failures per user and source address (``auth_failures``)
instead of per user, so nobody elsewhere can lock the real user out;
``users.tokens_revoked_before`` revokes a user's older tokens when the
password changes.

Revision ID: 006
Revises: 005
Create Date: 2026-12-06 07:40:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "006"
down_revision = "005"
branch_labels = None
depends_on = None

_MICRO_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "auth_failures",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", "source"),
    )
    op.create_index("auth_failures_last_failure_at_idx", "auth_failures",
                    ["last_failure_at"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("tokens_revoked_before", _MICRO_DATETIME, nullable=True))
        batch.drop_column("failed_auth_count")
        batch.drop_column("failed_auth_at")


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("failed_auth_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("failed_auth_count", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.drop_column("tokens_revoked_before")
    op.drop_index("auth_failures_last_failure_at_idx", table_name="auth_failures")
    op.drop_table("auth_failures")
