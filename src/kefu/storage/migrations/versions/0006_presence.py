"""agent presence, transfer expiry

An account's last sign of life (login, status change, a staff socket's opening, heartbeat or
closing): routing skips online agents whose sign is older than the grace period (PRES-1). A
transfer offer's deadline, after which it expires (CONV-7).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-20 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kefu.storage.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_seen_at", kefu.storage.types.UtcDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expires_at", kefu.storage.types.UtcDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("last_seen_at")
