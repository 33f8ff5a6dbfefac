"""participant holder

The participant role of the agent holding a conversation was "owner", easily read as the
shop's owner (a shop role, which is unchanged): it is "holder" now.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

participants = sa.table("participants", sa.column("role", sa.String(20)))


def upgrade() -> None:
    _rename("owner", "holder")


def downgrade() -> None:
    _rename("holder", "owner")


def _rename(old: str, new: str) -> None:
    op.execute(participants.update().where(participants.c.role == old).values(role=new))
