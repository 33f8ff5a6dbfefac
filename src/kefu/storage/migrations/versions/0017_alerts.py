"""alerts

Alert rules, the alerts raised and each shop's next evaluation (LIVE-2).

Revision ID: 0017
Revises: 0013
Create Date: 2026-12-01 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kefu.storage.types

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0017"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_rules",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("group_id", ID, nullable=True),
        sa.Column("metric", sa.String(length=30), nullable=False),
        sa.Column("comparison", sa.String(length=2), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("updated_at", kefu.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_alert_rules_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_alert_rules_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
    )
    op.create_index("ix_alert_rules_shop_id", "alert_rules", ["shop_id"], unique=False)
    op.create_table(
        "alert_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("rule_id", ID, nullable=False),
        sa.Column("period_at", kefu.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("group_id", ID, nullable=True),
        sa.Column("metric", sa.String(length=30), nullable=False),
        sa.Column("comparison", sa.String(length=2), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("hits", sa.JSON(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("suppressed", sa.Boolean(), nullable=False),
        sa.Column("created_at", kefu.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_alert_events_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_events")),
        sa.UniqueConstraint("rule_id", "period_at", name=op.f("uq_alert_events_rule_id_period_at")),
    )
    op.create_index("ix_alert_events_shop_id_id", "alert_events", ["shop_id", "id"], unique=False)
    op.create_table(
        "alert_schedules",
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("next_at", kefu.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_alert_schedules_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("shop_id", name=op.f("pk_alert_schedules")),
    )
    op.create_index("ix_alert_schedules_next_at", "alert_schedules", ["next_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_alert_schedules_next_at", table_name="alert_schedules")
    op.drop_table("alert_schedules")
    op.drop_index("ix_alert_events_shop_id_id", table_name="alert_events")
    op.drop_table("alert_events")
    op.drop_index("ix_alert_rules_shop_id", table_name="alert_rules")
    op.drop_table("alert_rules")
