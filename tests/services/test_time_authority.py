"""Issue 17 on both engines: a message's `created_at` never goes back along `seq`, whatever the
clock does, and the CONV-3 warning that fell due while no process ran the timers still comes
before the end."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from kefu.clock import FakeClock, FollowingClock
from kefu.domain.conversation import AutoEndMode
from kefu.domain.messages import MessageKind, SenderKind
from kefu.domain.shop import ShopSettings
from kefu.scheduler.loop import Scheduler
from kefu.services.accounts import start_consumer_session
from kefu.services.context import ConsumerActor, Context
from kefu.services.conversations import request_human
from kefu.services.messages import MessageWriter, SendRequest
from kefu.storage import messages as message_store
from kefu.storage import tables as t
from kefu.storage.messages import Append, NewMessage
from support import AgentSpec, make_shop


async def _assigned_conversation(ctx: Context, settings: ShopSettings | None = None) -> int:
    shop = await make_shop(ctx.db, agents=[AgentSpec("a")], settings=settings, clock=ctx.clock)
    session = await start_consumer_session(ctx, shop_id=shop.shop_id, identity=None)
    consumer = ConsumerActor(consumer_id=session.consumer_id, shop_id=shop.shop_id)
    view = await request_human(ctx, consumer)
    assert view.state == "assigned"
    return view.id


async def _messages(ctx: Context, conversation_id: int) -> list[message_store.MessageRecord]:
    async with ctx.db.read() as tx:
        return await message_store.page(tx.conn, conversation_id, limit=1000)


async def _state(ctx: Context, conversation_id: int) -> str:
    async with ctx.db.read() as tx:
        c = t.conversations.c
        return str(await tx.conn.scalar(select(c.state).where(c.id == conversation_id)))


async def test_issue_17_created_at_never_goes_back_along_seq(ctx: Context) -> None:
    clock = ctx.clock
    assert isinstance(clock, FakeClock)
    first = await _assigned_conversation(ctx)
    second = await _assigned_conversation(ctx)
    shop_a, shop_b = await _shop_of(ctx, first), await _shop_of(ctx, second)
    before_jump = clock.now()

    clock.advance(-timedelta(hours=1))  # the wall clock steps back an hour
    note = NewMessage("system", None, "system", "x")
    async with ctx.db.uow() as tx:  # a batch: two conversations, several messages each
        await message_store.append(
            tx.conn,
            [Append(shop_a, first, [note, note]), Append(shop_b, second, [note])],
            now=clock.now(),
        )
        await tx.commit()

    writer = MessageWriter(ctx)  # a consumer's send through the batching writer
    await writer.start()
    try:
        consumer_id = await _consumer_of(ctx, first)
        request = SendRequest(
            shop_id=shop_a,
            conversation_id=first,
            sender=SenderKind.CONSUMER,
            sender_id=consumer_id,
            client_id="m1",
            kind=MessageKind.TEXT,
            body="还在吗",
        )
        ack = await asyncio.wait_for(writer.send(request), 10)
    finally:
        await writer.stop()

    for conversation_id in (first, second):
        records = await _messages(ctx, conversation_id)
        times = [r.created_at for r in records]
        assert [r.seq for r in records] == list(range(1, len(records) + 1))
        assert times == sorted(times), times
        assert times[-1] == before_jump
    stored = await _messages(ctx, first)
    assert (ack.seq, ack.created_at) == (stored[-1].seq, stored[-1].created_at)

    clock.advance(timedelta(hours=2))  # once the clock is past them again, its own time counts
    async with ctx.db.uow() as tx:
        later = await message_store.append_stamped(
            tx.conn, [Append(shop_a, first, [note])], now=clock.now()
        )
        await tx.commit()
    assert later[first].created_at == clock.now()


async def _consumer_of(ctx: Context, conversation_id: int) -> int:
    async with ctx.db.read() as tx:
        c = t.conversations.c
        return int(await tx.conn.scalar(select(c.consumer_id).where(c.id == conversation_id)))


async def _shop_of(ctx: Context, conversation_id: int) -> int:
    async with ctx.db.read() as tx:
        c = t.conversations.c
        return int(await tx.conn.scalar(select(c.shop_id).where(c.id == conversation_id)))


def _notice_code(record: message_store.MessageRecord) -> str | None:
    notice = (record.meta or {}).get("notice") or {}
    return notice.get("code")


async def test_conv_3_warning_due_during_an_outage_comes_before_the_end(ctx: Context) -> None:
    """The timers stop (database or every process down) past both the 4-minute warning and the
    5-minute end: the warning is sent when they run again, and the end follows one minute (the
    time the warning names) later."""
    clock = ctx.clock
    assert isinstance(clock, FakeClock)
    cid = await _assigned_conversation(ctx, ShopSettings(auto_end=AutoEndMode.XIXI))
    scheduler = Scheduler(ctx)

    clock.advance(timedelta(minutes=7))  # the outage
    await scheduler.tick()
    assert await _state(ctx, cid) == "assigned"
    codes = [_notice_code(r) for r in await _messages(ctx, cid)]
    assert codes.count("conversation.auto_end_warning") == 1

    clock.advance(timedelta(seconds=59))
    await scheduler.tick()
    assert await _state(ctx, cid) == "assigned"

    clock.advance(timedelta(seconds=1))
    await scheduler.tick()
    assert await _state(ctx, cid) == "ended"
    codes = [_notice_code(r) for r in await _messages(ctx, cid)]
    warned, ended = (
        codes.index("conversation.auto_end_warning"),
        codes.index("conversation.auto_ended"),
    )
    assert warned < ended
    assert codes.count("conversation.auto_end_warning") == 1


async def test_issue_17_following_clock_ignores_the_local_wall_clock() -> None:
    """The time follows the reference's samples and this process's monotonic clock only: a
    local wall clock five minutes ahead, or stepping back, changes nothing."""
    reference = FakeClock()
    local = FakeClock(reference.now() + timedelta(minutes=5))
    ticks = [100.0]

    async def read() -> datetime:
        ticks[0] += 0.002  # a 4 ms round trip: 2 ms out, 2 ms back
        at = reference.now()
        ticks[0] += 0.002
        return at

    clock = FollowingClock(fallback=local, monotonic=lambda: ticks[0])
    assert clock.now() == local.now()  # before the first sample: its own clock
    sample = await clock.resample(read)
    assert sample.uncertainty_s == pytest.approx(0.002)
    assert sample.offset_s == pytest.approx(-300, abs=0.01)
    start = clock.now()
    # The reference time (which stood still here) plus the monotonic time since the sample.
    assert abs(start - reference.now()) < timedelta(milliseconds=20)

    local.advance(-timedelta(hours=1))  # the local wall clock steps back
    ticks[0] += 30.0  # 30 s pass
    assert clock.now() - start == timedelta(seconds=30)
