"""What the analytics read (DATA-1…DATA-3): the conversations started in a period, their
assignment, transfer, invitation and offline events, when consumers and agents wrote and the
best rating of each rated agent.
Bot and system messages are not read: no figure counts them. The rows of conversations are read
by their ids, which the caller read with the shop's id (a shop filter beside them would lead
SQLite's planner to scan the shop's messages instead of the conversations' own)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.storage import tables as t

# Events that decide who is credited with a conversation and how it ended without an agent.
FACT_EVENTS = ("assigned", "transferred", "invited", "offline")
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class ConversationRow:
    id: int
    created_at: datetime
    human_requested_at: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class EventRow:
    conversation_id: int
    kind: str
    cause: str | None
    agent_id: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class MessageRow:
    conversation_id: int
    sender: str
    sender_id: int | None
    at: datetime


async def conversations_started(
    conn: AsyncConnection, shop_id: int, starts_at: datetime, ends_at: datetime
) -> list[ConversationRow]:
    c = t.conversations.c
    rows = await conn.execute(
        select(c.id, c.created_at, c.human_requested_at, c.ended_at)
        .where(c.shop_id == shop_id, c.created_at >= starts_at, c.created_at < ends_at)
        .order_by(c.id)
    )
    return [ConversationRow(r.id, r.created_at, r.human_requested_at, r.ended_at) for r in rows]


async def conversations_by_id(
    conn: AsyncConnection, shop_id: int, conversation_ids: Sequence[int]
) -> list[ConversationRow]:
    c = t.conversations.c
    found: list[ConversationRow] = []
    for chunk in _chunks(conversation_ids):
        rows = await conn.execute(
            select(c.id, c.created_at, c.human_requested_at, c.ended_at)
            .where(c.shop_id == shop_id, c.id.in_(chunk))
            .order_by(c.id)
        )
        found += [
            ConversationRow(r.id, r.created_at, r.human_requested_at, r.ended_at) for r in rows
        ]
    return found


async def shop_conversation_count(conn: AsyncConnection, shop_id: int) -> int:
    c = t.conversations.c
    query = select(func.count()).select_from(t.conversations).where(c.shop_id == shop_id)
    return int(await conn.scalar(query) or 0)


async def fact_events(conn: AsyncConnection, conversation_ids: Sequence[int]) -> list[EventRow]:
    e = t.conversation_events.c
    found: list[EventRow] = []
    for chunk in _chunks(conversation_ids):
        rows = await conn.execute(
            select(e.conversation_id, e.kind, e.cause, e.agent_id, e.at)
            .where(e.conversation_id.in_(chunk), e.kind.in_(FACT_EVENTS))
            .order_by(e.id)
        )
        found += [EventRow(r.conversation_id, r.kind, r.cause, r.agent_id, r.at) for r in rows]
    return found


async def human_messages(
    conn: AsyncConnection, conversation_ids: Sequence[int]
) -> list[MessageRow]:
    m = t.messages.c
    found: list[MessageRow] = []
    for chunk in _chunks(conversation_ids):
        rows = await conn.execute(
            select(m.conversation_id, m.sender, m.sender_id, m.created_at)
            .where(m.conversation_id.in_(chunk), m.sender.in_(("consumer", "agent")))
            .order_by(m.conversation_id, m.seq)
        )
        found += [MessageRow(r.conversation_id, r.sender, r.sender_id, r.created_at) for r in rows]
    return found


async def best_ratings(
    conn: AsyncConnection, conversation_ids: Sequence[int]
) -> dict[int, dict[int, int]]:
    """RATE-2: the best stars each conversation gave each rated agent (DATA-1, DATA-2)."""
    r = t.ratings.c
    found: dict[int, dict[int, int]] = {}
    for chunk in _chunks(conversation_ids):
        rows = await conn.execute(
            select(r.conversation_id, r.agent_id, func.max(r.stars))
            .where(r.conversation_id.in_(chunk))
            .group_by(r.conversation_id, r.agent_id)
        )
        for conversation_id, agent_id, stars in rows:
            found.setdefault(conversation_id, {})[agent_id] = int(stars)
    return found


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


async def consumer_texts(
    conn: AsyncConnection, shop_id: int, conversation_ids: Sequence[int], *, max_chars: int
) -> dict[int, list[str]]:
    """What consumers wrote in each conversation, in order, up to `max_chars` each (DATA-6)."""
    m = t.messages.c
    found: dict[int, list[str]] = {}
    used: dict[int, int] = {}
    for chunk in _chunks(conversation_ids):
        rows = await conn.execute(
            select(m.conversation_id, m.body)
            .where(
                m.shop_id == shop_id,
                m.conversation_id.in_(chunk),
                m.sender == "consumer",
                m.kind == "text",
            )
            .order_by(m.conversation_id, m.seq)
        )
        for r in rows:
            room = max_chars - used.get(r.conversation_id, 0)
            if room > 0:
                found.setdefault(r.conversation_id, []).append(r.body[:room])
                used[r.conversation_id] = used.get(r.conversation_id, 0) + len(r.body[:room])
    return found
