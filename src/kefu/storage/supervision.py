"""What live monitoring reads (LIVE-1): the open conversations of a shop, the conversations an
agent replied in recently, and those conversations' rows. Their human messages and events are
read with the analytics queries (storage/analytics.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain.conversation import ConversationState
from kefu.storage import tables as t

_c = t.conversations.c
_m = t.messages.c
OPEN = (ConversationState.QUEUED.value, ConversationState.ASSIGNED.value)
# The view reads at most this many conversations replied in within the window.
MAX_RECENT = 5000


@dataclass(frozen=True, slots=True)
class OpenRow:
    id: int
    state: str
    group_id: int | None
    agent_id: int | None
    awaiting_reply_since: datetime | None


async def open_conversations(conn: AsyncConnection, shop_id: int) -> list[OpenRow]:
    """The shop's queued and assigned conversations."""
    rows = await conn.execute(
        select(_c.id, _c.state, _c.group_id, _c.agent_id, _c.awaiting_reply_since)
        .where(_c.shop_id == shop_id, _c.state.in_(OPEN))
        .order_by(_c.id)
    )
    return [OpenRow(r.id, r.state, r.group_id, r.agent_id, r.awaiting_reply_since) for r in rows]


async def replied_in_since(conn: AsyncConnection, shop_id: int, since: datetime) -> list[int]:
    """The conversations where an agent wrote after `since`."""
    rows = await conn.execute(
        select(_m.conversation_id)
        .where(_m.shop_id == shop_id, _m.sender == "agent", _m.created_at > since)
        .group_by(_m.conversation_id)
        .order_by(_m.conversation_id)
        .limit(MAX_RECENT)
    )
    return [int(r.conversation_id) for r in rows]


CREDIT_EVENTS = ("assigned", "transferred", "invited")


async def credits(
    conn: AsyncConnection, shop_id: int, starts_at: datetime, ends_at: datetime
) -> list[tuple[int, int]]:
    """(conversation id, agent id) of each assignment, transfer and invitation of the
    conversations started in [starts_at, ends_at)."""
    e = t.conversation_events.c
    rows = await conn.execute(
        select(e.conversation_id, e.agent_id)
        .join(t.conversations, _c.id == e.conversation_id)
        .where(
            e.shop_id == shop_id,
            _c.shop_id == shop_id,
            _c.created_at >= starts_at,
            _c.created_at < ends_at,
            e.kind.in_(CREDIT_EVENTS),
            e.agent_id.is_not(None),
        )
        .distinct()
    )
    return [(int(r.conversation_id), int(r.agent_id)) for r in rows]
