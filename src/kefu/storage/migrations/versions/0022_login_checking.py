"""login attempts being checked

ACCT-4: a login attempt is recorded as it starts; `checking` tells the attempts whose password
is still being checked from the failed ones, so that an office signing in at once is not slowed
down by its own logins in progress. Rows from before were failures.

Revision ID: 0022
Revises: 0015
Create Date: 2026-12-01 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("login_failures") as batch:
        batch.add_column(
            sa.Column("checking", sa.Boolean(), nullable=False, server_default=sa.text("false"))
        )


def downgrade() -> None:
    with op.batch_alter_table("login_failures") as batch:
        batch.drop_column("checking")
