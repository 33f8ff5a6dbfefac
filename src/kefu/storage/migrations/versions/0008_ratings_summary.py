"""ratings and consultation summaries

Every rating of a conversation with its source and rated agent (RATE-1, RATE-2, CONV-7); each
shop's classification tree and each conversation's summary (CONV-10, DESK-2).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kefu.storage.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ratings",
        sa.Column("id", Id, nullable=False),
        sa.Column("shop_id", Id, nullable=False),
        sa.Column("conversation_id", Id, nullable=False),
        sa.Column("agent_id", Id, nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("card_seq", sa.Integer(), nullable=True),
        sa.Column("at", kefu.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_ratings_shop_id_shops")),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_ratings_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["accounts.id"], name=op.f("fk_ratings_agent_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
        sa.UniqueConstraint(
            "conversation_id", "card_seq", name=op.f("uq_ratings_conversation_id_card_seq")
        ),
    )
    op.create_index(op.f("ix_ratings_conversation_id"), "ratings", ["conversation_id"])
    op.create_index("ix_ratings_shop_at", "ratings", ["shop_id", "at"])
    op.create_table(
        "summary_categories",
        sa.Column("id", Id, nullable=False),
        sa.Column("shop_id", Id, nullable=False),
        sa.Column("parent_id", Id, nullable=True),
        sa.Column("name", sa.String(length=30), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_removed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_summary_categories_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_summary_categories")),
    )
    op.create_index(op.f("ix_summary_categories_shop_id"), "summary_categories", ["shop_id"])
    op.create_table(
        "conversation_summaries",
        sa.Column("conversation_id", Id, nullable=False),
        sa.Column("shop_id", Id, nullable=False),
        sa.Column("category_id", Id, nullable=False),
        sa.Column("path", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("agent_id", Id, nullable=False),
        sa.Column("at", kefu.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_summaries_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_conversation_summaries_shop_id_shops")
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["summary_categories.id"],
            name=op.f("fk_conversation_summaries_category_id_summary_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["accounts.id"],
            name=op.f("fk_conversation_summaries_agent_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_conversation_summaries")),
    )
    op.create_index(
        "ix_conversation_summaries_shop_category",
        "conversation_summaries",
        ["shop_id", "category_id"],
    )


def downgrade() -> None:
    op.drop_table("conversation_summaries")
    op.drop_table("summary_categories")
    op.drop_table("ratings")
