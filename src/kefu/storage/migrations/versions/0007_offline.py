"""offline messages, blacklist

One offline-message entry per consumer and shop (OFFL-2); the shop's blacklist (ROUTE-5). An
offline message is the consumer's open conversation (OFFL-1), so the one-open-conversation
index (CONV-5) counts the `offline` state too.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-21 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kefu.storage.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_OLD_OPEN = "state IN ('bot', 'queued', 'assigned')"
_NEW_OPEN = "state IN ('bot', 'queued', 'assigned', 'offline')"


def upgrade() -> None:
    op.create_table(
        "offline_entries",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("consumer_id", _ID, nullable=False),
        sa.Column("cause", sa.String(length=20), nullable=False),
        sa.Column("first_at", kefu.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_at", kefu.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", kefu.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("processed_by", _ID, nullable=True),
        sa.Column("processed_cause", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["consumers.id"], name=op.f("fk_offline_entries_consumer_id_consumers")
        ),
        sa.ForeignKeyConstraint(
            ["processed_by"], ["accounts.id"], name=op.f("fk_offline_entries_processed_by_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_offline_entries_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offline_entries")),
        sa.UniqueConstraint(
            "shop_id", "consumer_id", name=op.f("uq_offline_entries_shop_id_consumer_id")
        ),
    )
    with op.batch_alter_table("offline_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_offline_entries_shop_processed_last",
            ["shop_id", "processed_at", "last_at"],
            unique=False,
        )
    op.create_table(
        "blacklist",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("consumer_id", _ID, nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("added_by", _ID, nullable=True),
        sa.Column("added_at", kefu.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["added_by"], ["accounts.id"], name=op.f("fk_blacklist_added_by_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["consumers.id"], name=op.f("fk_blacklist_consumer_id_consumers")
        ),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_blacklist_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blacklist")),
        sa.UniqueConstraint(
            "shop_id", "consumer_id", name=op.f("uq_blacklist_shop_id_consumer_id")
        ),
    )
    _open_index(_OLD_OPEN, _NEW_OPEN)


def downgrade() -> None:
    _open_index(_NEW_OPEN, _OLD_OPEN)
    op.drop_table("blacklist")
    with op.batch_alter_table("offline_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_offline_entries_shop_processed_last")
    op.drop_table("offline_entries")


def _open_index(old: str, new: str) -> None:
    """CONV-5: at most one open conversation per consumer and shop, for the given states."""
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_conversations_open_per_consumer",
            sqlite_where=sa.text(old),
            postgresql_where=sa.text(old),
        )
        batch_op.create_index(
            "uq_conversations_open_per_consumer",
            ["shop_id", "consumer_id"],
            unique=True,
            sqlite_where=sa.text(new),
            postgresql_where=sa.text(new),
        )
