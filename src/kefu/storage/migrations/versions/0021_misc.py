"""notification preferences, orphaned uploads

Each account's notification preferences (SET-3); an index on attachments' time for the sweep
of orphaned uploads (MSG-1).

Revision ID: 0021
Revises: 0013
Create Date: 2026-12-22 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0021"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_preferences",
        sa.Column("account_id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("is_sound_on", sa.Boolean(), nullable=False),
        sa.Column("is_desktop_on", sa.Boolean(), nullable=False),
        sa.Column("events", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_notification_preferences_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_notification_preferences_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_notification_preferences")),
    )
    op.create_index("ix_attachments_created_at", "attachments", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_attachments_created_at", table_name="attachments")
    op.drop_table("notification_preferences")
