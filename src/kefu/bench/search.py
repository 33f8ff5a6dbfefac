"""`kefu bench search`: latency of the history search (DATA-5) on a shop of N messages.

The shop's history (search_corpus) is generated once per size and engine and kept: SQLite in
a file of the data directory (`<data-dir>/bench/search-<N>.db`), PostgreSQL in a database
`kefu_bench_search_<N>` next to the admin URL's (`--fresh` makes either again, `--drop` removes
the PostgreSQL one after the run). Then 100 searches as a supervisor sees them (the whole
shop), mixed as a busy shop types them: product and issue words of 2 to 6 characters, some
with an agent, a consumer or a time range, some rare; median and p99 of their latencies.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import typer
from sqlalchemy import func, select

from kefu.bench import search_corpus as corpus
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
    percentile,
    print_table,
    progress_bar,
    remove_sqlite,
)
from kefu.domain.presence import Role
from kefu.search.domain import SearchQuery
from kefu.search.service import search_history
from kefu.services.context import Staff
from kefu.storage import tables as t
from kefu.storage.db import Database

SEARCHES = 100
# Words a shop's staff look for: products, issues, places, couriers, and words across the
# boundaries a segmenter draws (请退款, 货怎么), plus a few that are nowhere.
WORDS = (
    "退款", "发货", "快递", "发票", "优惠券", "正品", "换货", "运费险", "尺码", "赠品",
    "申请退款", "请退款", "货怎么", "七天无理由", "物流三天没更新", "颜色和图片不一样",
    "包装破损", "质检报告", "机洗", "保修", "会员", "二次销售",
    *corpus.PRODUCTS[::3], *corpus.CITIES[::4], *corpus.COURIERS[::2],
    "乌鲁木齐", "呼和浩特", "顺丰", "极兔", "藏青色", "酒红色",
    "蓝牙耳机 退款", "连衣裙 藏青色", "发货 北京",
    "火星快递", "量子纠缠", "不存在的商品",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Prepared:
    db: Database
    shop_id: int
    agent_ids: list[int]
    consumers: list[tuple[str, str]]  # (uid, nickname)
    messages: int


async def _count(db: Database) -> int:
    try:
        async with db.read() as tx:
            return int(await tx.conn.scalar(select(func.count()).select_from(t.messages)) or 0)
    except Exception:  # no schema yet
        return -1


async def _load(db: Database, messages: int) -> None:
    await db.create_all()
    with progress_bar() as bar:
        task = bar.add_task("generating messages", total=messages)
        await corpus.load_shop(db, messages, progress=lambda done: bar.update(task, completed=done))


async def prepare(
    db_kind: str, messages: int, *, data_dir: Path, pg_url: str, fresh: bool
) -> Prepared:
    """The bench shop of `messages` messages, from the cache when it is there."""
    if db_kind == "sqlite":
        path = data_dir / "bench" / f"search-{messages}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        if fresh:
            await asyncio.to_thread(remove_sqlite, path)
        db = Database(f"sqlite+aiosqlite:///{path.resolve()}")
    else:
        url, _ = await cached_database(pg_url, f"kefu_bench_search_{messages}", fresh=fresh)
        db = Database(url)
    if await _count(db) != messages:
        if await _count(db) > 0:  # an interrupted load: start again
            await db.dispose()
            return await prepare(db_kind, messages, data_dir=data_dir, pg_url=pg_url, fresh=True)
        await _load(db, messages)
    await corpus.ensure_search_index(db)  # a load cut short before its index
    async with db.read() as tx:
        shop_id = int(await tx.conn.scalar(select(func.min(t.shops.c.id))) or 0)
        agent_ids = list(await tx.conn.scalars(select(t.accounts.c.id).order_by(t.accounts.c.id)))
        consumers = [
            (str(uid), str(nick))
            for uid, nick in await tx.conn.execute(
                select(t.consumers.c.uid, t.consumers.c.nickname).limit(200)
            )
        ]
    return Prepared(db, shop_id, agent_ids, consumers, messages)


def searches(prepared: Prepared, count: int, *, seed: int = 5) -> list[SearchQuery]:
    """`count` searches: most by words alone, some narrowed by agent, consumer or time."""
    rng = random.Random(seed)
    span = timedelta(days=corpus.HISTORY_DAYS)
    found: list[SearchQuery] = []
    for i in range(count):
        words = tuple(rng.choice(WORDS).split())
        kind = i % 10
        if kind == 7:
            found.append(SearchQuery(words, agent_id=rng.choice(prepared.agent_ids)))
        elif kind == 8 and prepared.consumers:
            uid, nick = rng.choice(prepared.consumers)
            found.append(SearchQuery(words, consumer=rng.choice((uid, nick[:3]))))
        elif kind == 9:
            since = corpus.START + span * rng.random()
            found.append(SearchQuery(words, since=since, until=since + timedelta(days=7)))
        else:
            found.append(SearchQuery(words))
    return found


async def benchmark(
    *, db_kind: str, messages: int, data_dir: Path, pg_url: str, fresh: bool, drop: bool
) -> dict[str, Any]:
    from kefu.broker.memory import MemoryBroker
    from kefu.clock import FakeClock
    from kefu.services.context import Context
    from kefu.settings import Settings

    prepared = await prepare(db_kind, messages, data_dir=data_dir, pg_url=pg_url, fresh=fresh)
    db = prepared.db
    ctx = Context(
        db=db,
        clock=FakeClock(corpus.START + timedelta(days=corpus.HISTORY_DAYS + 1)),
        broker=MemoryBroker(),
        settings=Settings(database_url=db.url),
    )
    staff = Staff(account_id=0, shop_id=prepared.shop_id, role=Role.SUPERVISOR, group_id=None)
    queries = searches(prepared, SEARCHES)
    latencies: list[float] = []
    hits = 0
    try:
        await search_history(ctx, staff, queries[0])  # warm the connection and caches
        for query in queries:
            started = time.perf_counter()
            page = await search_history(ctx, staff, query)
            latencies.append((time.perf_counter() - started) * 1000)
            hits += bool(page.items)
    finally:
        await db.dispose()
        if drop and db_kind == "postgresql":
            await drop_database(pg_url, db.url)
    return {
        "db": db_kind,
        "messages": prepared.messages,
        "searches": len(queries),
        "with_results": hits,
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "max_ms": round(max(latencies), 2),
    }


def command(
    db: DbOption = "sqlite",
    messages: int = typer.Option(1_000_000, "--messages", min=100, help="Messages in the shop."),
    data_dir: DataDirOption = Path(".kefu"),
    pg_admin_url: PgAdminUrlOption = DEFAULT_PG_ADMIN_URL,
    fresh: FreshOption = False,
    drop: DropOption = False,
    as_json: JsonOption = False,
) -> None:
    """Median and p99 latency of 100 history searches (DATA-5) on SQLite or PostgreSQL."""
    figures = asyncio.run(
        benchmark(
            db_kind=db,
            messages=messages,
            data_dir=data_dir,
            pg_url=pg_admin_url,
            fresh=fresh,
            drop=drop,
        )
    )
    print_table(
        "kefu bench search",
        figures,
        caption=f"{SEARCHES} searches over {messages:,} messages on {db}; goal p99 < 200 ms",
    )
    if as_json:
        emit_json(figures)
