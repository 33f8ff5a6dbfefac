"""Human requests, the queue and assignment (ROUTE-1 to ROUTE-4, ROUTE-7).

Every decision is taken under the shop lock with loads read from the database in the same
transaction, so that several processes reach the same, safe assignment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain import routing
from kefu.domain.conversation import ConversationState, ParticipantRole
from kefu.domain.ids import AccountId, ConversationId, GroupId
from kefu.domain.presence import AgentStatus
from kefu.domain.shop import ShopSettings
from kefu.services import events, greetings
from kefu.services.context import Context
from kefu.storage import greetings as greetings_store
from kefu.storage import repos
from kefu.storage import tables as t
from kefu.storage.db import UnitOfWork
from kefu.storage.greetings import Greeting
from kefu.storage.views import ConversationView, conversation_views


async def agent_loads(conn: AsyncConnection, shop_id: int) -> list[routing.AgentLoad]:
    """Each agent's load as the database says it now (ROUTE-7)."""
    c = t.conversations.c
    # Two statements joined here, not one join in SQL: with the counts as a joined subquery,
    # PostgreSQL re-aggregated them once per account whenever its estimate of assigned rows
    # was stale (a burst of routing), which took routing from milliseconds to 0.4 s a call.
    counts = await conn.execute(
        select(c.agent_id, func.count())
        .where(c.shop_id == shop_id, c.state == ConversationState.ASSIGNED)
        .group_by(c.agent_id)
    )
    current: dict[int, int] = {agent_id: n for agent_id, n in counts}
    a = t.accounts.c
    rows = await conn.execute(
        select(
            a.id, a.group_id, a.status, a.is_suspended, a.has_im_permission, a.reception_limit
        ).where(a.shop_id == shop_id)
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
        )
        for r in rows
    ]


async def assign_from_queue(
    ctx: Context,
    tx: UnitOfWork,
    shop_id: int,
    now: datetime,
    *,
    settings: ShopSettings | None = None,
    shop_greetings: Sequence[Greeting] | None = None,
) -> list[int]:
    """ROUTE-2: assign queued requests while capacity allows. Caller holds the shop lock.

    `settings` and `shop_greetings`, if given, were read by the caller before the lock (they
    are not load; ROUTE-7 is about loads).
    """
    settings = settings or await repos.shop_settings(tx.conn, shop_id)
    agents = await agent_loads(tx.conn, shop_id)
    free: dict[GroupId | None, int] = {}
    for agent in agents:
        if routing.is_eligible(agent, agent.group_id):
            free[agent.group_id] = free.get(agent.group_id, 0) + agent.limit - agent.current
    queue: list[routing.QueuedRequest] = []
    for group_id, room in free.items():
        queue += await _queued(tx.conn, shop_id, group_id, settings.queue_order, limit=room)
    plan = routing.plan_assignments(queue, agents, settings.queue_order, ctx.rng)
    groups: dict[int, int | None] = {a.agent_id: a.group_id for a in agents}
    await apply_assignments(
        tx, shop_id, plan, now, cause="routing", shop_greetings=shop_greetings, groups=groups
    )
    return [a.conversation_id for a in plan]


async def _queued(
    conn: AsyncConnection,
    shop_id: int,
    group_id: GroupId | None,
    order: routing.QueueOrder,
    *,
    limit: int | None = None,
) -> list[routing.QueuedRequest]:
    c = t.conversations.c
    # The same order as the domain's queue_sorted, so that the LIMIT keeps the right heads.
    if order is routing.QueueOrder.LCFS:
        ordering = (c.human_requested_at.desc(), c.id.desc())
    else:
        ordering = (c.human_requested_at.asc(), c.id.asc())
    query = (
        select(c.id, c.group_id, c.human_requested_at)
        .where(c.shop_id == shop_id, c.state == ConversationState.QUEUED, c.group_id == group_id)
        .order_by(*ordering)
    )
    if limit is not None:
        query = query.limit(limit)
    return [
        routing.QueuedRequest(ConversationId(r.id), r.group_id, r.human_requested_at)
        for r in await conn.execute(query)
    ]


async def apply_assignments(
    tx: UnitOfWork,
    shop_id: int,
    plan: Sequence[routing.Assignment],
    now: datetime,
    *,
    cause: str,
    shop_greetings: Sequence[Greeting] | None = None,
    groups: Mapping[int, int | None] | None = None,
) -> None:
    """Write planned assignments; the caller holds the shop lock and planned them from its loads.

    `shop_greetings` and `groups` (each agent's group), if given, spare the welcomes' reads.
    """
    if not plan:
        return
    c = t.conversations.c
    await tx.conn.execute(
        update(t.conversations)
        .where(c.id == bindparam("b_id"))
        .values(
            state=ConversationState.ASSIGNED,
            agent_id=bindparam("b_agent"),
            assigned_at=now,
            awaiting_reply_since=now,
        ),
        [{"b_id": a.conversation_id, "b_agent": a.agent_id} for a in plan],
    )
    await tx.conn.execute(
        insert(t.participants),
        [
            {
                "conversation_id": a.conversation_id,
                "account_id": a.agent_id,
                "shop_id": shop_id,
                "role": ParticipantRole.HOLDER,
                "joined_at": now,
            }
            for a in plan
        ],
    )
    await tx.conn.execute(
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
    await greetings.post_welcomes(
        tx.conn,
        shop_id,
        [(a.conversation_id, a.agent_id) for a in plan],
        now,
        items=shop_greetings,
        groups=groups,
    )


async def drain_queue(ctx: Context, shop_id: int) -> list[int]:
    """ROUTE-2: assign what waits in the shop, at once; returns what was assigned.

    Calls of one process share passes with each other and with `request_drain`; the
    conversations a pass assigned are returned to one of the calls it served, so that each is
    reported once. Not knowing whether anyone has room, a pass started for it looks first.
    """
    found = await ctx.drains.run(
        shop_id, lambda cover: _drain_pass(ctx, shop_id, cover, look_first=True), claim=True
    )
    return found or []


async def request_drain(ctx: Context, shop_id: int) -> None:
    """ROUTE-2: capacity freed (an end, a status or limit change, committed by the caller):
    drain the shop's queue at once, and return when a pass that saw that change has committed.

    Requests of this process coalesce: while a pass runs, the next requests share one more
    pass (services/coalesce.py).
    """
    await ctx.drains.run(shop_id, lambda cover: _drain_pass(ctx, shop_id, cover, look_first=False))


async def _drain_pass(
    ctx: Context, shop_id: int, cover: Callable[[], None], *, look_first: bool
) -> list[int]:
    """One pass; its assignments are published beside the next pass, after commit."""
    views = await _assign_queued(ctx, shop_id, on_locked=cover, look_first=look_first)
    if views:
        ctx.drains.beside(publish_views(ctx, shop_id, views))
    return [v.id for v in views]


async def _assign_queued(
    ctx: Context, shop_id: int, *, on_locked: Callable[[], None], look_first: bool
) -> list[ConversationView]:
    """One routing pass: under the shop lock, loads read again, decide and commit (ROUTE-7);
    returns the views of the conversations it assigned, built in its transaction.

    `look_first`: first, without the lock, look for an eligible agent with room, and stop if
    none has any (whoever frees capacity after that look asks for a drain after commit).
    `on_locked` runs once the lock is held, before the reads that decide (coalesce.py).
    """
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        if look_first and not any(
            routing.is_eligible(a, None) for a in await agent_loads(tx.conn, shop_id)
        ):
            return []
        settings, shop_greetings = await greetings_store.with_settings(tx.conn, shop_id)
        await tx.lock_shop(shop_id)
        on_locked()
        assigned = await assign_from_queue(
            ctx, tx, shop_id, now, settings=settings, shop_greetings=shop_greetings
        )
        views = await conversation_views(tx.conn, assigned, now=now)
        await tx.commit()
    return views


async def sweep_queues(ctx: Context) -> list[int]:
    """ROUTE-2 safety net, run by the scheduler: drain every shop where a queued request has an
    eligible agent with room. That happens only if a process died between an end (or a status
    or limit change) and its drain. Read without the lock, it is a hint: the drain decides.
    """
    shop_ids = []
    async with ctx.db.read() as tx:
        for shop_id in await _shops_with_queue(tx.conn):
            groups = await _queued_groups(tx.conn, shop_id)
            agents = await agent_loads(tx.conn, shop_id)
            if any(routing.is_eligible(a, g) for g in groups for a in agents):
                shop_ids.append(shop_id)
    for shop_id in shop_ids:
        await request_drain(ctx, shop_id)
    return shop_ids


async def _shops_with_queue(conn: AsyncConnection) -> list[int]:
    c = t.conversations.c
    queued = select(c.id).where(c.shop_id == t.shops.c.id, c.state == ConversationState.QUEUED)
    return list((await conn.scalars(select(t.shops.c.id).where(queued.exists()))).all())


async def _queued_groups(conn: AsyncConnection, shop_id: int) -> list[GroupId | None]:
    c = t.conversations.c
    rows = await conn.scalars(
        select(c.group_id)
        .where(c.shop_id == shop_id, c.state == ConversationState.QUEUED)
        .distinct()
    )
    return [GroupId(g) if g is not None else None for g in rows]


async def announce(
    ctx: Context, shop_id: int, conversation_ids: Sequence[int]
) -> list[ConversationView]:
    """After commit: tell consumers and agents, and refresh the queue positions.

    Returns the views it published, in the order asked, for the caller to return.
    """
    now = ctx.clock.now()
    async with ctx.db.read() as tx:
        views = await conversation_views(tx.conn, list(conversation_ids), now=now)
    await publish_views(ctx, shop_id, views)
    return views


async def publish_views(ctx: Context, shop_id: int, views: Sequence[ConversationView]) -> None:
    """After commit: publish views already built, and refresh the queue positions."""
    for view in views:
        await events.publish_conversation(ctx, view)
    if ctx.on_queue_changed is not None:
        ctx.on_queue_changed(shop_id)


async def queue_snapshot(ctx: Context, shop_id: int) -> list[tuple[int, int, int, int | None]]:
    """ROUTE-4: (conversation, consumer, position, wait in seconds) per queued request."""
    now = ctx.clock.now()
    async with ctx.db.read() as tx:
        settings = await repos.shop_settings(tx.conn, shop_id)
        c = t.conversations.c
        rows = (
            await tx.conn.execute(
                select(c.id, c.consumer_id, c.group_id, c.human_requested_at).where(
                    c.shop_id == shop_id, c.state == ConversationState.QUEUED
                )
            )
        ).all()
        paces = await _recent_assignments(tx.conn, shop_id, now)
    requests = [
        routing.QueuedRequest(ConversationId(r.id), r.group_id, r.human_requested_at) for r in rows
    ]
    positions = routing.queue_positions(requests, settings.queue_order)
    out = []
    for r in rows:
        position = positions[ConversationId(r.id)]
        wait = routing.estimate_wait(position, paces.get(r.group_id, 0))
        out.append((r.id, r.consumer_id, position, int(wait.total_seconds()) if wait else None))
    return out


async def _recent_assignments(
    conn: AsyncConnection, shop_id: int, now: datetime
) -> dict[int | None, int]:
    c = t.conversations.c
    rows = await conn.execute(
        select(c.group_id, func.count())
        .where(c.shop_id == shop_id, c.assigned_at > now - routing.THROUGHPUT_WINDOW)
        .group_by(c.group_id)
    )
    return {r[0]: r[1] for r in rows}
