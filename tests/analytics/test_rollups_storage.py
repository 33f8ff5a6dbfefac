"""DATA-1, DATA-2, DATA-3, RATE-3 on SQLite and PostgreSQL: ratings reach the figures, the
storage writes mark conversations for the rollups, the scheduler's step folds them, and the
dashboard and agent analysis read from the rollups equal the raw computation at every step —
while conversations are dirty, after they are folded, once time settles them, after a rebuild
and with two folders at once."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from typer.testing import CliRunner

from kefu.analytics import folds
from kefu.analytics.periods import PeriodKind
from kefu.analytics.service import load_facts, shop_agents, shop_dashboard
from kefu.cli import app
from kefu.clock import FakeClock
from kefu.domain.presence import Role
from kefu.ratings.domain import RatingSource
from kefu.services.context import Context, Staff
from kefu.storage import conversations as conversation_store
from kefu.storage import messages as message_store
from kefu.storage import ratings as rating_store
from kefu.storage import rollups as rollup_store
from kefu.storage import tables as t
from kefu.storage.db import Database
from support import AgentSpec, ShopIds, make_shop, service_context

# 10:00 in Shanghai (the shop's default zone is checked below), inside the DATA-3 window.
START = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
_UIDS = itertools.count()


@pytest.fixture
async def ctx(db_url: str) -> AsyncIterator[Context]:
    db = Database(db_url)
    await db.create_all()
    try:
        yield service_context(db, FakeClock(START))
    finally:
        await db.dispose()


def _clock(ctx: Context) -> FakeClock:
    assert isinstance(ctx.clock, FakeClock)
    return ctx.clock


async def _shop(ctx: Context) -> ShopIds:
    return await make_shop(ctx.db, agents=[AgentSpec("alice"), AgentSpec("bob")], clock=_clock(ctx))


async def _conversation(ctx: Context, shop: ShopIds) -> int:
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        consumer_id = await tx.conn.scalar(
            insert(t.consumers)
            .values(shop_id=shop.shop_id, uid=f"u{next(_UIDS)}", nickname="买家",
                    is_vip=False, created_at=now)
            .returning(t.consumers.c.id)
        )  # fmt: skip
        assert consumer_id is not None
        cid = await conversation_store.create(
            tx.conn,
            shop_id=shop.shop_id,
            consumer_id=int(consumer_id),
            group_id=None,
            entry={"source": "direct"},
            now=now,
        )
        await tx.commit()
    return cid


async def _request(ctx: Context, shop: ShopIds, cid: int) -> None:
    async with ctx.db.uow() as tx:
        await conversation_store.update_conversation(
            tx.conn, cid, state="queued", human_requested_at=ctx.clock.now()
        )
        await tx.commit()


async def _assign(ctx: Context, shop: ShopIds, cid: int, agent: str) -> None:
    async with ctx.db.uow() as tx:
        await conversation_store.record_event(
            tx.conn,
            shop_id=shop.shop_id,
            conversation_id=cid,
            kind="assigned",
            at=ctx.clock.now(),
            agent_id=shop.accounts[agent],
        )
        await tx.commit()


async def _say(ctx: Context, shop: ShopIds, cid: int, who: str) -> None:
    sender, sender_id = ("consumer", None) if who == "consumer" else ("agent", shop.accounts[who])
    message = message_store.NewMessage(sender, sender_id, "text", "你好")
    async with ctx.db.uow() as tx:
        await message_store.append(
            tx.conn, [message_store.Append(shop.shop_id, cid, [message])], now=ctx.clock.now()
        )
        await tx.commit()


async def _rate(ctx: Context, shop: ShopIds, cid: int, agent: str, stars: int) -> None:
    async with ctx.db.uow() as tx:
        await rating_store.add(
            tx.conn,
            shop_id=shop.shop_id,
            conversation_id=cid,
            agent_id=shop.accounts[agent],
            stars=stars,
            source=RatingSource.SELF,
            card_seq=None,
            at=ctx.clock.now(),
        )
        await tx.commit()


async def _views(ctx: Context, shop: ShopIds, *, raw: bool) -> tuple[Any, ...]:
    owner = Staff(shop.accounts["owner"], shop.shop_id, Role.OWNER, None)
    dash = await shop_dashboard(ctx, shop.shop_id, kind=PeriodKind.MONTH, raw=raw)
    agents = await shop_agents(ctx, owner, kind=PeriodKind.WEEK, raw=raw)
    return dash, agents


async def _assert_rollups_equal_raw(ctx: Context, shop: ShopIds) -> tuple[Any, ...]:
    from_rollups = await _views(ctx, shop, raw=False)
    assert from_rollups == await _views(ctx, shop, raw=True)
    return from_rollups


async def _dirty(ctx: Context) -> int:
    async with ctx.db.read() as tx:
        return int(await tx.conn.scalar(select(func.count()).select_from(t.analytics_dirty)) or 0)


async def _traffic(ctx: Context, shop: ShopIds) -> list[int]:
    """c1: alice answers in 20 s, rated 3 then 5 (the best counts), bob invited rates 2;
    c2: queued, never assigned; c3: the bot only."""
    clock = _clock(ctx)
    c1 = await _conversation(ctx, shop)
    await _request(ctx, shop, c1)
    await _assign(ctx, shop, c1, "alice")
    await _say(ctx, shop, c1, "consumer")
    clock.advance(timedelta(seconds=20))
    await _say(ctx, shop, c1, "alice")
    async with ctx.db.uow() as tx:
        await conversation_store.record_event(
            tx.conn, shop_id=shop.shop_id, conversation_id=c1, kind="invited",
            at=clock.now(), agent_id=shop.accounts["bob"],
        )  # fmt: skip
        await tx.commit()
    await _rate(ctx, shop, c1, "alice", 3)
    await _rate(ctx, shop, c1, "alice", 5)
    await _rate(ctx, shop, c1, "bob", 2)
    c2 = await _conversation(ctx, shop)
    await _request(ctx, shop, c2)
    c3 = await _conversation(ctx, shop)
    await _say(ctx, shop, c3, "consumer")
    return [c1, c2, c3]


async def test_rate_3_data_1_data_2_ratings_reach_the_facts_and_figures(ctx: Context) -> None:
    shop = await _shop(ctx)
    c1, _, _ = await _traffic(ctx, shop)
    dash, agents = await _views(ctx, shop, raw=True)
    facts = {f.conversation_id: f for f in await load_facts_month(ctx, shop)}
    assert facts[c1].ratings == {shop.accounts["alice"]: 5, shop.accounts["bob"]: 2}
    now = dash["current"]
    assert (now["rated"], now["satisfied"], now["satisfaction_rate"]) == (1, 1, 1.0)
    by_name = {a["display_name"]: a for a in agents["agents"]}
    assert (by_name["Alice"]["rated"], by_name["Alice"]["satisfied"]) == (1, 1)
    assert (by_name["Bob"]["rated"], by_name["Bob"]["satisfaction_rate"]) == (1, 0.0)
    assert by_name["Alice"]["rating_rate"] == 1.0


async def load_facts_month(ctx: Context, shop: ShopIds) -> list[Any]:
    from kefu.analytics.service import _period

    period, _ = await _period(ctx, shop.shop_id, PeriodKind.MONTH, None, None, max_days=None)
    return await load_facts(ctx, shop.shop_id, period)


async def test_data_1_rollups_follow_the_writes_and_the_clock(ctx: Context) -> None:
    shop = await _shop(ctx)
    await _traffic(ctx, shop)
    assert await _dirty(ctx) == 3  # each write marked its conversation
    await _assert_rollups_equal_raw(ctx, shop)  # nothing folded: raw
    # The shop's first refresh records its zone, marks all and folds them.
    assert await folds.refresh(ctx) == 3 and await _dirty(ctx) == 0
    dash, _ = await _assert_rollups_equal_raw(ctx, shop)
    assert dash["current"]["settled"] == 1  # c2 waits, not settled today
    async with ctx.db.read() as tx:
        rolled = await tx.conn.scalar(
            select(func.sum(t.analytics_rollups.c.conversations)).where(
                t.analytics_rollups.c.agent_id == 0
            )
        )
    assert rolled == 3  # read from the rollups: nothing is dirty or stale
    # More traffic after the fold: dirty ones are read raw until folded.
    await _say(ctx, shop, (await _traffic(ctx, shop))[0], "consumer")
    assert await _dirty(ctx) == 3
    await _assert_rollups_equal_raw(ctx, shop)
    await folds.refresh(ctx)
    await _assert_rollups_equal_raw(ctx, shop)
    # The next day: the queued requests settle as abandoned with no new event.
    _clock(ctx).advance(timedelta(hours=20))
    dash, _ = await _assert_rollups_equal_raw(ctx, shop)
    assert dash["current"]["settled"] == 4 and dash["current"]["picked_up"] == 2
    async with ctx.db.read() as tx:
        stale = await rollup_store.unsettled_ids(
            tx.conn, shop.shop_id, START - timedelta(days=40), START + timedelta(days=40),
            ctx.clock.now(),
        )  # fmt: skip
    assert len(stale) >= 2  # c2 of both rounds and the unanswered round of c1
    await folds.refresh(ctx)
    async with ctx.db.read() as tx:
        stale = await rollup_store.unsettled_ids(
            tx.conn, shop.shop_id, START - timedelta(days=40), START + timedelta(days=40),
            ctx.clock.now(),
        )  # fmt: skip
    assert stale == []
    await _assert_rollups_equal_raw(ctx, shop)


async def test_data_2_rebuild_recomputes_the_rollups(ctx: Context) -> None:
    shop = await _shop(ctx)
    await _traffic(ctx, shop)
    await folds.refresh(ctx)
    await folds.refresh(ctx)
    before = await _assert_rollups_equal_raw(ctx, shop)
    async with ctx.db.uow() as tx:  # the rollups drift (a bug, a manual edit)
        await tx.conn.execute(t.analytics_rollups.update().values(conversations=99))
        await tx.commit()
    assert await _views(ctx, shop, raw=False) != before
    seen: list[tuple[int, int]] = []
    assert await folds.rebuild(ctx, shop.shop_id, progress=lambda d, n: seen.append((d, n))) == 3
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)
    assert await _assert_rollups_equal_raw(ctx, shop) == before


async def test_data_1_two_folders_at_once_count_each_conversation_once(ctx: Context) -> None:
    shop = await _shop(ctx)
    for _ in range(4):
        await _traffic(ctx, shop)
    # Six at once, each also recording the new shop's zone (one reset wins).
    await asyncio.gather(*(folds.refresh(ctx, limit=3) for _ in range(6)))
    while await folds.refresh(ctx):
        pass
    assert await _dirty(ctx) == 0
    dash, _ = await _assert_rollups_equal_raw(ctx, shop)
    assert dash["current"]["conversations"] == 12
    async with ctx.db.read() as tx:
        parts = await tx.conn.scalar(
            select(func.count())
            .select_from(t.analytics_parts)
            .where(t.analytics_parts.c.agent_id == 0)
        )
    assert parts == 12


async def test_data_1_kefu_analytics_rebuild_folds_the_shop(ctx: Context, db_url: str) -> None:
    shop = await _shop(ctx)
    await _traffic(ctx, shop)
    runner = CliRunner()
    args = ["analytics", "rebuild", "--shop-id", str(shop.shop_id), "--database-url", db_url]
    done = await asyncio.to_thread(runner.invoke, app, args)
    assert done.exit_code == 0, done.output
    assert "3 conversations folded" in done.output
    assert await _dirty(ctx) == 0
    async with ctx.db.read() as tx:
        rolled = await tx.conn.scalar(
            select(func.sum(t.analytics_rollups.c.conversations)).where(
                t.analytics_rollups.c.agent_id == 0
            )
        )
    assert rolled == 3
    args[3] = "999"
    missing = await asyncio.to_thread(runner.invoke, app, args)
    assert missing.exit_code == 1


async def test_data_1_only_what_the_figures_read_marks_a_conversation(ctx: Context) -> None:
    shop = await _shop(ctx)
    cid = await _conversation(ctx, shop)
    assert await folds.refresh(ctx) == 1 and await _dirty(ctx) == 0
    bot = message_store.NewMessage("bot", None, "text", "您好, 我是机器人")
    async with ctx.db.uow() as tx:
        await message_store.append(
            tx.conn, [message_store.Append(shop.shop_id, cid, [bot])], now=ctx.clock.now()
        )
        await conversation_store.update_conversation(tx.conn, cid, group_id=shop.group_ids[0])
        await tx.commit()
    assert await _dirty(ctx) == 0  # no figure counts bot lines or the group
    await _say(ctx, shop, cid, "consumer")
    assert await _dirty(ctx) == 1
    await _request(ctx, shop, cid)
    assert await _dirty(ctx) == 1  # marked once, however often
    await folds.refresh(ctx)
    await _assert_rollups_equal_raw(ctx, shop)


async def test_data_1_a_use_case_holding_its_conversation_and_a_folder_never_deadlock(
    ctx: Context,
) -> None:
    """A use case locks its conversation, then marks it; meanwhile a folder has claimed the
    earlier mark and writes the conversation's part. No wait of the folder's may be on the
    conversation row (a foreign key check would be one), or the two would deadlock."""
    shop = await _shop(ctx)
    cid = await _conversation(ctx, shop)
    await folds.refresh(ctx)
    await _say(ctx, shop, cid, "consumer")  # marked again
    async with ctx.db.uow() as tx:
        await conversation_store.get(tx.conn, shop.shop_id, cid, for_update=True)
        folder = asyncio.create_task(folds.fold_dirty(ctx))
        await asyncio.sleep(1.0)  # on PostgreSQL the folder claims the mark and writes meanwhile
        await rollup_store.mark_dirty(tx.conn, shop.shop_id, [cid])
        await tx.commit()
    assert await asyncio.wait_for(folder, 30) in (0, 1)
    await folds.refresh(ctx)
    assert await _dirty(ctx) == 0
    await _assert_rollups_equal_raw(ctx, shop)


async def test_data_1_a_new_time_zone_refolds_the_shop(ctx: Context) -> None:
    """Days and buckets are the shop's: after its time zone changes, the figures are raw until
    the scheduler has refolded every conversation in the new zone."""
    from kefu.services import shops

    shop = await _shop(ctx)
    await _traffic(ctx, shop)
    await folds.refresh(ctx)
    owner = Staff(shop.accounts["owner"], shop.shop_id, Role.OWNER, None)
    await shops.update_settings(ctx, owner, {"time_zone": "America/New_York"})
    async with ctx.db.read() as tx:
        assert await rollup_store.zone(tx.conn, shop.shop_id) == "Asia/Shanghai"
    dash, _ = await _assert_rollups_equal_raw(ctx, shop)  # raw meanwhile
    assert dash["period"]["time_zone"] == "America/New_York"
    await _say(ctx, shop, (await _traffic(ctx, shop))[0], "consumer")
    await folds.refresh(ctx)
    async with ctx.db.read() as tx:
        assert await rollup_store.zone(tx.conn, shop.shop_id) == "America/New_York"
        buckets = await tx.conn.scalars(select(t.analytics_rollups.c.bucket))
        assert {b.minute for b in buckets} == {0}
    assert await _dirty(ctx) == 0
    await _assert_rollups_equal_raw(ctx, shop)


async def test_data_1_a_change_made_while_a_fold_reads_is_folded_after_it(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder reads the facts outside the write lock: a message committed after it read
    them, before it claims the mark, changes the mark, which the folder leaves for the next
    fold; the rollups never hold the part computed without that message."""
    shop = await _shop(ctx)
    cid = await _conversation(ctx, shop)
    await folds.refresh(ctx)
    await _say(ctx, shop, cid, "consumer")
    facts_by_id = folds.facts_by_id
    spoke = False

    async def read_then_say(conn: Any, shop_id: int, ids: Any) -> Any:
        nonlocal spoke
        facts = await facts_by_id(conn, shop_id, ids)
        if not spoke:  # committed from another connection while the fold's read is open
            spoke = True
            await _say(ctx, shop, cid, "alice")
        return facts

    monkeypatch.setattr(folds, "facts_by_id", read_then_say)
    assert await folds.fold_dirty(ctx) == 0  # the mark it read had changed
    assert await _dirty(ctx) == 1
    await _assert_rollups_equal_raw(ctx, shop)
    assert await folds.fold_dirty(ctx) == 1
    assert await _dirty(ctx) == 0
    await _assert_rollups_equal_raw(ctx, shop)


async def test_data_1_a_mark_folded_elsewhere_and_made_again_is_not_taken_for_the_old_one(
    ctx: Context,
) -> None:
    """Two marks of one conversation, one folded in between, never carry the same version by
    construction (a new mark starts at a random version), so a folder holding the first one's
    version does not claim the second."""
    shop = await _shop(ctx)
    cid = await _conversation(ctx, shop)
    versions = set()
    for _ in range(20):
        async with ctx.db.read() as tx:
            (mark,) = await rollup_store.marks(tx.conn, limit=10)
        versions.add(mark.version)
        await folds.fold_dirty(ctx)
        await _say(ctx, shop, cid, "consumer")
    assert mark.conversation_id == cid and len(versions) == 20


async def test_data_1_the_scheduler_folds_at_most_every_few_seconds(ctx: Context) -> None:
    """A conversation in full flow is folded once for the messages of a few seconds; the
    dashboard computes it raw meanwhile, so its figures are current all along."""
    from kefu.scheduler.loop import Scheduler

    shop = await _shop(ctx)
    cid = await _conversation(ctx, shop)
    scheduler = Scheduler(ctx)
    await scheduler.tick()
    assert await _dirty(ctx) == 0
    await _say(ctx, shop, cid, "consumer")
    _clock(ctx).advance(folds.FOLD_EVERY - timedelta(seconds=1))
    await scheduler.tick()
    assert await _dirty(ctx) == 1
    await _assert_rollups_equal_raw(ctx, shop)
    _clock(ctx).advance(timedelta(seconds=1))
    await scheduler.tick()
    assert await _dirty(ctx) == 0
    await _assert_rollups_equal_raw(ctx, shop)


async def test_data_1_the_scheduler_leaves_a_conversation_in_full_flow_until_it_pauses(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16: a conversation still receiving messages would change its mark while the fold
    reads its facts, and the fold would claim nothing: the scheduler folds only conversations
    quiet for a fold interval, and reads no facts of the others."""
    from kefu.scheduler.loop import Scheduler

    shop = await _shop(ctx)
    cid = await _conversation(ctx, shop)
    scheduler = Scheduler(ctx)
    read: list[list[int]] = []
    facts_by_id = folds.facts_by_id

    async def counted(conn: Any, shop_id: int, ids: list[int]) -> Any:
        read.append(list(ids))
        return await facts_by_id(conn, shop_id, ids)

    monkeypatch.setattr(folds, "facts_by_id", counted)
    for _ in range(3 * int(folds.FOLD_EVERY.total_seconds())):  # a message every second
        await _say(ctx, shop, cid, "consumer")
        _clock(ctx).advance(timedelta(seconds=1))
        await scheduler.tick()
    assert await _dirty(ctx) == 1 and cid not in [c for ids in read for c in ids]
    await _assert_rollups_equal_raw(ctx, shop)  # computed raw meanwhile
    _clock(ctx).advance(folds.FOLD_EVERY)  # it pauses
    await scheduler.tick()
    assert await _dirty(ctx) == 0 and read[-1] == [cid]
    await _assert_rollups_equal_raw(ctx, shop)
