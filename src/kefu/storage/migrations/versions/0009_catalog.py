"""catalog: products and orders in full, integration tokens

Products gain stock and on-sale; orders gain their lines, status and the paid, shipped and
received times (API-1). Integration tokens, stored as SHA-256 hashes (API-2).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kefu.storage.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str) -> sa.Column[object]:
    return sa.Column(name, kefu.storage.types.UtcDateTime(timezone=True), nullable=True)


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stock", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("on_sale", sa.Boolean(), server_default=sa.text("true"), nullable=False)
        )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("items", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(
            sa.Column("status", sa.String(length=20), server_default="paid", nullable=False)
        )
        batch_op.add_column(_time("paid_at"))
        batch_op.add_column(_time("shipped_at"))
        batch_op.add_column(_time("received_at"))
        batch_op.create_index("ix_orders_shop_consumer", ["shop_id", "consumer_id"], unique=False)
    op.create_table(
        "api_tokens",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("hint", sa.String(length=12), nullable=False),
        sa.Column("created_by", _ID, nullable=True),
        sa.Column("created_at", kefu.storage.types.UtcDateTime(timezone=True), nullable=False),
        _time("last_used_at"),
        _time("revoked_at"),
        sa.ForeignKeyConstraint(
            ["created_by"], ["accounts.id"], name=op.f("fk_api_tokens_created_by_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_api_tokens_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_shop_consumer")
        for name in ("received_at", "shipped_at", "paid_at", "status", "items"):
            batch_op.drop_column(name)
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("on_sale")
        batch_op.drop_column("stock")
