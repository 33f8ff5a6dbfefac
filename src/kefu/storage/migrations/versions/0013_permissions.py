"""permissions per feature area

The owner's grants and revocations of feature areas per sub-account, and sub-accounts'
requests for one (ACCT-6).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-21 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kefu.storage.types

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "permission_grants",
        sa.Column("account_id", ID, nullable=False),
        sa.Column("feature", sa.String(length=20), nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("is_granted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_permission_grants_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_permission_grants_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("account_id", "feature", name=op.f("pk_permission_grants")),
    )
    op.create_table(
        "permission_requests",
        sa.Column("id", ID, nullable=False),
        sa.Column("shop_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("feature", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", kefu.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", kefu.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_permission_requests_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["accounts.id"],
            name=op.f("fk_permission_requests_decided_by_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_permission_requests_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permission_requests")),
    )
    op.create_index(
        "ix_permission_requests_shop_id_status",
        "permission_requests",
        ["shop_id", "status"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_permission_requests_shop_id_status", table_name="permission_requests")
    op.drop_table("permission_requests")
    op.drop_table("permission_grants")
