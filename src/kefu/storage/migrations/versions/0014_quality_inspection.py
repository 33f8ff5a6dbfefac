"""quality inspection

The inspection rule versions, inspections as durable jobs, their hits and reviewers' false
positives (QA-1, QA-2).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-22 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kefu.storage.types

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0014"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "qa_inspections",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("created_by", ID, nullable=False),
        sa.Column("created_at", kefu.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("starts_at", kefu.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", kefu.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("group_ids", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", kefu.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["accounts.id"], name=op.f("fk_qa_inspections_created_by_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_qa_inspections_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_inspections")),
    )
    op.create_index(
        "ix_qa_inspections_shop_id_id", "qa_inspections", ["shop_id", "id"], unique=False
    )
    op.create_index("ix_qa_inspections_state", "qa_inspections", ["state"], unique=False)
    op.create_table(
        "qa_rule_versions",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("applies_from", sa.Date(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("created_by", ID, nullable=False),
        sa.Column("created_at", kefu.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["accounts.id"], name=op.f("fk_qa_rule_versions_created_by_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_qa_rule_versions_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_rule_versions")),
        sa.UniqueConstraint(
            "shop_id", "applies_from", name=op.f("uq_qa_rule_versions_shop_id_applies_from")
        ),
    )
    op.create_table(
        "qa_false_positives",
        sa.Column("conversation_id", ID, nullable=False),
        sa.Column("rule_key", sa.String(length=20), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("marked_by", ID, nullable=False),
        sa.Column("marked_at", kefu.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_qa_false_positives_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["marked_by"], ["accounts.id"], name=op.f("fk_qa_false_positives_marked_by_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_qa_false_positives_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint(
            "conversation_id", "rule_key", "seq", name=op.f("pk_qa_false_positives")
        ),
    )
    op.create_table(
        "qa_hits",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("inspection_id", ID, nullable=False),
        sa.Column("conversation_id", ID, nullable=False),
        sa.Column("agent_id", ID, nullable=False),
        sa.Column("rule_key", sa.String(length=20), nullable=False),
        sa.Column("polarity", sa.String(length=10), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("at", kefu.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["accounts.id"], name=op.f("fk_qa_hits_agent_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_qa_hits_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["inspection_id"],
            ["qa_inspections.id"],
            name=op.f("fk_qa_hits_inspection_id_qa_inspections"),
        ),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_qa_hits_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_hits")),
    )
    op.create_index(
        "ix_qa_hits_inspection_id_agent_id", "qa_hits", ["inspection_id", "agent_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_qa_hits_inspection_id_agent_id", table_name="qa_hits")
    op.drop_table("qa_hits")
    op.drop_table("qa_false_positives")
    op.drop_table("qa_rule_versions")
    op.drop_index("ix_qa_inspections_state", table_name="qa_inspections")
    op.drop_index("ix_qa_inspections_shop_id_id", table_name="qa_inspections")
    op.drop_table("qa_inspections")
