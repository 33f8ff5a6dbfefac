"""login delays

Failed logins remember their client address, so that one address trying many accounts is
slowed down, and a successful login clears its account's failures without forgetting them
(they still count against their address).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import kefu.storage.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ip", sa.String(length=45), nullable=True))
        batch_op.add_column(
            sa.Column("cleared_at", kefu.storage.types.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_login_failures_ip_at", ["ip", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_login_failures_ip_at")
        batch_op.drop_column("cleared_at")
        batch_op.drop_column("ip")
