"""staff management and audit

An account can be disabled (it keeps its history, loses its sessions and cannot log in), and
every change an owner or supervisor makes to staff, groups or settings leaves an audit row.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-15 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kefu.storage.types

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_disabled", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "audit_log",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("actor_id", ID, nullable=True),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("target_kind", sa.String(length=20), nullable=False),
        sa.Column("target_id", ID, nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("at", kefu.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_audit_log_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_shop_id_id", "audit_log", ["shop_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_log_shop_id_id", table_name="audit_log")
    op.drop_table("audit_log")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("is_disabled")
