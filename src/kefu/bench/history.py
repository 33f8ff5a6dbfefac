"""A database that already holds a shop's history: `--stored N` messages, generated once with a
progress bar and cached between runs (a SQLite file in the user's cache folder; a template
database on PostgreSQL), so that a benchmark meets the indexes a busy shop has, not an empty
table. The history belongs to its own shop; the benchmark seeds its shop on top of it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TimeRemainingColumn,
)
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from kefu.bench.common import create_database, progress
from kefu.storage import search as search_store
from kefu.storage import tables as t
from kefu.storage.db import Database
from kefu.storage.migrate import MIGRATIONS, upgrade

MESSAGES_PER_CONVERSATION = 100
CHUNK = 5_000


def schema_tag() -> str:
    """Changes whenever a migration is added or edited: a cached history is of one schema."""
    digest = hashlib.sha256()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:10]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kefu" / "bench"


async def sqlite_with_history(stored: int, target: Path) -> str:
    """A migrated SQLite file at `target` holding `stored` messages (copied from the cache)."""
    url = f"sqlite+aiosqlite:///{target}"
    if stored == 0:
        await asyncio.to_thread(upgrade, url)
        return url
    cached = cache_dir() / f"history-{schema_tag()}-{stored}.db"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        part = cached.with_suffix(".part")
        part.unlink(missing_ok=True)
        part_url = f"sqlite+aiosqlite:///{part}"
        await asyncio.to_thread(upgrade, part_url)
        await fill(part_url, stored)
        part.rename(cached)
    progress.print(f"history: {stored:,} stored messages from {cached}")
    await asyncio.to_thread(shutil.copyfile, cached, target)
    return url


async def postgresql_with_history(stored: int, admin_url: str) -> str:
    """A fresh database holding `stored` messages, made from a cached template database."""
    if stored == 0:
        url = await create_database(admin_url)
        await asyncio.to_thread(upgrade, url)
        return url
    template = f"kefu_bench_history_{schema_tag()}_{stored}"
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            found = await conn.scalar(
                text("SELECT count(*) FROM pg_database WHERE datname = :name"), {"name": template}
            )
            if not found:
                part = template + "_part"
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{part}" WITH (FORCE)'))
                await conn.execute(text(f'CREATE DATABASE "{part}"'))
                part_url = admin_url.rsplit("/", 1)[0] + "/" + part
                await asyncio.to_thread(upgrade, part_url)
                await fill(part_url, stored)
                await conn.execute(text(f'ALTER DATABASE "{part}" RENAME TO "{template}"'))
    finally:
        await engine.dispose()
    progress.print(f"history: {stored:,} stored messages from template {template}")
    return await create_database(admin_url, template=template)


async def fill(url: str, stored: int) -> None:
    """`stored` messages in conversations of MESSAGES_PER_CONVERSATION, in a shop of their own."""
    db = Database(url)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    conversations = -(-stored // MESSAGES_PER_CONVERSATION)
    try:
        async with db.engine.begin() as conn:
            shop_id = (
                await conn.execute(
                    insert(t.shops)
                    .values(
                        name="History",
                        manager_name="History",
                        secret=secrets.token_hex(16),
                        created_at=start,
                    )
                    .returning(t.shops.c.id)
                )
            ).scalar_one()
            await conn.execute(
                insert(t.consumers),
                [
                    {"shop_id": shop_id, "uid": f"h{k}", "nickname": f"h{k}", "created_at": start}
                    for k in range(conversations)
                ],
            )
            consumers = {
                uid: cid
                for cid, uid in await conn.execute(
                    select(t.consumers.c.id, t.consumers.c.uid).where(
                        t.consumers.c.shop_id == shop_id
                    )
                )
            }
            await conn.execute(
                insert(t.conversations),
                [
                    {
                        "shop_id": shop_id,
                        "consumer_id": consumers[f"h{k}"],
                        "state": "ended",
                        "entry": {},
                        "created_at": start,
                        "ended_at": start + timedelta(hours=1),
                        "end_cause": "agent",
                        "last_seq": min(MESSAGES_PER_CONVERSATION, stored - k * 100),
                        "last_message_at": start,
                    }
                    for k in range(conversations)
                ],
            )
            ids = [
                cid
                for (cid,) in await conn.execute(
                    select(t.conversations.c.id)
                    .where(t.conversations.c.shop_id == shop_id)
                    .order_by(t.conversations.c.id)
                )
            ]
        with Progress(
            *Progress.get_default_columns()[:1],
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=progress,
        ) as bar:
            task = bar.add_task("history: storing messages", total=stored)
            for first in range(0, stored, CHUNK):
                rows = [
                    _message(shop_id, ids, consumers, i, start)
                    for i in range(first, min(stored, first + CHUNK))
                ]
                async with db.engine.begin() as conn:
                    await conn.execute(insert(t.messages), rows)
                bar.advance(task, len(rows))
            if db.is_sqlite:  # indexed for search as the server's writer would have done
                task = bar.add_task("history: search index", total=stored)
                await asyncio.to_thread(_index_all, str(db.engine.url.database), bar, task)
        # PostgreSQL's autovacuum would analyze such a table; SQLite has no statistics
        # unless someone runs ANALYZE, and a deployment does not.
        if not db.is_sqlite:
            async with db.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.exec_driver_sql("VACUUM ANALYZE")
    finally:
        await db.dispose()


def _index_all(path: str, bar: Progress, task: TaskID) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        while indexed := search_store.index_pending(conn, most=CHUNK):
            bar.advance(task, indexed)
    finally:
        conn.close()


def _message(
    shop_id: int, ids: list[int], consumers: dict[str, int], i: int, start: datetime
) -> dict[str, object]:
    k, seq = divmod(i, MESSAGES_PER_CONVERSATION)
    by_consumer = seq % 2 == 0
    return {
        "shop_id": shop_id,
        "conversation_id": ids[k],
        "seq": seq + 1,
        "sender": "consumer" if by_consumer else "system",
        "sender_id": consumers[f"h{k}"] if by_consumer else None,
        "kind": "text",
        "body": f"历史消息 {i} 你好，请问什么时候发货",
        "client_id": f"h{i}" if by_consumer else None,
        "created_at": start + timedelta(seconds=i),
        "meta": None,
    }
