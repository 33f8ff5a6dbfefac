"""customer panel: profiles and page views

The customer profile per shop and consumer (notes, tags, phone) and the pages a consumer
viewed during a conversation, for the workbench's side panel (DESK-5).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kefu.storage.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "customer_profiles",
        sa.Column("shop_id", Id, nullable=False),
        sa.Column("consumer_id", Id, nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("updated_by", Id, nullable=True),
        sa.Column("updated_at", kefu.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["consumer_id"],
            ["consumers.id"],
            name=op.f("fk_customer_profiles_consumer_id_consumers"),
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_customer_profiles_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("shop_id", "consumer_id", name=op.f("pk_customer_profiles")),
    )
    op.create_table(
        "page_views",
        sa.Column("id", Id, nullable=False),
        sa.Column("shop_id", Id, nullable=False),
        sa.Column("conversation_id", Id, nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("at", kefu.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_page_views_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_page_views_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_page_views")),
    )
    op.create_index("ix_page_views_conversation_at", "page_views", ["conversation_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_page_views_conversation_at", table_name="page_views")
    op.drop_table("page_views")
    op.drop_table("customer_profiles")
