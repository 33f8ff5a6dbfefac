"""The raw facts of conversations (DATA-1, DATA-2, DATA-3), read in the caller's transaction
and shaped for the pure rules of metrics.py."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.analytics.metrics import ConversationFacts, Holding, Message, OfflineReason, Sender
from kefu.storage import analytics as store


async def facts_of(
    conn: AsyncConnection, rows: Sequence[store.ConversationRow]
) -> list[ConversationFacts]:
    """The facts of these conversations of the shop (`rows` read with its id): events,
    messages and ratings."""
    ids = [r.id for r in rows]
    events = await store.fact_events(conn, ids)
    messages = await store.human_messages(conn, ids)
    ratings = await store.best_ratings(conn, ids)
    return build_facts(rows, events, messages, ratings)


async def facts_by_id(
    conn: AsyncConnection, shop_id: int, ids: Sequence[int]
) -> list[ConversationFacts]:
    return await facts_of(conn, await store.conversations_by_id(conn, shop_id, ids))


def build_facts(
    rows: Sequence[store.ConversationRow],
    events: Sequence[store.EventRow],
    messages: Sequence[store.MessageRow],
    ratings: dict[int, dict[int, int]] | None = None,
) -> list[ConversationFacts]:
    holdings: dict[int, list[Holding]] = defaultdict(list)
    invited: dict[int, set[int]] = defaultdict(set)
    offline: dict[int, OfflineReason] = {}
    for e in events:
        if e.kind in ("assigned", "transferred") and e.agent_id is not None:
            holdings[e.conversation_id].append(Holding(e.agent_id, e.at))
        elif e.kind == "invited" and e.agent_id is not None:
            invited[e.conversation_id].add(e.agent_id)
        elif e.kind == "offline":
            offline[e.conversation_id] = _offline_reason(e.cause)
    said: dict[int, list[Message]] = defaultdict(list)
    for m in messages:
        said[m.conversation_id].append(Message(m.at, Sender(m.sender), m.sender_id))
    return [
        ConversationFacts(
            r.id,
            r.created_at,
            human_requested_at=r.human_requested_at,
            holdings=tuple(holdings[r.id]),
            invited=frozenset(invited[r.id]),
            ended_at=r.ended_at,
            offline_reason=offline.get(r.id),
            messages=tuple(said[r.id]),
            ratings=dict((ratings or {}).get(r.id, {})),
        )
        for r in rows
    ]


def _offline_reason(cause: str | None) -> OfflineReason:
    try:
        return OfflineReason(cause or OfflineReason.NO_AGENT)
    except ValueError:
        return OfflineReason.NO_AGENT
