"""instances.locked_by and console_auth_tokens (issue 12: lock/unlock as
Nova's, one-time tokens of the serial console proxy)

Revision ID: 014
Revises: 013
Create Date: 2026-12-06 11:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "014"
down_revision = "013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("locked_by", sa.String(length=5), nullable=True))
    op.create_table(
        "console_auth_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=255), nullable=False),
        sa.Column("console_type", sa.String(length=255), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("expires", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash", name="uniq_console_auth_tokens0token_hash"),
    )
    op.create_index("console_auth_tokens_instance_uuid_idx", "console_auth_tokens",
                    ["instance_uuid"])
    op.create_index("console_auth_tokens_token_hash_instance_uuid_idx",
                    "console_auth_tokens", ["token_hash", "instance_uuid"])


def downgrade() -> None:
    op.drop_index("console_auth_tokens_token_hash_instance_uuid_idx",
                  table_name="console_auth_tokens")
    op.drop_index("console_auth_tokens_instance_uuid_idx", table_name="console_auth_tokens")
    op.drop_table("console_auth_tokens")
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("locked_by")
