"""Human requests, the queue and assignment (ROUTE-1 to ROUTE-4, ROUTE-7).

Every decision is taken under the shop lock with loads read from the database in the same
transaction, so that several processes reach the same, safe assignment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from kefu import telemetry
from kefu.domain import routing
from kefu.domain.conversation import ParticipantRole
from kefu.domain.ids import GroupId
from kefu.domain.shop import ShopSettings
from kefu.services import events, greetings
from kefu.services.context import Context, presence_window
from kefu.services.views import ConversationView, conversation_views
from kefu.storage import greetings as greetings_store
from kefu.storage import routing as store
from kefu.storage import shops as shop_store
from kefu.storage.db import UnitOfWork
from kefu.storage.greetings import Greeting


async def assign_waiting(
    ctx: Context,
    tx: UnitOfWork,
    shop_id: int,
    now: datetime,
    *,
    settings: ShopSettings | None = None,
    shop_greetings: Sequence[Greeting] | None = None,
) -> list[int]:
    """ROUTE-1, ROUTE-2: assign queued requests while capacity allows, in the caller's
    transaction. The one way to assign now; the caller holds the shop lock.

    `settings` and `shop_greetings`, if given, were read by the caller before the lock (they
    are not load; ROUTE-7 is about loads).
    """
    settings = settings or await shop_store.shop_settings(tx.conn, shop_id)
    agents = await store.agent_loads(tx.conn, shop_id, presence_window(ctx, now), with_room=True)
    free: dict[GroupId | None, int] = {}
    for agent in agents:
        if routing.is_eligible(agent, agent.group_id):
            free[agent.group_id] = free.get(agent.group_id, 0) + agent.limit - agent.current
    queue = await store.queue_heads(tx.conn, shop_id, free, settings.queue_order)
    plan = routing.plan_assignments(queue, agents, settings.queue_order, ctx.rng)
    groups: dict[int, int | None] = {a.agent_id: a.group_id for a in agents}
    # OFFL-3: the consumers served get their offline entries processed, in the same writes.
    await store.assign_queued(
        tx.conn, shop_id, plan, now, holder_role=ParticipantRole.HOLDER, cause="routing"
    )
    served = [a.conversation_id for a in plan]
    requested = {q.conversation_id: q.human_requested_at for q in queue}
    waits = [now - requested[c] for c in served if c in requested]
    if waits:
        tx.on_commit(lambda: _observe_waits(waits))
    await greetings.post_welcomes(
        tx.conn,
        shop_id,
        [(a.conversation_id, a.agent_id) for a in plan],
        now,
        items=shop_greetings,
        groups=groups,
    )
    return [a.conversation_id for a in plan]


async def assign_if_unlocked(
    ctx: Context, tx: UnitOfWork, shop_id: int, now: datetime
) -> list[int] | None:
    """ROUTE-2: the routing pass, in the caller's transaction that has just freed capacity (the
    agents' ends), if the shop lock is free at once; None when another transaction holds it,
    and then the caller drains after commit. The caller does not wait for the lock: an end
    holds its conversations' rows only, and its transaction must not be held up by the
    shop's routing (nor deadlock with it). The pass reads the loads after the lock, as
    `_assign_queued` does, and sees the caller's ends (ROUTE-7)."""
    rows = await tx.try_lock_shop_reading(shop_id, greetings_store.with_settings_query(shop_id))
    if rows is None:
        return None
    settings, shop_greetings = greetings_store.settings_of(rows)
    return await assign_waiting(
        ctx, tx, shop_id, now, settings=settings, shop_greetings=shop_greetings
    )


async def _observe_waits(waits: list[timedelta]) -> None:
    telemetry.assignment_waits(waits)


async def drain(ctx: Context, shop_id: int, *, freed_capacity: bool = True) -> list[int]:
    """ROUTE-2: assign what waits in the shop at once; the one way to ask for assignments
    outside a transaction. Returns when a pass that started after this call has committed.

    `freed_capacity`: the caller has just committed an end or a status or limit change, so the
    pass runs at once. Otherwise (a poll) the pass first looks, without the lock, for an
    eligible agent with room, and the conversations it assigned are returned to this caller
    (each to one caller only, so that each is reported once; others get []).
    Drains of one process share passes: while one runs, later ones share the next
    (services/coalesce.py).
    """
    look_first = not freed_capacity
    found = await ctx.drains.run(
        shop_id,
        lambda cover: _drain_pass(ctx, shop_id, cover, look_first=look_first),
        claim=look_first,
    )
    return found or []


async def _drain_pass(
    ctx: Context, shop_id: int, cover: Callable[[], None], *, look_first: bool
) -> list[int]:
    """One pass; its assignments are announced beside the next pass, after commit: their
    views are read then, outside the shop lock, as `announce` reads them for any caller."""
    assigned = await _assign_queued(ctx, shop_id, on_locked=cover, look_first=look_first)
    if assigned:
        ctx.drains.beside(announce(ctx, shop_id, assigned))
    return assigned


async def _assign_queued(
    ctx: Context, shop_id: int, *, on_locked: Callable[[], None], look_first: bool
) -> list[int]:
    """One routing pass: under the shop lock, loads read again, decide and commit (ROUTE-7);
    returns the conversations it assigned. Under the lock: the lock (read with the shop's
    settings and greetings), the loads, the queue's heads, the writes (one statement on
    PostgreSQL, no welcome set) and the commit.

    `look_first`: first, without the lock, look for an eligible agent with room, and stop if
    none has any (whoever frees capacity after that look asks for a drain after commit).
    `on_locked` runs once the lock is held, before the reads that decide (coalesce.py).
    """
    now = ctx.clock.now()
    if look_first:
        async with ctx.db.glance() as look:  # one statement, outside any transaction
            loads = await store.agent_loads(
                look.conn, shop_id, presence_window(ctx), with_room=True
            )
        if not any(routing.is_eligible(a, None) for a in loads):
            return []
    async with ctx.db.uow() as tx:
        # The settings and greetings are not load: read with the lock, in its round trip.
        settings, shop_greetings = greetings_store.settings_of(
            await tx.lock_shop_reading(shop_id, greetings_store.with_settings_query(shop_id))
        )
        on_locked()
        assigned = await assign_waiting(
            ctx, tx, shop_id, now, settings=settings, shop_greetings=shop_greetings
        )
        await tx.commit()
    return assigned


async def queue_lengths(ctx: Context) -> dict[int, int]:
    """Consumers waiting per shop, for the operator's metrics."""
    async with ctx.db.read() as tx:
        return await store.queue_lengths(tx.conn)


async def sweep_queues(ctx: Context) -> list[int]:
    """ROUTE-2 safety net, run by the scheduler: drain every shop where a queued request has an
    eligible agent with room. That happens only if a process died between an end (or a status
    or limit change) and its drain. Read without the lock, it is a hint: the drain decides.
    """
    shop_ids = []
    async with ctx.db.read() as tx:
        for shop_id in await store.shops_with_queue(tx.conn):
            groups = await store.queued_groups(tx.conn, shop_id)
            agents = await store.agent_loads(tx.conn, shop_id, presence_window(ctx), with_room=True)
            if any(routing.is_eligible(a, g) for g in groups for a in agents):
                shop_ids.append(shop_id)
    for shop_id in shop_ids:
        await drain(ctx, shop_id)
    return shop_ids


async def announce(
    ctx: Context, shop_id: int, conversation_ids: Sequence[int]
) -> list[ConversationView]:
    """After commit: tell consumers and agents, and refresh the queue positions.

    Returns the views it published, in the order asked, for the caller to return.
    """
    now = ctx.clock.now()
    async with ctx.db.glance() as tx:  # one statement
        views = await conversation_views(tx.conn, list(conversation_ids), now=now)
    await publish_views(ctx, shop_id, views)
    return views


async def publish_views(ctx: Context, shop_id: int, views: Sequence[ConversationView]) -> None:
    """After commit: publish views already built, and refresh the queue positions."""
    for view in views:
        await events.publish_conversation(ctx, view)
    if ctx.on_queue_changed is not None:
        ctx.on_queue_changed(shop_id)


@dataclass(frozen=True, slots=True)
class QueuePlace:
    """ROUTE-4: what a queued consumer is told."""

    conversation_id: int
    consumer_id: int
    position: int
    wait_s: int | None
    # Some agent of the group is online and there (PRES-1), if perhaps full.
    agents_online: bool


async def queue_snapshot(ctx: Context, shop_id: int) -> list[QueuePlace]:
    """ROUTE-4: each queued request's place, and its wait at the group's recent pace, unless
    no agent of the group is on duty (then the consumer is told so, with no estimate)."""
    now = ctx.clock.now()
    async with ctx.db.read() as tx:
        settings = await shop_store.shop_settings(tx.conn, shop_id)
        waiting = await store.queued(tx.conn, shop_id)
        paces = await store.recent_assignments(tx.conn, shop_id, now - routing.THROUGHPUT_WINDOW)
        agents = await store.agent_loads(tx.conn, shop_id, presence_window(ctx, now))
    positions = routing.queue_positions([w.request for w in waiting], settings.queue_order)
    on_duty = {
        g: any(routing.is_on_duty(a, g) for a in agents)
        for g in {w.request.group_id for w in waiting}
    }
    out: list[QueuePlace] = []
    for w in waiting:
        group_id = w.request.group_id
        position = positions[w.request.conversation_id]
        wait = routing.estimate_wait(position, paces.get(group_id, 0), on_duty=on_duty[group_id])
        seconds = int(wait.total_seconds()) if wait is not None else None
        out.append(
            QueuePlace(
                w.request.conversation_id, w.consumer_id, position, seconds, on_duty[group_id]
            )
        )
    return out
