"""conversation list index

The conversation list (DATA-5) walks a shop's conversations newest first by id: an index on
(shop_id, id) serves it without a sort, whatever the planner's statistics.

Revision ID: 0019
Revises: 0013
Create Date: 2026-12-01 00:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_conversations_shop_newest", "conversations", ["shop_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_conversations_shop_newest", table_name="conversations")
