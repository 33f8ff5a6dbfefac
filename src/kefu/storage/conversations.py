"""Conversations and their participants: the rows the lifecycle (CONV-1 to CONV-9) reads and
writes. A conversation of another shop is NotFound, exactly like a missing one (ACCT-5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu import errors
from kefu.storage import tables as t


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    id: int
    shop_id: int
    consumer_id: int
    state: str
    group_id: int | None
    agent_id: int | None
    entry: dict[str, Any]
    created_at: datetime
    human_requested_at: datetime | None
    assigned_at: datetime | None
    ended_at: datetime | None
    end_cause: str | None
    last_seq: int
    last_message_at: datetime | None
    last_consumer_message_at: datetime | None
    awaiting_reply_since: datetime | None
    auto_end_warned_at: datetime | None
    is_transferred: bool
    # Whether the account asked about (`participant=`) takes part; False when none was asked.
    is_participant: bool = False


_c = t.conversations.c
_p = t.participants.c


async def get(
    conn: AsyncConnection,
    shop_id: int,
    conversation_id: int,
    *,
    for_update: bool = False,
    participant: int | None = None,
) -> ConversationRecord:
    """A conversation of this shop, row-locked until commit with `for_update` (PostgreSQL;
    SQLite's writer already holds the database). With `participant`, the record says whether
    that account takes part."""
    query = select(t.conversations).where(_c.id == conversation_id, _c.shop_id == shop_id)
    if participant is not None:
        takes_part = select(_p.account_id).where(
            _p.conversation_id == _c.id, _p.account_id == participant
        )
        query = query.add_columns(takes_part.exists().label("is_participant"))
    if for_update and conn.dialect.name != "sqlite":
        query = query.with_for_update(of=t.conversations)
    row = (await conn.execute(query)).first()
    if row is None:
        raise errors.NotFound(kind="conversation", id=conversation_id)
    return ConversationRecord(**row._asdict())


async def participant_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, set[int]]:
    """Each conversation's participating accounts (conversations without any are left out)."""
    found: dict[int, set[int]] = {}
    rows = await conn.execute(
        select(_p.conversation_id, _p.account_id).where(_p.conversation_id.in_(list(ids)))
    )
    for conversation_id, account_id in rows:
        found.setdefault(conversation_id, set()).add(account_id)
    return found


async def consumer_name(conn: AsyncConnection, consumer_id: int) -> str:
    name = await conn.scalar(select(t.consumers.c.nickname).where(t.consumers.c.id == consumer_id))
    return name or ""
