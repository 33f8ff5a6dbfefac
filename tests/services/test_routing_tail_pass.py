"""ROUTE-2, ROUTE-3, ROUTE-7: a routing pass under the shop lock reads the loads and the queue
heads of every group in one statement each and, on PostgreSQL, writes in one; what it writes is
what the separate statements wrote (holders, `assigned` events in plan order, OFFL-3)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, insert, select

from kefu.domain import routing
from kefu.domain.conversation import ConversationState, ParticipantRole
from kefu.domain.ids import AccountId, ConversationId, GroupId
from kefu.services.context import Context, presence_window
from kefu.services.routing import drain
from kefu.storage import greetings as greetings_store
from kefu.storage import routing as store
from kefu.storage import shops as shop_store
from kefu.storage import tables as t
from support import AgentSpec, make_shop, recorded_statements

_c = t.conversations.c


async def _enqueue(
    ctx: Context, shop_id: int, groups: list[int | None], start: datetime
) -> list[int]:
    """One queued conversation per entry of `groups`, a millisecond apart, in that order."""
    ids = []
    async with ctx.db.uow() as tx:
        for i, group_id in enumerate(groups):
            at = start + timedelta(milliseconds=i)
            consumer_id = await tx.conn.scalar(
                insert(t.consumers)
                .values(shop_id=shop_id, uid=f"c{i}", nickname=f"c{i}", created_at=at)
                .returning(t.consumers.c.id)
            )
            ids.append(
                await tx.conn.scalar(
                    insert(t.conversations)
                    .values(
                        shop_id=shop_id,
                        consumer_id=consumer_id,
                        state=ConversationState.QUEUED,
                        group_id=group_id,
                        entry={"source": "direct"},
                        created_at=at,
                        human_requested_at=at,
                    )
                    .returning(_c.id)
                )
            )
        await tx.commit()
    return ids


async def test_route_7_a_drain_pass_holds_the_lock_for_few_statements(ctx: Context) -> None:
    shop = await make_shop(
        ctx.db,
        groups=2,
        agents=[AgentSpec("a", group=0, limit=2), AgentSpec("b", group=1, limit=1)],
        clock=ctx.clock,
    )
    g0, g1 = shop.group_ids
    ids = await _enqueue(ctx, shop.shop_id, [g0, g1, g0, g1, g0], ctx.clock.now())
    with recorded_statements(ctx.db) as seen:
        assigned = await drain(ctx, shop.shop_id, freed_capacity=False)
    assert sorted(assigned) == sorted([ids[0], ids[1], ids[2]])
    # SQLite's lock is its write lock, taken at BEGIN IMMEDIATE: the whole pass holds it.
    lock = "BEGIN IMMEDIATE" if ctx.db.is_sqlite else "pg_advisory_xact_lock"
    locked = next(i for i, s in enumerate(seen) if lock in s)
    under_lock = seen[locked + 1 : seen.index("COMMIT", locked)]
    # PostgreSQL: the loads, the heads of both groups, the writes (the views come after
    # commit). SQLite: the settings too, and the writes one table at a time; the look for an
    # agent with room came before, outside the write lock.
    assert len(under_lock) == (8 if ctx.db.is_sqlite else 3), under_lock
    look = next(i for i, s in enumerate(seen) if "reception_limit" in s)
    assert look < locked
    async with ctx.db.read() as tx:
        holders = (
            await tx.conn.execute(
                select(t.participants.c.conversation_id, t.participants.c.role).where(
                    t.participants.c.shop_id == shop.shop_id
                )
            )
        ).all()
        events = (
            await tx.conn.scalars(
                select(t.conversation_events.c.conversation_id)
                .where(t.conversation_events.c.kind == "assigned")
                .order_by(t.conversation_events.c.id)
            )
        ).all()
    assert sorted(holders) == sorted((c, ParticipantRole.HOLDER) for c in assigned)
    assert list(events) == assigned


async def test_route_3_queue_heads_of_every_group_in_one_statement(ctx: Context) -> None:
    shop = await make_shop(ctx.db, groups=2, agents=[], clock=ctx.clock)
    g0, g1 = shop.group_ids
    groups: list[int | None] = [g0, g1, None, g0, None, g1, g0, g1, g0]
    ids = await _enqueue(ctx, shop.shop_id, groups, ctx.clock.now())
    rooms: dict[GroupId | None, int] = {GroupId(g0): 3, GroupId(g1): 1, None: 1}
    for order in routing.QueueOrder:
        expected: list[int] = []
        for group_id, room in rooms.items():
            own = [i for i, g in zip(ids, groups, strict=True) if g == group_id]
            expected += (own if order is routing.QueueOrder.FCFS else own[::-1])[:room]
        async with ctx.db.read() as tx:
            heads = await store.queue_heads(tx.conn, shop.shop_id, rooms, order)
        assert sorted(h.conversation_id for h in heads) == sorted(expected), order
    async with ctx.db.read() as tx:
        assert await store.queue_heads(tx.conn, shop.shop_id, {GroupId(g1): 0}, order) == []
        only = await store.queue_heads(
            tx.conn, shop.shop_id, {GroupId(g1): 5}, routing.QueueOrder.FCFS
        )
    assert [h.conversation_id for h in only] == [ids[1], ids[5], ids[7]]


async def test_route_7_assign_queued_writes_and_serves_offline_entries(ctx: Context) -> None:
    shop = await make_shop(
        ctx.db, agents=[AgentSpec("a", limit=5), AgentSpec("b", limit=5)], clock=ctx.clock
    )
    now = ctx.clock.now()
    ids = await _enqueue(ctx, shop.shop_id, [shop.group_ids[0]] * 3, now)
    a, b = AccountId(shop.accounts["a"]), AccountId(shop.accounts["b"])
    plan = [
        routing.Assignment(ConversationId(ids[2]), a),
        routing.Assignment(ConversationId(ids[0]), b),
    ]
    async with ctx.db.uow() as tx:
        consumers = (
            await tx.conn.scalars(select(_c.consumer_id).where(_c.id.in_(ids)).order_by(_c.id))
        ).all()
        await tx.conn.execute(
            insert(t.offline_entries),
            [
                {"shop_id": shop.shop_id, "consumer_id": k, "cause": "offline"}
                | {"first_at": now, "last_at": now}
                for k in consumers
            ],
        )
        await store.assign_queued(
            tx.conn, shop.shop_id, plan, now, holder_role=ParticipantRole.HOLDER, cause="routing"
        )
        await tx.commit()
    e = t.conversation_events.c
    async with ctx.db.read() as tx:
        rows = (
            await tx.conn.execute(select(_c.id, _c.state, _c.agent_id).where(_c.id.in_(ids)))
        ).all()
        events = (
            await tx.conn.execute(
                select(e.conversation_id, e.agent_id, e.cause, e.at)
                .where(e.kind == "assigned")
                .order_by(e.id)
            )
        ).all()
        served = dict(
            (
                await tx.conn.execute(
                    select(t.offline_entries.c.consumer_id, t.offline_entries.c.processed_cause)
                )
            ).all()
        )
        dirty = set((await tx.conn.scalars(select(t.analytics_dirty.c.conversation_id))).all())
        loads = {
            x.agent_id: x.current
            for x in await store.agent_loads(tx.conn, shop.shop_id, presence_window(ctx))
        }
    assert sorted(rows) == sorted(
        [(ids[0], "assigned", b), (ids[1], "queued", None), (ids[2], "assigned", a)]
    )
    assert [tuple(r) for r in events] == [(ids[2], a, "routing", now), (ids[0], b, "routing", now)]
    assert served == {consumers[0]: "served", consumers[1]: None, consumers[2]: "served"}
    assert loads[a] == 1 and loads[b] == 1
    assert dirty >= {ids[0], ids[2]} and ids[1] not in dirty  # DATA-1: folded again


async def test_route_7_the_pass_takes_the_shop_lock_with_the_settings_read(ctx: Context) -> None:
    shop = await make_shop(ctx.db, agents=[AgentSpec("a")], clock=ctx.clock)
    async with ctx.db.uow() as tx:
        rows = await tx.lock_shop_reading(
            shop.shop_id, greetings_store.with_settings_query(shop.shop_id)
        )
        settings, items = greetings_store.settings_of(rows)
        assert len(rows) == 1 and items == []
        assert settings == await shop_store.shop_settings(tx.conn, shop.shop_id)
        if not ctx.db.is_sqlite:  # SQLite's lock is its writer's, held since BEGIN IMMEDIATE
            async with ctx.db.read() as other:
                taken = await other.conn.scalar(
                    select(func.pg_try_advisory_xact_lock(shop.shop_id))
                )
            assert taken is False  # held by `tx` until it ends
        # A shop that is not there: no row, and the lock is taken all the same.
        assert await tx.lock_shop_reading(0, greetings_store.with_settings_query(0)) == []
        if not ctx.db.is_sqlite:
            async with ctx.db.read() as other:
                assert await other.conn.scalar(select(func.pg_try_advisory_xact_lock(0))) is False


async def test_route_1_the_pass_reads_only_agents_with_room(ctx: Context) -> None:
    """The routing pass reads the agents `routing.is_eligible` may pass (but for presence,
    which the process judges), so that a busy shop's full agents cost it nothing."""
    shop = await make_shop(
        ctx.db,
        agents=[
            AgentSpec("free", limit=2),
            AgentSpec("full", limit=1),
            AgentSpec("away", status="busy"),
            AgentSpec("suspended", suspended=True),
            AgentSpec("no_im", im=False),
            AgentSpec("no_workbench"),
            AgentSpec("ungrouped", group=None),
        ],
        clock=ctx.clock,
    )
    await _enqueue(ctx, shop.shop_id, [shop.group_ids[0]] * 2, ctx.clock.now())
    async with ctx.db.uow() as tx:
        await tx.conn.execute(
            insert(t.permission_grants).values(
                account_id=shop.accounts["no_workbench"],
                feature="workbench",
                shop_id=shop.shop_id,
                is_granted=False,
            )
        )
        await tx.conn.execute(
            t.conversations.update()
            .where(_c.id == select(func.min(_c.id)).scalar_subquery())
            .values(state=ConversationState.ASSIGNED, agent_id=shop.accounts["full"])
        )
        await tx.commit()
    window = presence_window(ctx)
    async with ctx.db.read() as tx:
        every = await store.agent_loads(tx.conn, shop.shop_id, window)
        with_room = await store.agent_loads(tx.conn, shop.shop_id, window, with_room=True)
    names = {v: k for k, v in shop.accounts.items()}
    assert {names[a.agent_id] for a in with_room} == {"free", "ungrouped"}
    assert sorted(with_room, key=lambda a: a.agent_id) == sorted(
        (a for a in every if routing.is_eligible(a, None)), key=lambda a: a.agent_id
    )
    assert len(every) == len(shop.accounts)
