"""`kefu bench qa`: inspect N generated conversations with the built-in rules (QA-1, QA-2).

A private database (SQLite in a temporary directory, or a fresh PostgreSQL database next to
the admin URL's, dropped after) gets a shop of 20 agents in 2 groups and N ended conversations
of one local day, 4 to 12 messages each, written as a busy shop's agents write them: most
greet in time and close politely, some are slow, leave a silence without greeting again, use a
forbidden word or leave the consumer's last message unanswered. Then one inspection of that day
runs through the real job path (claim, read a chunk of transcripts, inspect, write hits, move
the cursor) until it is done; `conversations_per_s` is its conversations over that wall time.
`rules_only_per_s` is the rule engine alone on the same transcripts in memory.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.progress import Progress
from sqlalchemy import func, insert, select

from kefu.bench.common import (
    DEFAULT_PG_ADMIN_URL,
    DbOption,
    JsonOption,
    PgAdminUrlOption,
    create_database,
    drop_database,
    emit_json,
    print_table,
    progress_bar,
    seed_shop,
)
from kefu.broker.memory import MemoryBroker
from kefu.clock import FakeClock
from kefu.quality import jobs
from kefu.quality.domain import DEFAULT_RULES, Line, Speaker, Transcript, inspect, prepare
from kefu.services.context import Context
from kefu.settings import Settings
from kefu.storage import quality as store
from kefu.storage import tables as t
from kefu.storage.db import Database

# The bench day, in the shop's default zone (Asia/Shanghai): 01:00 to 23:00 local.
DAY = date(2026, 1, 5)
DAY_STARTS_AT = datetime(2026, 1, 4, 17, 0, tzinfo=UTC)
DAY_SECONDS = 22 * 3600
AGENTS = 20
CONSUMERS = 2_000
INSERT_BATCH = 5_000

OPENINGS = ("在吗", "你好", "请问这个有货吗", "我想退款", "什么时候发货", "能便宜点吗")
GREETINGS = ("亲，您好，有什么可以帮您", "您好，欢迎光临", "亲在的哦")
ANSWERS = ("好的亲，马上为您查询", "已经帮您备注了", "今天下午发货", "这款有现货的", "可以的")
QUESTIONS = ("快递是哪家", "多久能到", "有优惠券吗", "尺码怎么选", "能开发票吗", "好的")
CLOSINGS = ("感谢您的支持，祝您生活愉快", "谢谢亲，再见", "欢迎下次光临")
FAULTS = ("我不知道", "爱买不买", "在")


@dataclass(frozen=True, slots=True)
class Generated:
    transcripts: list[Transcript]
    messages: int


def generate(
    count: int, agent_ids: list[int], group_ids: list[int], *, seed: int = 11
) -> Generated:
    """`count` transcripts of the bench day (ids from 1), as a busy shop's agents write them."""
    rng = random.Random(seed)
    transcripts = []
    messages = 0
    for n in range(count):
        agent = rng.randrange(len(agent_ids))
        created_at = DAY_STARTS_AT + timedelta(seconds=rng.randrange(DAY_SECONDS))
        assigned_at = created_at + timedelta(seconds=rng.randint(1, 20))
        lines = _lines(rng, assigned_at, agent_ids[agent])
        messages += len(lines)
        transcripts.append(
            Transcript(
                conversation_id=n + 1,
                group_id=group_ids[agent % len(group_ids)],
                agent_id=agent_ids[agent],
                assigned_at=assigned_at,
                until=lines[-1].at + timedelta(seconds=600),
                lines=tuple(lines),
            )
        )
    return Generated(transcripts, messages)


def _lines(rng: random.Random, at: datetime, agent_id: int) -> list[Line]:
    lines: list[Line] = []

    def say(speaker: Speaker, text: str, after_s: float) -> None:
        nonlocal at
        at += timedelta(seconds=after_s)
        who = agent_id if speaker is Speaker.AGENT else None
        lines.append(Line(len(lines) + 1, speaker, at, text, who))

    say(Speaker.CONSUMER, rng.choice(OPENINGS), 0)
    greeting = rng.choice(GREETINGS) if rng.random() < 0.85 else rng.choice(ANSWERS)
    say(Speaker.AGENT, greeting, rng.choice((3, 8, 15, 25, 40, 75)))
    for _ in range(rng.randint(1, 5)):
        silence = rng.random() < 0.08
        say(Speaker.CONSUMER, rng.choice(QUESTIONS), 900 if silence else rng.randint(5, 60))
        reply = rng.choice(FAULTS) if rng.random() < 0.04 else rng.choice(ANSWERS)
        say(Speaker.AGENT, reply, rng.randint(5, 120))
    if rng.random() < 0.05:
        say(Speaker.CONSUMER, rng.choice(QUESTIONS), 10)
    else:
        closing = rng.choice(CLOSINGS) if rng.random() < 0.85 else rng.choice(ANSWERS)
        say(Speaker.AGENT, closing, rng.randint(5, 30))
    return lines


async def _load(db: Database, generated: Generated, shop_id: int, bar: Progress) -> None:
    """The transcripts as ended conversations, in batches."""
    task = bar.add_task("generating conversations", total=len(generated.transcripts))
    now = DAY_STARTS_AT
    async with db.uow() as tx:
        await tx.conn.execute(
            insert(t.consumers),
            [
                {"shop_id": shop_id, "uid": f"b{i}", "nickname": f"买家{i}", "created_at": now}
                for i in range(CONSUMERS)
            ],
        )
        consumer_ids = list(
            await tx.conn.scalars(select(t.consumers.c.id).where(t.consumers.c.shop_id == shop_id))
        )
        await tx.commit()
    done = 0
    step = max(1, INSERT_BATCH // 10)
    for start in range(0, len(generated.transcripts), step):
        batch = generated.transcripts[start : start + step]
        conversations, messages = [], []
        for tr in batch:
            conversations.append(
                {
                    "id": tr.conversation_id,
                    "shop_id": shop_id,
                    "consumer_id": consumer_ids[tr.conversation_id % len(consumer_ids)],
                    "state": "ended",
                    "group_id": tr.group_id,
                    "agent_id": tr.agent_id,
                    "created_at": tr.assigned_at - timedelta(seconds=1),
                    "assigned_at": tr.assigned_at,
                    "ended_at": tr.until,
                    "last_seq": len(tr.lines),
                }
            )
            messages += [_message(shop_id, tr.conversation_id, x) for x in tr.lines]
        async with db.uow() as tx:
            await tx.conn.execute(insert(t.conversations), conversations)
            await tx.conn.execute(insert(t.messages), messages)
            await tx.commit()
        done += len(batch)
        bar.update(task, completed=done)


def _message(shop_id: int, conversation_id: int, line: Line) -> dict[str, Any]:
    return {
        "shop_id": shop_id,
        "conversation_id": conversation_id,
        "seq": line.seq,
        "sender": line.speaker.value,
        "sender_id": line.agent_id,
        "kind": "text",
        "body": line.text,
        "created_at": line.at,
    }


def rules_only(generated: Generated) -> tuple[float, int]:
    """The rule engine alone: seconds and hits over the transcripts in memory."""
    rule_set = prepare(DEFAULT_RULES)
    started = time.perf_counter()
    hits = sum(len(inspect(tr, rule_set)) for tr in generated.transcripts)
    return time.perf_counter() - started, hits


async def benchmark(
    *, conversations: int, db_kind: str, pg_url: str, chunk: int
) -> dict[str, float | int | str]:
    with tempfile.TemporaryDirectory(prefix="kefu-bench-qa-") as tmp:
        url = (
            f"sqlite+aiosqlite:///{Path(tmp) / 'qa.db'}"
            if db_kind == "sqlite"
            else await create_database(pg_url, prefix="kefu_bench_qa_")
        )
        db = Database(url)
        try:
            return await _run(db, conversations=conversations, chunk=chunk, db_kind=db_kind)
        finally:
            await db.dispose()
            if db_kind != "sqlite":
                await drop_database(pg_url, url)


async def _run(
    db: Database, *, conversations: int, chunk: int, db_kind: str
) -> dict[str, float | int | str]:
    await db.create_all()
    shop = await seed_shop(db, agents=AGENTS, limit=5, now=DAY_STARTS_AT, groups=2)
    agent_ids = [a for group in shop.agents for a, _ in group]
    generated = generate(conversations, agent_ids, shop.group_ids)
    engine_s, engine_hits = rules_only(generated)
    now = DAY_STARTS_AT + timedelta(days=1)
    ctx = Context(
        db=db, clock=FakeClock(now), broker=MemoryBroker(), settings=Settings(database_url=db.url)
    )
    with progress_bar() as bar:
        await _load(db, generated, shop.shop_id, bar)
        async with db.uow() as tx:
            inspection_id = await store.create_inspection(
                tx.conn,
                shop_id=shop.shop_id,
                by=agent_ids[0],
                at=now,
                first_day=DAY,
                last_day=DAY,
                starts_at=DAY_STARTS_AT - timedelta(hours=1),
                ends_at=DAY_STARTS_AT + timedelta(days=1),
                group_ids=[],
            )
            await tx.commit()
        task = bar.add_task("inspecting", total=conversations)
        started = time.perf_counter()
        while await jobs.advance_inspection(ctx, inspection_id, chunk=chunk):
            async with db.read() as tx:
                job = await store.inspection(tx.conn, shop.shop_id, inspection_id)
            bar.update(task, completed=job.processed if job else 0)
        seconds = time.perf_counter() - started
    async with db.read() as tx:
        hits = int(await tx.conn.scalar(select(func.count()).select_from(t.qa_hits)) or 0)
    return {
        "db": db_kind,
        "conversations": conversations,
        "messages": generated.messages,
        "hits": hits,
        "seconds": round(seconds, 3),
        "conversations_per_s": round(conversations / seconds, 1) if seconds else 0.0,
        "rules_only_per_s": round(conversations / engine_s, 1) if engine_s else 0.0,
        "rules_only_hits": engine_hits,
    }


def command(
    conversations: int = typer.Option(
        100_000, "--conversations", min=10, help="Conversations to generate and inspect."
    ),
    db: DbOption = "sqlite",
    pg_admin_url: PgAdminUrlOption = DEFAULT_PG_ADMIN_URL,
    chunk: int = typer.Option(jobs.CHUNK, "--chunk", min=1, max=5_000, help="Per claim."),
    as_json: JsonOption = False,
) -> None:
    """Inspect N generated conversations with the built-in rules (QA-1, QA-2)."""
    figures = asyncio.run(
        benchmark(conversations=conversations, db_kind=db, pg_url=pg_admin_url, chunk=chunk)
    )
    print_table(
        "kefu bench qa",
        figures,
        caption=f"{conversations:,} conversations, built-in rules, on {db}; goal ≥ 2,000/s",
    )
    if as_json:
        emit_json(figures)
