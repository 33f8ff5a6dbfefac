"""QA-1, QA-2 on SQLite and PostgreSQL: rule versions by day, inspections as durable jobs in
chunks (resumable, never double-processed), per-agent reports, and false positives that stay
excluded after a re-run."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from kefu.clock import FakeClock
from kefu.domain.presence import Role
from kefu.quality import jobs, service
from kefu.quality.domain import Rule, RuleKind
from kefu.services.context import Context, Staff
from kefu.storage import tables as t
from kefu.storage.db import Database
from support import AgentSpec, ShopIds, make_shop, service_context

# 10:00 in Shanghai on 1 December.
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
DAY = date(2026, 12, 1)
_UIDS = itertools.count()


@dataclass
class World:
    ctx: Context
    shop: ShopIds
    owner: Staff
    alice: int
    bob: int


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[World]:
    db = Database(db_url)
    await db.create_all()
    clock = FakeClock(NOW)
    try:
        shop = await make_shop(
            db, clock=clock, groups=2, agents=[AgentSpec("alice"), AgentSpec("bob", group=1)]
        )
        owner = Staff(shop.accounts["owner"], shop.shop_id, Role.OWNER, None)
        yield World(
            service_context(db, clock), shop, owner, shop.accounts["alice"], shop.accounts["bob"]
        )
    finally:
        await db.dispose()


async def _conversation(
    w: World, agent_id: int, lines: list[tuple[str, float, str]], *, at: datetime = NOW,
    group: int = 0,
) -> int:  # fmt: skip
    """A conversation assigned at `at`, ended after its last line; lines (sender, s, text)."""
    async with w.ctx.db.uow() as tx:
        consumer_id = await tx.conn.scalar(
            insert(t.consumers)
            .values(shop_id=w.shop.shop_id, uid=f"u{next(_UIDS)}", nickname="U", created_at=at)
            .returning(t.consumers.c.id)
        )
        last = at + timedelta(seconds=max((s for _, s, _ in lines), default=0) + 1)
        conversation_id = await tx.conn.scalar(
            insert(t.conversations)
            .values(
                shop_id=w.shop.shop_id,
                consumer_id=consumer_id,
                state="ended",
                group_id=w.shop.group_ids[group],
                agent_id=agent_id,
                created_at=at,
                assigned_at=at,
                ended_at=last,
                last_seq=len(lines),
            )
            .returning(t.conversations.c.id)
        )
        for seq, (sender, s, body) in enumerate(lines, start=1):
            await tx.conn.execute(
                insert(t.messages).values(
                    shop_id=w.shop.shop_id,
                    conversation_id=conversation_id,
                    seq=seq,
                    sender=sender,
                    sender_id=agent_id if sender == "agent" else consumer_id,
                    kind="text",
                    body=body,
                    created_at=at + timedelta(seconds=s),
                )
            )
        await tx.commit()
    return int(conversation_id or 0)


RUDE = [("consumer", 0, "在吗"), ("agent", 5, "您好"), ("agent", 8, "不知道，谢谢")]
POLITE = [("consumer", 0, "在吗"), ("agent", 5, "您好"), ("agent", 8, "谢谢")]


async def _finish(w: World) -> int:
    chunks = 0
    while await jobs.advance_inspections(w.ctx, chunks=1):
        chunks += 1
    return chunks


async def _start(w: World, **kwargs: object) -> int:
    view = await service.start_inspection(
        w.ctx,
        w.owner,
        first=DAY,
        last=DAY,
        group_ids=kwargs.get("group_ids", []),  # type: ignore[arg-type]
    )
    return int(view["id"])


async def test_qa_2_inspection_advances_in_chunks_with_progress(world: World) -> None:
    for _ in range(5):
        await _conversation(world, world.alice, RUDE)
    await _conversation(world, world.bob, POLITE, group=1)
    inspection_id = await _start(world)
    assert (await service.inspection_view(world.ctx, world.owner, inspection_id))["total"] == 6
    assert await jobs.advance_inspection(world.ctx, inspection_id, chunk=4)
    view = await service.inspection_view(world.ctx, world.owner, inspection_id)
    assert (view["state"], view["processed"], view["total"]) == ("running", 4, 6)
    assert await jobs.advance_inspection(world.ctx, inspection_id, chunk=4)
    view = await service.inspection_view(world.ctx, world.owner, inspection_id)
    assert (view["state"], view["processed"]) == ("done", 6)
    agents = {a["agent_id"]: a for a in view["agents"]}
    assert agents[world.alice]["hits"] == {"forbidden_words": 5}
    assert world.bob not in agents  # nothing hit
    assert not await jobs.advance_inspection(world.ctx, inspection_id)


async def test_qa_2_inspection_reads_only_its_groups_and_days(world: World) -> None:
    await _conversation(world, world.alice, RUDE)
    await _conversation(world, world.bob, RUDE, group=1)
    await _conversation(world, world.alice, RUDE, at=NOW + timedelta(days=1))
    inspection_id = await _start(world, group_ids=[world.shop.group_ids[1]])
    await _finish(world)
    view = await service.inspection_view(world.ctx, world.owner, inspection_id)
    assert view["total"] == 1
    assert [a["agent_id"] for a in view["agents"]] == [world.bob]


async def test_qa_2_inspection_resumes_after_a_restart(world: World, db_url: str) -> None:
    for _ in range(5):
        await _conversation(world, world.alice, RUDE)
    inspection_id = await _start(world)
    assert await jobs.advance_inspection(world.ctx, inspection_id, chunk=2)
    # A new process on the same database takes over where the cursor stands.
    db = Database(db_url)
    try:
        fresh = service_context(db, FakeClock(NOW))
        while await jobs.advance_inspections(fresh, chunks=1):
            pass
        view = await service.inspection_view(fresh, world.owner, inspection_id)
    finally:
        await db.dispose()
    assert view["state"] == "done"
    assert view["agents"][0]["hits"] == {"forbidden_words": 5}


async def test_qa_2_two_processes_never_inspect_a_conversation_twice(
    world: World, db_url: str
) -> None:
    for _ in range(12):
        await _conversation(world, world.alice, RUDE)
    inspection_id = await _start(world)
    other_db = Database(db_url)
    try:
        other = service_context(other_db, FakeClock(NOW))

        async def drain(ctx: Context) -> None:
            for _ in range(20):
                await jobs.advance_inspection(ctx, inspection_id, chunk=2)
                await asyncio.sleep(0)

        await asyncio.gather(drain(world.ctx), drain(other))
    finally:
        await other_db.dispose()
    async with world.ctx.db.read() as tx:
        hits = await tx.conn.scalar(select(func.count()).select_from(t.qa_hits))
        distinct = await tx.conn.scalar(
            select(func.count(func.distinct(t.qa_hits.c.conversation_id)))
        )
    assert (hits, distinct) == (12, 12)
    view = await service.inspection_view(world.ctx, world.owner, inspection_id)
    assert (view["state"], view["processed"]) == ("done", 12)


async def test_qa_2_a_false_positive_stays_excluded_after_a_rerun(world: World) -> None:
    await _conversation(world, world.alice, RUDE)
    await _conversation(world, world.alice, RUDE)
    first = await _start(world)
    await _finish(world)
    page = await service.hits_view(
        world.ctx, world.owner, first, agent_id=None, rule_key=None, page=1, page_size=10
    )
    assert page["total"] == 2
    marked = page["items"][0]
    await service.mark_false_positive(world.ctx, world.owner, marked["id"], is_false_positive=True)
    view = await service.inspection_view(world.ctx, world.owner, first)
    assert view["agents"][0]["hits"] == {"forbidden_words": 1}
    assert view["agents"][0]["false_positives"] == 1
    assert view["agents"][0]["total"] == 1
    again = await _start(world)
    await _finish(world)
    rerun = await service.inspection_view(world.ctx, world.owner, again)
    assert rerun["agents"][0]["hits"] == {"forbidden_words": 1}
    hits = await service.hits_view(
        world.ctx, world.owner, again, agent_id=None, rule_key=None, page=1, page_size=10
    )
    flagged = [h["conversation_id"] for h in hits["items"] if h["is_false_positive"]]
    assert flagged == [marked["conversation_id"]]
    # Unmarked, it counts again.
    await service.mark_false_positive(world.ctx, world.owner, marked["id"], is_false_positive=False)
    again_view = await service.inspection_view(world.ctx, world.owner, again)
    assert again_view["agents"][0]["hits"] == {"forbidden_words": 2}


async def test_qa_2_hit_context_shows_the_surrounding_messages(world: World) -> None:
    lines = [("consumer", i, f"问题{i}") for i in range(6)] + [("agent", 9, "爱买不买")]
    lines += [("consumer", 10 + i, f"后来{i}") for i in range(6)]
    await _conversation(world, world.alice, lines)
    inspection_id = await _start(world)
    await _finish(world)
    page = await service.hits_view(
        world.ctx, world.owner, inspection_id, agent_id=world.alice,
        rule_key="forbidden_words", page=1, page_size=10,
    )  # fmt: skip
    context = await service.hit_context(world.ctx, world.owner, page["items"][0]["id"])
    assert context["hit"]["seq"] == 7
    assert [m["seq"] for m in context["messages"]] == list(range(3, 12))
    assert context["messages"][4]["body"] == "爱买不买"


async def test_qa_1_a_rule_changed_today_applies_from_tomorrow(world: World) -> None:
    rules = [Rule("forbidden_words", RuleKind.FORBIDDEN_WORDS, phrases=("谢谢",))]
    saved = await service.save_rules(world.ctx, world.owner, rules=rules)
    assert saved["next"]["applies_from"] == "2026-12-02"
    assert (
        next(r for r in saved["rules"] if r["key"] == "forbidden_words")["phrases"][0] == "不知道"
    )
    await _conversation(world, world.alice, POLITE)  # today: old rules, nothing hits
    tomorrow = NOW + timedelta(days=1)
    await _conversation(world, world.alice, POLITE, at=tomorrow)  # new rules: 谢谢 is forbidden
    view = await service.start_inspection(
        world.ctx, world.owner, first=DAY, last=DAY + timedelta(days=1), group_ids=[]
    )
    await _finish(world)
    report = await service.inspection_view(world.ctx, world.owner, view["id"])
    assert report["agents"][0]["hits"] == {"forbidden_words": 1}
    world.ctx.clock.set(tomorrow)  # type: ignore[attr-defined]
    current = await service.rules_view(world.ctx, world.owner)
    assert current["next"] is None
    assert next(r for r in current["rules"] if r["key"] == "forbidden_words")["phrases"] == ["谢谢"]


async def test_qa_2_catastrophic_pattern_inspection_finishes(world: World) -> None:
    rules = [Rule("c1", RuleKind.REGEX, pattern="(a+)+$", name="evil")]
    await service.save_rules(world.ctx, world.owner, rules=rules)
    tomorrow = NOW + timedelta(days=1)
    evil = [("consumer", 0, "在吗"), *(("agent", i, "a" * 40 + "!") for i in range(1, 50))]
    await _conversation(world, world.alice, evil, at=tomorrow)
    view = await service.start_inspection(
        world.ctx, world.owner, first=DAY + timedelta(days=1), last=DAY + timedelta(days=1),
        group_ids=[],
    )  # fmt: skip
    await asyncio.wait_for(_finish(world), timeout=5)
    report = await service.inspection_view(world.ctx, world.owner, view["id"])
    assert report["state"] == "done"
    assert "c1" not in report["agents"][0]["hits"]


async def test_qa_1_a_second_change_the_same_day_replaces_the_first(world: World) -> None:
    first = [Rule("c1", RuleKind.TIMING, within_s=30, name="slow")]
    second = [Rule("c2", RuleKind.KEYWORDS, phrases=("投诉",), name="complaint")]
    await service.save_rules(world.ctx, world.owner, rules=first)
    saved = await service.save_rules(world.ctx, world.owner, rules=second)
    keys = {r["key"] for r in saved["next"]["rules"]}
    assert "c2" in keys and "c1" not in keys
    async with world.ctx.db.read() as tx:
        versions = await tx.conn.scalar(select(func.count()).select_from(t.qa_rule_versions))
    assert versions == 1
