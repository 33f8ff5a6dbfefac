"""`kefu bench analytics`: a month's shop dashboard and a 30-day agent analysis (DATA-1, DATA-2,
DATA-3), read from the rollups and from the raw events, on a shop of N conversations and about
10 N messages over two months.

The shop is generated once per size and engine and kept: SQLite in a file of the data directory
(`<data-dir>/bench/analytics-<N>.db`), PostgreSQL in a database `kefu_bench_analytics_<N>` next
to the admin URL's (`--fresh` makes either again, `--drop` removes the PostgreSQL one after).
Generation writes the raw rows in bulk (COPY on PostgreSQL) and each conversation's rollup part
computed by the same pure code the scheduler folds with; the last conversations are left marked
dirty, as a live shop has some, so that readers correct the rollups with them.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import typer
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.analytics.metrics import (
    TALLY_FIELDS,
    ConversationFacts,
    Holding,
    Message,
    OfflineReason,
    Sender,
    Tally,
)
from kefu.analytics.periods import PeriodKind
from kefu.analytics.rollups import Key, deltas, parts_of
from kefu.bench.common import (
    DEFAULT_PG_ADMIN_URL,
    DataDirOption,
    DbOption,
    DropOption,
    FreshOption,
    JsonOption,
    PgAdminUrlOption,
    cached_database,
    drop_database,
    emit_json,
    print_table,
    progress_bar,
    remove_sqlite,
    seed_shop,
)
from kefu.storage import rollups as rollup_store
from kefu.storage import tables as t
from kefu.storage.db import Database, DbTimeouts

AGENTS = 60
GROUPS = 3
DAYS = 61  # the bench month (June 2026) and the one before it
TZ_NAME = "Asia/Shanghai"
NOW = datetime(2026, 6, 30, 22, 0, tzinfo=ZoneInfo(TZ_NAME))
FIRST = datetime(2026, 5, 1, tzinfo=ZoneInfo(TZ_NAME))
DIRTY = 50  # the last conversations, left for readers to correct with
BATCH = 5_000
RUNS = 5


@dataclass(frozen=True, slots=True)
class Generated:
    """One conversation as written: its facts and the rows that say them."""

    facts: ConversationFacts
    consumer: int
    agent: int | None
    texts: list[tuple[Sender, int | None, datetime]]  # every message, bot ones included
    events: list[tuple[str, str | None, int | None, datetime]]
    ratings: list[tuple[int, int, datetime]]


def generate(n: int, agent_ids: list[int], *, seed: int = 14) -> Iterator[Generated]:
    """`n` conversations spread over DAYS days, about 10 messages each: some the bot answers
    alone, most ask for a human who takes them after a queue, some go to offline messages or
    leave the queue, some are transferred or invite a colleague, a third of the served rate."""
    rng = random.Random(seed)
    span = (NOW - FIRST).total_seconds() - 3600
    for i in range(n):
        cid = i + 1
        started = FIRST + timedelta(seconds=span * (i + rng.random()) / n)
        lines = rng.randint(4, 16)
        clock = started
        texts: list[tuple[Sender, int | None, datetime]] = []
        events: list[tuple[str, str | None, int | None, datetime]] = []
        ratings: list[tuple[int, int, datetime]] = []
        requested = None
        holdings: list[Holding] = []
        invited: set[int] = set()
        offline = None
        fate = rng.random()
        if fate < 0.15:  # the bot alone
            for k in range(lines):
                clock += timedelta(seconds=rng.randint(2, 40))
                texts.append((Sender.CONSUMER if k % 2 == 0 else Sender.BOT, None, clock))
        else:
            clock += timedelta(seconds=rng.randint(5, 60))
            texts.append((Sender.CONSUMER, None, clock))
            requested = clock
            if fate < 0.25:  # offline messages, or the consumer left the queue
                clock += timedelta(seconds=rng.randint(10, 900))
                offline = rng.choice(list(OfflineReason))
                events.append(("offline", offline.value, None, clock))
                for _ in range(lines - 1):
                    clock += timedelta(seconds=rng.randint(5, 60))
                    texts.append((Sender.CONSUMER, None, clock))
            else:
                agent = rng.choice(agent_ids)
                queue = rng.randint(0, 120) if rng.random() < 0.9 else rng.randint(120, 7200)
                clock += timedelta(seconds=queue)
                holdings.append(Holding(agent, clock))
                events.append(("assigned", "routing", agent, clock))
                transfer_at = rng.randint(3, lines) if rng.random() < 0.05 else None
                for k in range(1, lines):
                    if k == transfer_at:
                        agent = rng.choice(agent_ids)
                        holdings.append(Holding(agent, clock))
                        events.append(("transferred", "agent", agent, clock))
                    clock += timedelta(seconds=rng.randint(3, 90))
                    if k % 2:
                        texts.append((Sender.AGENT, agent, clock))
                    else:
                        texts.append((Sender.CONSUMER, None, clock))
                if rng.random() < 0.1:
                    guest = rng.choice(agent_ids)
                    invited.add(guest)
                    events.append(("invited", "agent", guest, clock))
                if rng.random() < 0.33:
                    stars = rng.choice((5, 5, 5, 4, 4, 3, 2, 1))
                    ratings.append((agent, stars, clock + timedelta(seconds=30)))
        ended = clock + timedelta(seconds=60)
        best: dict[int, int] = {}
        for agent_id, stars, _ in ratings:
            best[agent_id] = max(stars, best.get(agent_id, 0))
        facts = ConversationFacts(
            cid,
            started,
            human_requested_at=requested,
            holdings=tuple(holdings),
            invited=frozenset(invited),
            ended_at=ended,
            offline_reason=offline,
            messages=tuple(
                Message(at, sender, who)
                for sender, who, at in texts
                if sender in (Sender.CONSUMER, Sender.AGENT)
            ),
            ratings=best,
        )
        holder = holdings[-1].agent_id if holdings else None
        yield Generated(facts, i, holder, texts, events, ratings)


async def _count(db: Database) -> tuple[int, int]:
    """(conversations, messages) of a complete bench shop, or (-1, -1)."""
    try:
        async with db.read() as tx:
            if not await tx.conn.scalar(select(func.count()).select_from(t.analytics_zones)):
                return -1, -1
            conversations = await tx.conn.scalar(select(func.count()).select_from(t.conversations))
            messages = await tx.conn.scalar(select(func.count()).select_from(t.messages))
            return int(conversations or 0), int(messages or 0)
    except Exception:  # no schema yet
        return -1, -1


async def _drop_search_index(db: Database) -> None:
    """The bench reads no search index; without it the load is several times faster."""
    async with db.uow() as tx:
        if db.is_sqlite:
            for statement in t.SQLITE_SEARCH_DROP:
                await tx.conn.execute(text(statement))
        else:
            await tx.conn.execute(text("DROP INDEX IF EXISTS ix_messages_body_trgm"))
        await tx.commit()


async def load(
    db: Database, conversations: int, *, advance: Callable[[int], None] | None = None
) -> tuple[int, int]:
    """Writes the bench shop; returns (shop id, messages written)."""
    await db.create_all()
    await _drop_search_index(db)
    shop = await seed_shop(db, agents=AGENTS, limit=10, now=FIRST, groups=GROUPS)
    agent_ids = [a for group in shop.agents for a, _ in group]
    consumers = max(1000, conversations // 10)
    async with db.uow() as tx:
        rows = [
            {"shop_id": shop.shop_id, "uid": f"b{i}", "nickname": f"买家{i}", "is_vip": False,
             "created_at": FIRST}
            for i in range(consumers)
        ]  # fmt: skip
        await tx.conn.execute(insert(t.consumers), rows)
        first_consumer = int(
            await tx.conn.scalar(
                select(func.min(t.consumers.c.id)).where(t.consumers.c.shop_id == shop.shop_id)
            )
            or 0
        )
        await tx.commit()
    tz = ZoneInfo(TZ_NAME)
    rollups: dict[Key, Tally] = {}
    written = 0
    batch: list[Generated] = []
    for done, g in enumerate(generate(conversations, agent_ids), start=1):
        batch.append(g)
        if len(batch) == BATCH or done == conversations:
            written += await _write(db, shop.shop_id, first_consumer, consumers, batch, tz, rollups)
            batch = []
            if advance is not None:
                advance(done)
    async with db.uow() as tx:
        await rollup_store.add_to_rollups(tx.conn, shop.shop_id, rollups)
        last = max(0, conversations - DIRTY)
        await rollup_store.mark_dirty(tx.conn, shop.shop_id, range(last + 1, conversations + 1))
        await tx.conn.execute(
            insert(t.analytics_zones).values(shop_id=shop.shop_id, time_zone=TZ_NAME)
        )
        if not db.is_sqlite:
            await tx.conn.execute(
                text("SELECT setval(pg_get_serial_sequence('conversations', 'id'), :n)"),
                {"n": max(conversations, 1)},
            )
        await tx.commit()
    if not db.is_sqlite:
        async with db.engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
            await conn.commit()
    return shop.shop_id, written


async def _write(
    db: Database,
    shop_id: int,
    first_consumer: int,
    consumers: int,
    batch: list[Generated],
    tz: ZoneInfo,
    rollups: dict[Key, Tally],
) -> int:
    conversations: list[tuple[Any, ...]] = []
    messages: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    ratings: list[tuple[Any, ...]] = []
    parts = []
    for g in batch:
        f = g.facts
        conversations.append((
            f.conversation_id, shop_id, first_consumer + g.consumer % consumers, "ended", None,
            g.agent, "{}", f.started_at, f.human_requested_at, f.assigned_at, f.ended_at,
            "consumer", len(g.texts), g.texts[-1][2] if g.texts else None, False,
        ))  # fmt: skip
        for seq, (sender, who, at) in enumerate(g.texts, start=1):
            messages.append(
                (shop_id, f.conversation_id, seq, sender.value, who, "text", "在吗", at)
            )
        for kind, cause, agent_id, at in g.events:
            events.append((shop_id, f.conversation_id, kind, cause, agent_id, at, "{}"))
        for agent_id, stars, at in g.ratings:
            ratings.append((shop_id, f.conversation_id, agent_id, stars, "self", at))
        mine = parts_of(f, tz=tz, now=NOW)
        parts += mine
        for key, change in deltas((), mine).items():
            rollups[key] = rollups.get(key, Tally()) + change
    part_rows = [
        (p.conversation_id, p.agent_id, shop_id, p.bucket, p.stale_at, *p.tally.counts())
        for p in parts
    ]
    async with db.uow() as tx:
        await _bulk(tx.conn, t.conversations, CONVERSATION_COLUMNS, conversations)
        await _bulk(tx.conn, t.messages, MESSAGE_COLUMNS, messages)
        await _bulk(tx.conn, t.conversation_events, EVENT_COLUMNS, events)
        await _bulk(tx.conn, t.ratings, RATING_COLUMNS, ratings)
        await _bulk(tx.conn, t.analytics_parts, PART_COLUMNS, part_rows)
        await tx.commit()
    return len(messages)


CONVERSATION_COLUMNS = (
    "id", "shop_id", "consumer_id", "state", "group_id", "agent_id", "entry", "created_at",
    "human_requested_at", "assigned_at", "ended_at", "end_cause", "last_seq", "last_message_at",
    "is_transferred",
)  # fmt: skip
MESSAGE_COLUMNS = (
    "shop_id", "conversation_id", "seq", "sender", "sender_id", "kind", "body", "created_at",
)  # fmt: skip
EVENT_COLUMNS = ("shop_id", "conversation_id", "kind", "cause", "agent_id", "at", "data")
RATING_COLUMNS = ("shop_id", "conversation_id", "agent_id", "stars", "source", "at")
PART_COLUMNS = ("conversation_id", "agent_id", "shop_id", "bucket", "stale_at", *TALLY_FIELDS)


async def _bulk(
    conn: AsyncConnection, table: Any, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """COPY on PostgreSQL; on SQLite the driver's executemany, values stored as SQLAlchemy
    stores them (UTC times as text, JSON as text), in the caller's transaction."""
    if not rows:
        return
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    if conn.dialect.name == "postgresql":
        await driver.copy_records_to_table(table.name, records=rows, columns=list(columns))
        return
    marks = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
    await driver.executemany(sql, [tuple(map(_sqlite_value, row)) for row in rows])


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


@dataclass(frozen=True, slots=True)
class Prepared:
    db: Database
    shop_id: int
    conversations: int
    messages: int


async def prepare(
    db_kind: str, conversations: int, *, data_dir: Path, pg_url: str, fresh: bool
) -> Prepared:
    """The bench shop of `conversations` conversations, from the cache when it is there."""
    timeouts = DbTimeouts(statement_s=3600.0, lock_s=600.0)
    if db_kind == "sqlite":
        path = data_dir / "bench" / f"analytics-{conversations}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        if fresh:
            await asyncio.to_thread(remove_sqlite, path)
        db = Database(f"sqlite+aiosqlite:///{path.resolve()}", timeouts=timeouts)
    else:
        name = f"kefu_bench_analytics_{conversations}"
        url, _ = await cached_database(pg_url, name, fresh=fresh)
        db = Database(url, timeouts=timeouts)
    counted, messages = await _count(db)
    if counted != conversations:
        if counted != -1 or await _has_rows(db):  # an interrupted load: start again
            await db.dispose()
            return await prepare(
                db_kind, conversations, data_dir=data_dir, pg_url=pg_url, fresh=True
            )
        with progress_bar() as bar:
            task = bar.add_task("generating conversations", total=conversations)
            _, messages = await load(
                db, conversations, advance=lambda done: bar.update(task, completed=done)
            )
    async with db.read() as tx:
        shop_id = int(await tx.conn.scalar(select(func.min(t.shops.c.id))) or 0)
    return Prepared(db, shop_id, conversations, messages)


async def _has_rows(db: Database) -> bool:
    try:
        async with db.read() as tx:
            return bool(await tx.conn.scalar(select(func.count()).select_from(t.shops)))
    except Exception:  # no schema yet
        return False


async def _timed(run: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """The median time in ms of `runs` runs after a warm-up, and the last result."""
    result = await run()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = await run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


async def benchmark(
    *, db_kind: str, conversations: int, data_dir: Path, pg_url: str, fresh: bool, drop: bool
) -> dict[str, Any]:
    from kefu.analytics.service import shop_agents, shop_dashboard
    from kefu.broker.memory import MemoryBroker
    from kefu.clock import FakeClock
    from kefu.domain.presence import Role
    from kefu.services.context import Context, Staff
    from kefu.settings import Settings

    prepared = await prepare(db_kind, conversations, data_dir=data_dir, pg_url=pg_url, fresh=fresh)
    db = prepared.db
    ctx = Context(
        db=db, clock=FakeClock(NOW.astimezone(UTC)), broker=MemoryBroker(),
        settings=Settings(database_url=db.url),
    )  # fmt: skip
    staff = Staff(account_id=0, shop_id=prepared.shop_id, role=Role.OWNER, group_id=None)
    last = NOW.date()
    first = last - timedelta(days=29)

    def dashboard(raw: bool) -> Callable[[], Any]:
        return lambda: shop_dashboard(ctx, prepared.shop_id, kind=PeriodKind.MONTH, raw=raw)

    def agents(raw: bool) -> Callable[[], Any]:
        return lambda: shop_agents(
            ctx, staff, kind=PeriodKind.CUSTOM, first=first, last=last, raw=raw
        )

    try:
        dash_ms, dash = await _timed(dashboard(False), RUNS)
        agents_ms, by_agent = await _timed(agents(False), RUNS)
        raw_runs = 1 if conversations > 50_000 else 3
        dash_raw_ms, dash_raw = await _timed(dashboard(True), raw_runs)
        agents_raw_ms, by_agent_raw = await _timed(agents(True), raw_runs)
    finally:
        await db.dispose()
        if drop and db_kind == "postgresql":
            await drop_database(pg_url, db.url)
    return {
        "db": db_kind,
        "conversations": prepared.conversations,
        "messages": prepared.messages,
        "month_conversations": dash["current"]["conversations"],
        "dashboard_rollup_ms": round(dash_ms, 2),
        "dashboard_raw_ms": round(dash_raw_ms, 2),
        "agents_rollup_ms": round(agents_ms, 2),
        "agents_raw_ms": round(agents_raw_ms, 2),
        "rollups_equal_raw": "yes" if (dash, by_agent) == (dash_raw, by_agent_raw) else "NO",
    }


def command(
    db: DbOption = "sqlite",
    conversations: int = typer.Option(
        1_000_000, "--conversations", min=100, help="Conversations in the shop (messages: 10×)."
    ),
    data_dir: DataDirOption = Path(".kefu"),
    pg_admin_url: PgAdminUrlOption = DEFAULT_PG_ADMIN_URL,
    fresh: FreshOption = False,
    drop: DropOption = False,
    as_json: JsonOption = False,
) -> None:
    """A month's dashboard and a 30-day agent analysis from rollups and from raw events."""
    figures = asyncio.run(
        benchmark(
            db_kind=db,
            conversations=conversations,
            data_dir=data_dir,
            pg_url=pg_admin_url,
            fresh=fresh,
            drop=drop,
        )
    )
    print_table(
        "kefu bench analytics",
        figures,
        caption=f"{conversations:,} conversations on {db}; goal < 200 ms from rollups",
    )
    if as_json:
        emit_json(figures)
