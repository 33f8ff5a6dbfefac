"""Offline messages (OFFL-1 to OFFL-4), the blacklist (ROUTE-5) and service hours (ROUTE-6) as
use cases on a real database (SQLite and PostgreSQL), with an injected clock."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from kefu import errors
from kefu.clock import FakeClock
from kefu.domain.messages import MessageKind, SenderKind
from kefu.domain.presence import Role
from kefu.domain.shop import ShopSettings
from kefu.offline import auto_assign, blacklist
from kefu.offline import service as offline
from kefu.services import conversations, shops, timers
from kefu.services.accounts import start_consumer_session
from kefu.services.context import ConsumerActor, Context, Staff
from kefu.services.messages import MessageWriter, SendRequest
from kefu.storage import tables as t
from kefu.storage.db import Database
from support import AgentSpec, ShopIds, make_shop, service_context

NOBODY_ONLINE = ShopSettings(offline_when_nobody_online=True)


@dataclass
class World:
    ctx: Context
    clock: FakeClock
    shop: ShopIds

    def staff(self, username: str, role: Role = Role.AGENT) -> Staff:
        return Staff(self.shop.accounts[username], self.shop.shop_id, role, self.shop.group_ids[0])

    async def consumer(self, uid: str = "") -> ConsumerActor:
        session = await start_consumer_session(self.ctx, shop_id=self.shop.shop_id, identity=None)
        return ConsumerActor(session.consumer_id, self.shop.shop_id)

    async def set_status(self, username: str, status: str) -> None:
        async with self.ctx.db.uow() as tx:
            await tx.conn.execute(
                update(t.accounts)
                .where(t.accounts.c.id == self.shop.accounts[username])
                .values(status=status)
            )
            await tx.commit()

    async def fire_due(self) -> int:
        handled = 0
        for timer in await timers.due_timers(self.ctx, limit=100):
            handled += await timers.HANDLERS[timer.kind](self.ctx, timer)
        return handled

    async def entries(self) -> list[tuple[int, str | None]]:
        async with self.ctx.db.read() as tx:
            rows = await tx.conn.execute(
                select(t.offline_entries.c.consumer_id, t.offline_entries.c.processed_cause)
                .where(t.offline_entries.c.shop_id == self.shop.shop_id)
                .order_by(t.offline_entries.c.id)
            )
            return [(r[0], r[1]) for r in rows]

    async def notice_codes(self, conversation_id: int) -> list[str]:
        async with self.ctx.db.read() as tx:
            metas = await tx.conn.scalars(
                select(t.messages.c.meta)
                .where(t.messages.c.conversation_id == conversation_id)
                .order_by(t.messages.c.seq)
            )
            return [m["notice"]["code"] for m in metas if m and "notice" in m]

    async def first_entry_id(self) -> int:
        async with self.ctx.db.read() as tx:
            found = await tx.conn.scalar(
                select(func.min(t.offline_entries.c.id)).where(
                    t.offline_entries.c.shop_id == self.shop.shop_id
                )
            )
            assert found is not None
            return int(found)

    async def assigned_count(self) -> int:
        async with self.ctx.db.read() as tx:
            found = await tx.conn.scalar(
                select(func.count())
                .select_from(t.conversation_events)
                .where(
                    t.conversation_events.c.shop_id == self.shop.shop_id,
                    t.conversation_events.c.kind == "assigned",
                )
            )
            return int(found or 0)


async def _world(
    ctx: Context, settings: ShopSettings | None = None, agents: list[AgentSpec] | None = None
) -> World:
    clock = ctx.clock
    assert isinstance(clock, FakeClock)
    agents = agents if agents is not None else [AgentSpec("ann", limit=1, status="offline")]
    shop = await make_shop(ctx.db, agents=agents, settings=settings, clock=clock)
    return World(ctx, clock, shop)


async def test_offl_1_no_agent_online_makes_offline_message(ctx: Context) -> None:
    w = await _world(ctx, NOBODY_ONLINE)
    consumer = await w.consumer()
    view = await conversations.request_human(ctx, consumer)
    assert view.state == "offline"
    assert await w.entries() == [(consumer.consumer_id, None)]
    assert await w.notice_codes(view.id) == ["offline.no_agent"]
    # Not a dead queue: the consumer writes their message into it (and the entry stays one).
    writer = MessageWriter(ctx)
    await writer.start()
    try:
        ack = await writer.send(
            SendRequest(
                w.shop.shop_id,
                view.id,
                SenderKind.CONSUMER,
                consumer.consumer_id,
                MessageKind.TEXT,
                "我要退货",
                "c1",
            )
        )
    finally:
        await writer.stop()
    assert ack.conversation_state == "offline"
    await offline.consumer_wrote(ctx, consumer)
    assert await w.entries() == [(consumer.consumer_id, None)]
    assert await w.assigned_count() == 0


async def test_offl_1_without_the_setting_nobody_online_still_queues(ctx: Context) -> None:
    """ROUTE-2 stays the default (seed 000): the first agent to come online takes the queue."""
    w = await _world(ctx)
    view = await conversations.request_human(ctx, await w.consumer())
    assert view.state == "queued"
    assert await w.entries() == []


async def test_offl_1_nobody_picks_up_within_the_shop_wait(ctx: Context) -> None:
    w = await _world(
        ctx, ShopSettings(offline_after_s=120), [AgentSpec("ann", limit=1, status="online")]
    )
    first = await conversations.request_human(ctx, await w.consumer())
    assert first.state == "assigned"
    second_consumer = await w.consumer()
    second = await conversations.request_human(ctx, second_consumer)
    assert second.state == "queued"
    w.clock.advance(timedelta(seconds=119))
    await w.fire_due()
    assert (await conversations.get_view(ctx, second.id)).state == "queued"
    w.clock.advance(timedelta(seconds=1))
    await w.fire_due()
    assert (await conversations.get_view(ctx, second.id)).state == "offline"
    assert await w.notice_codes(second.id) == ["offline.no_pickup"]
    assert await w.entries() == [(second_consumer.consumer_id, None)]


async def test_offl_1_left_queue_and_not_back_within_15_minutes_is_one_entry(
    ctx: Context,
) -> None:
    w = await _world(ctx)  # ann is offline: requests queue (ROUTE-2)
    gone = await w.consumer()
    back = await w.consumer()
    for consumer in (gone, back):
        await conversations.request_human(ctx, consumer)
        await conversations.leave_queue(ctx, consumer)
    w.clock.advance(timedelta(minutes=10))
    await conversations.request_human(ctx, back)  # came back within 15 minutes
    w.clock.advance(timedelta(minutes=4, seconds=59))
    await w.fire_due()
    assert await w.entries() == []
    w.clock.advance(timedelta(seconds=1))
    await w.fire_due()
    assert await w.entries() == [(gone.consumer_id, None)]
    w.clock.advance(timedelta(hours=1))
    await w.fire_due()
    assert await w.entries() == [(gone.consumer_id, None)]


async def test_offl_2_a_second_visit_adds_to_the_same_entry(ctx: Context) -> None:
    w = await _world(ctx, NOBODY_ONLINE)
    owner = w.staff("owner", Role.OWNER)
    consumer = await w.consumer()
    await conversations.request_human(ctx, consumer)
    (entry,) = (await offline.list_entries(ctx, owner, status="all", page=1, page_size=20)).items
    await offline.mark_processed(ctx, owner, [entry.id])
    # The next visit, a day later: the same entry, unprocessed again and latest.
    w.clock.advance(timedelta(days=1))
    await offline.consumer_wrote(ctx, consumer)
    listed = await offline.list_entries(ctx, owner, status="all", page=1, page_size=20)
    assert [(e.id, e.processed_at, e.last_at) for e in listed.items] == [
        (entry.id, None, w.clock.now())
    ]
    assert listed.unprocessed_7d == 1


async def test_offl_2_the_tab_counts_consumers_unprocessed_in_the_last_7_days(
    ctx: Context,
) -> None:
    w = await _world(ctx, NOBODY_ONLINE)
    owner = w.staff("owner", Role.OWNER)
    for _ in range(2):
        await conversations.request_human(ctx, await w.consumer())
    w.clock.advance(timedelta(days=7, seconds=1))
    recent = await w.consumer()
    await conversations.request_human(ctx, recent)
    page = await offline.list_entries(ctx, owner, status="unprocessed", page=1, page_size=2)
    assert (page.total, page.unprocessed_7d, len(page.items)) == (3, 1, 2)
    assert page.items[0].consumer_id == recent.consumer_id
    assert await offline.unprocessed_count(ctx, w.staff("ann")) == 1


async def test_offl_2_opening_an_entry_shows_the_whole_history_paginated(ctx: Context) -> None:
    w = await _world(ctx, NOBODY_ONLINE)
    consumer = await w.consumer()
    first = await conversations.request_human(ctx, consumer)
    await w.set_status("ann", "online")
    served = await offline.start_conversations(ctx, w.staff("ann"), [(await w.first_entry_id())])
    assert served == [first.id]  # the offline conversation itself, now held by ann
    staff = w.staff("ann")
    entry_id = await w.first_entry_id()
    page = await offline.entry_history(ctx, staff, entry_id, before=None, limit=2)
    older = await offline.entry_history(ctx, staff, entry_id, before=page.next_before, limit=50)
    bodies = [m.notice.code if m.notice else m.body for m in older.items + page.items]
    assert bodies[-2:] == ["offline.no_agent", "offline.started"]
    assert len(bodies) == 3 and older.next_before is None  # welcome + two notices
    with pytest.raises(errors.NotFound):
        await offline.entry_history(ctx, staff, entry_id + 1000, before=None, limit=5)


async def test_offl_3_mark_processed_one_or_many(ctx: Context) -> None:
    w = await _world(ctx, NOBODY_ONLINE)
    agent = w.staff("ann")
    for _ in range(3):
        await conversations.request_human(ctx, await w.consumer())
    page = await offline.list_entries(ctx, agent, status="unprocessed", page=1, page_size=10)
    ids = [e.id for e in page.items]
    assert await offline.mark_processed(ctx, agent, ids[:2]) == 2
    assert await offline.mark_processed(ctx, agent, ids[:2]) == 0  # already processed
    assert await offline.mark_processed(ctx, agent, ids[2:]) == 1
    assert [cause for _, cause in await w.entries()] == ["marked"] * 3
    with pytest.raises(errors.NotFound):
        await offline.mark_processed(ctx, agent, [max(ids) + 1])


async def test_offl_3_start_conversations_with_a_notice_and_processed(ctx: Context) -> None:
    w = await _world(ctx, NOBODY_ONLINE)
    agent = w.staff("ann")
    waiting = await w.consumer()
    gone = await w.consumer()
    offline_view = await conversations.request_human(ctx, waiting)
    await conversations.request_human(ctx, gone)
    # `gone` left: their offline conversation ends (say, ended by an agent meanwhile).
    async with ctx.db.uow() as tx:
        await tx.conn.execute(
            update(t.conversations)
            .where(t.conversations.c.consumer_id == gone.consumer_id)
            .values(state="ended")
        )
        await tx.commit()
    ids = [
        e.id
        for e in (await offline.list_entries(ctx, agent, status="all", page=1, page_size=9)).items
    ]
    held = await offline.start_conversations(ctx, agent, ids)
    assert len(held) == 2 and offline_view.id in held
    for conversation_id in held:
        view = await conversations.get_view(ctx, conversation_id)
        assert (view.state, view.agent_id) == ("assigned", agent.account_id)
        assert (await w.notice_codes(conversation_id))[-1] == "offline.started"
    assert [cause for _, cause in await w.entries()] == ["started", "started"]


async def test_offl_3_served_later_by_a_human_marks_it_processed(ctx: Context) -> None:
    w = await _world(ctx, NOBODY_ONLINE)
    consumer = await w.consumer()
    view = await conversations.request_human(ctx, consumer)
    assert view.state == "offline"
    await w.set_status("ann", "online")
    again = await conversations.request_human(ctx, consumer)  # asks again: ann takes it
    assert (again.id, again.state) == (view.id, "assigned")
    assert await w.entries() == [(consumer.consumer_id, "served")]


async def test_offl_4_auto_assign_only_while_nobody_is_queued(ctx: Context) -> None:
    w = await _world(
        ctx,
        ShopSettings(offline_when_nobody_online=True, offline_auto_assign=True),
        [AgentSpec("ann", limit=2, status="offline")],
    )
    left = [await w.consumer() for _ in range(3)]
    for consumer in left:
        await conversations.request_human(ctx, consumer)
    await w.set_status("ann", "online")
    # Someone is queued (ann full with... nobody yet): first fill ann with a queued request.
    queued_consumer = await w.consumer()
    async with ctx.db.uow() as tx:  # ann stays busy while a request queues
        await tx.conn.execute(
            update(t.accounts)
            .where(t.accounts.c.id == w.shop.accounts["ann"])
            .values(reception_limit=1)
        )
        await tx.commit()
    await conversations.request_human(ctx, queued_consumer)  # assigned: ann is now full
    blocked = await w.consumer()
    assert (await conversations.request_human(ctx, blocked)).state == "queued"
    assert await auto_assign.auto_assign(ctx, w.shop.shop_id) == []  # the queue is not empty
    await conversations.leave_queue(ctx, blocked)
    assert await auto_assign.auto_assign(ctx, w.shop.shop_id) == []  # idle, but ann has no room
    async with ctx.db.uow() as tx:
        await tx.conn.execute(
            update(t.accounts)
            .where(t.accounts.c.id == w.shop.accounts["ann"])
            .values(reception_limit=3)
        )
        await tx.commit()
    assigned = await auto_assign.auto_assign(ctx, w.shop.shop_id)
    assert len(assigned) == 2  # room for two: the two oldest entries
    causes = dict(await w.entries())
    assert [causes[c.consumer_id] for c in left] == ["auto_assigned", "auto_assigned", None]
    assert await auto_assign.auto_assign(ctx, w.shop.shop_id) == []  # ann is full again


async def test_offl_4_auto_assign_routes_each_entry_once_across_two_processes(
    db_url: str,
) -> None:
    clock = FakeClock()
    dbs = [Database(db_url), Database(db_url)]
    await dbs[0].create_all()
    try:
        ctxs = [service_context(db, clock) for db in dbs]
        w = await _world(
            ctxs[0],
            ShopSettings(offline_when_nobody_online=True, offline_auto_assign=True),
            [AgentSpec("ann", limit=20, status="offline"), AgentSpec("bob", status="offline")],
        )
        consumers = [await w.consumer() for _ in range(8)]
        for consumer in consumers:
            await conversations.request_human(ctxs[0], consumer)
        for name in ("ann", "bob"):
            await w.set_status(name, "online")
        results = await asyncio.gather(
            *(auto_assign.sweep_auto_assign(c) for c in ctxs for _ in range(3))
        )
        assigned = [cid for found in results for cid in found]
        assert len(assigned) == len(set(assigned)) == 8
        assert await w.assigned_count() == 8
        assert [cause for _, cause in await w.entries()] == ["auto_assigned"] * 8
    finally:
        for db in dbs:
            await db.dispose()


async def test_route_5_blacklisted_consumer_never_reaches_an_agent(ctx: Context) -> None:
    w = await _world(ctx, None, [AgentSpec("ann", limit=5, status="online")])
    agent = w.staff("ann")
    rude = await w.consumer()
    view = await conversations.request_human(ctx, rude)
    assert view.state == "assigned"
    entry = await blacklist.add_from_conversation(ctx, agent, view.id, reason="辱骂客服")
    assert (entry.consumer_id, entry.reason) == (rude.consumer_id, "辱骂客服")
    await conversations.end_conversation(ctx, agent, view.id)
    again = await conversations.request_human(ctx, rude)
    assert again.state == "offline"
    assert await w.notice_codes(again.id) == ["offline.no_agent"]  # not told why
    assert await w.assigned_count() == 1
    # Auto-assign skips them too; a supervisor's removal routes them again.
    async with ctx.db.uow() as tx:
        await tx.conn.execute(
            update(t.shops)
            .where(t.shops.c.id == w.shop.shop_id)
            .values(settings=ShopSettings(offline_auto_assign=True).to_json())
        )
        await tx.commit()
    assert await auto_assign.auto_assign(ctx, w.shop.shop_id) == []
    with pytest.raises(errors.Forbidden):
        await blacklist.list_entries(ctx, agent, page=1, page_size=10)
    with pytest.raises(errors.Forbidden):
        await blacklist.remove(ctx, agent, entry.id)
    owner = w.staff("owner", Role.OWNER)
    listed = await blacklist.list_entries(ctx, owner, page=1, page_size=10)
    assert [e.id for e in listed.items] == [entry.id]
    await blacklist.remove(ctx, owner, entry.id)
    assert (await conversations.request_human(ctx, rude)).state == "assigned"


async def test_route_5_a_reason_is_size_limited(ctx: Context) -> None:
    w = await _world(ctx, None, [AgentSpec("ann", limit=5, status="online")])
    view = await conversations.request_human(ctx, await w.consumer())
    with pytest.raises(errors.BadInput):
        await blacklist.add_from_conversation(ctx, w.staff("ann"), view.id, reason="x" * 201)


async def test_route_6_outside_hours_and_on_a_holiday_never_reaches_an_agent(
    ctx: Context,
) -> None:
    # 2026-01-05 is a Monday. Shanghai (UTC+8) opens 09:00-18:00 on weekdays.
    hours = ShopSettings(
        time_zone="Asia/Shanghai",
        service_hours_enabled=True,
        service_hours={d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        holidays=["2026-01-06"],
        offline_message="本店营业时间为工作日9:00-18:00",
    )
    w = await _world(ctx, hours, [AgentSpec("ann", limit=5, status="online")])
    w.clock.set(w.clock.now().replace(hour=11))  # 19:00 in Shanghai: closed
    late = await w.consumer()
    view = await conversations.request_human(ctx, late)
    assert view.state == "offline"
    assert await w.notice_codes(view.id) == ["offline.outside_hours"]
    async with ctx.db.read() as tx:
        bodies = list(
            await tx.conn.scalars(
                select(t.messages.c.body).where(t.messages.c.conversation_id == view.id)
            )
        )
    assert "本店营业时间为工作日9:00-18:00" in bodies
    w.clock.advance(timedelta(hours=15))  # Tuesday 10:00 Shanghai, a holiday
    holiday = await w.consumer()
    assert (await conversations.request_human(ctx, holiday)).state == "offline"
    w.clock.advance(timedelta(days=1))  # Wednesday 10:00 Shanghai: open
    assert (await conversations.request_human(ctx, await w.consumer())).state == "assigned"
    assert await w.assigned_count() == 1


async def test_offl_entries_of_another_shop_are_not_found(ctx: Context) -> None:
    w = await _world(ctx, NOBODY_ONLINE)
    await conversations.request_human(ctx, await w.consumer())
    entry_id = await w.first_entry_id()
    other = await make_shop(ctx.db, name="Other", agents=[AgentSpec("eve")], clock=w.clock)
    eve = Staff(other.accounts["eve"], other.shop_id, Role.OWNER, None)
    for call in (
        offline.mark_processed(ctx, eve, [entry_id]),
        offline.start_conversations(ctx, eve, [entry_id]),
        offline.entry_history(ctx, eve, entry_id, before=None, limit=5),
        blacklist.remove(ctx, eve, entry_id),
    ):
        with pytest.raises(errors.NotFound):
            await call
    assert (await offline.list_entries(ctx, eve, status="all", page=1, page_size=5)).total == 0


def test_offl_the_auto_end_timer_kind_is_the_conversations_one() -> None:
    assert offline.AUTO_END_TIMER == conversations.AUTO_END_TIMER


async def test_set_1_service_hours_and_offline_settings_are_the_owners(ctx: Context) -> None:
    w = await _world(ctx, None, [AgentSpec("ann"), AgentSpec("sue", role="supervisor")])
    change = {"offline_auto_assign": True, "service_hours_enabled": True, "time_zone": "UTC"}
    for name, role in (("ann", Role.AGENT), ("sue", Role.SUPERVISOR)):
        with pytest.raises(errors.Forbidden):
            await shops.update_settings(ctx, w.staff(name, role), change)
    saved = await shops.update_settings(ctx, w.staff("owner", Role.OWNER), change)
    assert (saved.offline_auto_assign, saved.service_hours_enabled, saved.time_zone) == (
        True,
        True,
        "UTC",
    )
