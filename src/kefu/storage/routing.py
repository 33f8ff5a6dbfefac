"""What routing reads and writes (ROUTE-1 to ROUTE-4, ROUTE-7): agents' loads as the database
says them now, the queue in its order, and assignments. Callers that decide hold the shop lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain import routing
from kefu.domain.conversation import ConversationState
from kefu.domain.ids import AccountId, ConversationId, GroupId
from kefu.domain.presence import AgentStatus, PresenceWindow
from kefu.storage import rollups as rollup_store
from kefu.storage import tables as t

_c = t.conversations.c
_a = t.accounts.c


async def agent_loads(
    conn: AsyncConnection, shop_id: int, window: PresenceWindow
) -> list[routing.AgentLoad]:
    """Each agent's load as the database says it now (ROUTE-7), and whether they are there
    as `window` sees it (PRES-1)."""
    # Two statements joined here, not one join in SQL: with the counts as a joined subquery,
    # PostgreSQL re-aggregated them once per account whenever its estimate of assigned rows
    # was stale (a burst of routing), which took routing from milliseconds to 0.4 s a call.
    counts = await conn.execute(
        select(_c.agent_id, func.count())
        .where(_c.shop_id == shop_id, _c.state == ConversationState.ASSIGNED)
        .group_by(_c.agent_id)
    )
    current: dict[int, int] = {agent_id: n for agent_id, n in counts}
    rows = await conn.execute(
        select(
            _a.id,
            _a.group_id,
            _a.status,
            _a.is_suspended,
            _a.has_im_permission,
            _a.reception_limit,
            _a.last_seen_at,
        ).where(_a.shop_id == shop_id, _a.is_disabled.is_(False))
    )
    return [
        routing.AgentLoad(
            agent_id=AccountId(r.id),
            group_id=GroupId(r.group_id) if r.group_id is not None else None,
            status=AgentStatus(r.status),
            is_suspended=r.is_suspended,
            has_im_permission=r.has_im_permission,
            limit=r.reception_limit,
            current=current.get(r.id, 0),
            is_present=window.is_present(r.id, r.last_seen_at),
        )
        for r in rows
    ]


async def queue_heads(
    conn: AsyncConnection,
    shop_id: int,
    group_id: GroupId | None,
    order: routing.QueueOrder,
    *,
    limit: int,
) -> list[routing.QueuedRequest]:
    """The first `limit` queued requests of a group, in the queue's order."""
    # The same order as the domain's queue_sorted, so that the LIMIT keeps the right heads.
    if order is routing.QueueOrder.LCFS:
        ordering = (_c.human_requested_at.desc(), _c.id.desc())
    else:
        ordering = (_c.human_requested_at.asc(), _c.id.asc())
    query = (
        select(_c.id, _c.group_id, _c.human_requested_at)
        .where(_c.shop_id == shop_id, _c.state == ConversationState.QUEUED, _c.group_id == group_id)
        .order_by(*ordering)
        .limit(limit)
    )
    return [
        routing.QueuedRequest(ConversationId(r.id), r.group_id, r.human_requested_at)
        for r in await conn.execute(query)
    ]


@dataclass(frozen=True, slots=True)
class Waiting:
    """A queued request with the consumer it is for (ROUTE-4)."""

    request: routing.QueuedRequest
    consumer_id: int


async def queued(conn: AsyncConnection, shop_id: int) -> list[Waiting]:
    rows = await conn.execute(
        select(_c.id, _c.consumer_id, _c.group_id, _c.human_requested_at).where(
            _c.shop_id == shop_id, _c.state == ConversationState.QUEUED
        )
    )
    return [
        Waiting(
            routing.QueuedRequest(ConversationId(r.id), r.group_id, r.human_requested_at),
            r.consumer_id,
        )
        for r in rows
    ]


async def queue_lengths(conn: AsyncConnection) -> dict[int, int]:
    """Consumers waiting per shop, for the shops where someone waits (one probe of the
    (shop, state) index per shop, never a scan of all conversations)."""
    waiting = (
        select(func.count())
        .where(_c.shop_id == t.shops.c.id, _c.state == ConversationState.QUEUED)
        .scalar_subquery()
    )
    rows = await conn.execute(select(t.shops.c.id, waiting))
    return {int(shop_id): int(count) for shop_id, count in rows if count}


async def shops_with_queue(conn: AsyncConnection) -> list[int]:
    queued = select(_c.id).where(_c.shop_id == t.shops.c.id, _c.state == ConversationState.QUEUED)
    return list((await conn.scalars(select(t.shops.c.id).where(queued.exists()))).all())


async def queued_groups(conn: AsyncConnection, shop_id: int) -> list[GroupId | None]:
    rows = await conn.scalars(
        select(_c.group_id)
        .where(_c.shop_id == shop_id, _c.state == ConversationState.QUEUED)
        .distinct()
    )
    return [GroupId(g) if g is not None else None for g in rows]


async def recent_assignments(
    conn: AsyncConnection, shop_id: int, since: datetime
) -> dict[int | None, int]:
    """How many conversations each group had assigned since `since` (ROUTE-4's pace)."""
    rows = await conn.execute(
        select(_c.group_id, func.count())
        .where(_c.shop_id == shop_id, _c.assigned_at > since)
        .group_by(_c.group_id)
    )
    return {r[0]: r[1] for r in rows}


async def assign(
    conn: AsyncConnection,
    shop_id: int,
    plan: Sequence[routing.Assignment],
    now: datetime,
    *,
    holder_role: str,
    cause: str,
) -> None:
    """Write planned assignments: the conversations' agents, their holders as participants,
    and one `assigned` event each. The caller holds the shop lock and planned from its loads."""
    if not plan:
        return
    await conn.execute(
        update(t.conversations)
        .where(_c.id == bindparam("b_id"))
        .values(
            state=ConversationState.ASSIGNED,
            agent_id=bindparam("b_agent"),
            assigned_at=now,
            awaiting_reply_since=now,
        ),
        [{"b_id": a.conversation_id, "b_agent": a.agent_id} for a in plan],
    )
    await conn.execute(
        insert(t.participants),
        [
            {
                "conversation_id": a.conversation_id,
                "account_id": a.agent_id,
                "shop_id": shop_id,
                "role": holder_role,
                "joined_at": now,
            }
            for a in plan
        ],
    )
    await conn.execute(
        insert(t.conversation_events),
        [
            {
                "shop_id": shop_id,
                "conversation_id": a.conversation_id,
                "kind": "assigned",
                "cause": cause,
                "agent_id": a.agent_id,
                "group_id": None,
                "at": now,
                "data": {},
            }
            for a in plan
        ],
    )
    await rollup_store.mark_dirty(conn, shop_id, [a.conversation_id for a in plan])  # DATA-1
