"""What the sales attribution reads (DATA-7): when humans took a shop's conversations (the
assignment and transfer events, with the conversation's consumer) and those consumers'
orders. Nothing here decides who counts: analytics/sales.py does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.storage import tables as t

SERVICE_EVENTS = ("assigned", "transferred")
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class ServiceRow:
    consumer_id: int
    agent_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class OrderRow:
    consumer_id: int
    amount: str
    ordered_at: datetime
    paid_at: datetime | None


async def services(
    conn: AsyncConnection, shop_id: int, starts_at: datetime, ends_at: datetime
) -> list[ServiceRow]:
    """The shop's assignments and transfers to an agent in [starts_at, ends_at), oldest first."""
    e, c = t.conversation_events.c, t.conversations.c
    rows = await conn.execute(
        select(c.consumer_id, e.agent_id, e.at)
        .select_from(t.conversation_events.join(t.conversations, c.id == e.conversation_id))
        .where(
            e.shop_id == shop_id,
            e.kind.in_(SERVICE_EVENTS),
            e.at >= starts_at,
            e.at < ends_at,
            e.agent_id.is_not(None),
            c.shop_id == shop_id,
        )
        .order_by(e.at, e.id)
    )
    return [ServiceRow(r.consumer_id, r.agent_id, r.at) for r in rows]


async def orders(
    conn: AsyncConnection,
    shop_id: int,
    consumer_ids: Sequence[int],
    *,
    ordered_since: datetime,
    until: datetime,
) -> list[OrderRow]:
    """The consumers' orders in this shop ordered or paid in [ordered_since, until)."""
    o = t.orders.c
    found: list[OrderRow] = []
    ids = sorted(set(consumer_ids))
    for i in range(0, len(ids), _CHUNK):
        rows = await conn.execute(
            select(o.consumer_id, o.amount, o.ordered_at, o.paid_at).where(
                o.shop_id == shop_id,
                o.consumer_id.in_(ids[i : i + _CHUNK]),
                or_(
                    and_(o.ordered_at >= ordered_since, o.ordered_at < until),
                    and_(o.paid_at >= ordered_since, o.paid_at < until),
                ),
            )
        )
        found += [OrderRow(r.consumer_id, r.amount, r.ordered_at, r.paid_at) for r in rows]
    return found
