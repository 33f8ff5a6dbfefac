"""DATA-5 and issue 16: on SQLite the search index is filled in bulk after the messages are
stored (by the message writer, between its batches), not by a trigger on every insert; a
search finds every message from the moment it is stored, the newest read directly, and pages
across the indexed and the not-yet-indexed messages as across any others."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, insert, select, text, update

from kefu.clock import FakeClock
from kefu.storage import search as search_store
from kefu.storage import tables as t
from kefu.storage.db import Database
from kefu.storage.messages import SqliteBatches
from kefu.storage.migrate import alembic_config
from kefu.storage.search import SearchFilters
from support import make_shop

AT = datetime(2026, 12, 1, 10, tzinfo=UTC)
COAT = "我想把这件羊绒大衣退掉"


async def _conversation(db: Database) -> tuple[int, int]:
    shop = await make_shop(db, clock=FakeClock(AT))
    async with db.uow() as tx:
        consumer_id = await tx.conn.scalar(
            insert(t.consumers)
            .values(shop_id=shop.shop_id, uid="u1", nickname="雪球团子", created_at=AT)
            .returning(t.consumers.c.id)
        )
        conversation_id = await tx.conn.scalar(
            insert(t.conversations)
            .values(shop_id=shop.shop_id, consumer_id=consumer_id, state="bot", created_at=AT)
            .returning(t.conversations.c.id)
        )
        await tx.commit()
    return shop.shop_id, int(conversation_id or 0)


async def _store(db: Database, shop_id: int, conversation_id: int, bodies: list[str]) -> list[int]:
    async with db.uow() as tx:
        first = int(
            await tx.conn.scalar(
                select(func.coalesce(func.max(t.messages.c.seq), 0)).where(
                    t.messages.c.conversation_id == conversation_id
                )
            )
            or 0
        )
        ids = [
            int(
                await tx.conn.scalar(
                    insert(t.messages)
                    .values(
                        shop_id=shop_id,
                        conversation_id=conversation_id,
                        seq=first + i,
                        sender="consumer",
                        kind="text",
                        body=body,
                        created_at=AT + timedelta(seconds=first + i),
                    )
                    .returning(t.messages.c.id)
                )
                or 0
            )
            for i, body in enumerate(bodies, start=1)
        ]
        await tx.commit()
    return ids


async def _found(db: Database, shop_id: int, word: str, *, limit: int = 50) -> list[int]:
    """Every match, newest first, read in pages of `limit` (the walk through the index)."""
    found: list[int] = []
    before: int | None = None
    async with db.read() as tx:
        await search_store.begin_search(tx.conn)
        while page := await search_store.matches(
            tx.conn, SearchFilters(shop_id, (word,)), before_id=before, limit=limit
        ):
            found += [m.id for m in page]
            before = page[-1].id
    return found


def _sqlite(db: Database) -> sqlite3.Connection:
    return sqlite3.connect(str(db.engine.url.database), isolation_level=None)


def _indexed_upto(db: Database) -> int:
    conn = _sqlite(db)
    try:
        return int(conn.execute("SELECT indexed_upto FROM message_search_progress").fetchone()[0])
    finally:
        conn.close()


def _in_the_index(db: Database, word: str) -> list[int]:
    conn = _sqlite(db)
    try:
        rows = conn.execute(
            "SELECT rowid FROM message_search WHERE message_search MATCH ? ORDER BY rowid DESC",
            (f'"{word}"',),
        )
        return [r[0] for r in rows]
    finally:
        conn.close()


async def test_data_5_a_message_is_found_the_moment_it_is_stored(db: Database) -> None:
    shop_id, conversation_id = await _conversation(db)
    ids = await _store(db, shop_id, conversation_id, [COAT, "你好", COAT + "？"])
    assert await _found(db, shop_id, "羊绒大衣") == [ids[2], ids[0]]
    if not db.is_sqlite:
        return
    assert _indexed_upto(db) == 0 and _in_the_index(db, "羊绒大衣") == []  # read directly
    conn = _sqlite(db)
    try:
        assert search_store.index_pending(conn) == 3
        assert search_store.index_pending(conn) == 0  # nothing new: nothing written
    finally:
        conn.close()
    assert _indexed_upto(db) == ids[2]
    assert _in_the_index(db, "羊绒大衣") == [ids[2], ids[0]]
    assert await _found(db, shop_id, "羊绒大衣") == [ids[2], ids[0]]  # now through the index


SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
async def test_data_5_pages_cross_from_the_newest_messages_into_the_index(db: Database) -> None:
    shop_id, conversation_id = await _conversation(db)
    ids = await _store(db, shop_id, conversation_id, [f"{COAT} {i}" for i in range(7)])
    conn = _sqlite(db)
    try:
        assert search_store.index_pending(conn, most=3) == 3  # the 3 oldest indexed, 4 not
    finally:
        conn.close()
    assert _indexed_upto(db) == ids[2]
    newest_first = list(reversed(ids))
    for limit in (1, 2, 3, 4, 50):
        assert await _found(db, shop_id, "羊绒大衣", limit=limit) == newest_first, limit


@SQLITE_ONLY
async def test_data_5_changes_to_indexed_messages_reach_the_index_at_once(db: Database) -> None:
    shop_id, conversation_id = await _conversation(db)
    ids = await _store(db, shop_id, conversation_id, [COAT, "珍珠奶茶还有吗", "顺丰发货"])
    conn = _sqlite(db)
    try:
        search_store.index_pending(conn)
    finally:
        conn.close()
    async with db.uow() as tx:
        await tx.conn.execute(
            update(t.messages).where(t.messages.c.id == ids[1]).values(body="抹茶拿铁还有吗")
        )
        await tx.conn.execute(t.messages.delete().where(t.messages.c.id == ids[2]))
        await tx.commit()
    assert _in_the_index(db, "珍珠奶茶") == [] and _in_the_index(db, "抹茶拿铁") == [ids[1]]
    assert _in_the_index(db, "顺丰发") == []
    # The newest message gone, the mark came down with it: the id SQLite gives again is not
    # taken for an indexed one.
    assert _indexed_upto(db) == ids[1]
    (again,) = await _store(db, shop_id, conversation_id, ["圆通发货"])
    assert again == ids[2]
    assert await _found(db, shop_id, "圆通发") == [again]
    conn = _sqlite(db)
    try:
        assert search_store.index_pending(conn) == 1
        # FTS5 raises if the index does not match the messages it was given.
        conn.execute("INSERT INTO message_search(message_search) VALUES ('integrity-check')")
    finally:
        conn.close()
    assert _in_the_index(db, "圆通发") == [again]
    assert await _found(db, shop_id, "羊绒大衣") == [ids[0]]


@SQLITE_ONLY
async def test_data_5_the_message_writer_indexes_what_was_stored_meanwhile(db: Database) -> None:
    """Whoever stored them (here not the writer itself), the writer's thread indexes the new
    messages within a checkpoint interval or two."""
    shop_id, conversation_id = await _conversation(db)
    ids = await _store(db, shop_id, conversation_id, [COAT] * 5)
    batches = SqliteBatches.of(db)
    assert batches is not None
    try:
        await batches.run(lambda tx: None)  # opens the writer's connection and its thread
        for _ in range(50):
            if _indexed_upto(db) == ids[-1]:
                break
            await asyncio.sleep(0.1)
    finally:
        await batches.close()
    assert _indexed_upto(db) == ids[-1]
    assert _in_the_index(db, "羊绒大衣") == list(reversed(ids))


async def test_data_5_migration_0023_keeps_every_message_searchable(tmp_path: Path) -> None:
    """From the trigger that indexed every insert to the bulk index, and back."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'kefu.db'}"
    config = alembic_config(url)
    await asyncio.to_thread(command.upgrade, config, "0022")
    db = Database(url)
    try:
        shop_id, conversation_id = await _conversation(db)
        before = await _store(db, shop_id, conversation_id, [COAT])  # indexed by the trigger
        await asyncio.to_thread(command.upgrade, config, "0023")
        assert _indexed_upto(db) == before[0]
        after = await _store(db, shop_id, conversation_id, [COAT])  # not indexed yet
        assert _in_the_index(db, "羊绒大衣") == before
        assert await _found(db, shop_id, "羊绒大衣") == after + before
        await asyncio.to_thread(command.downgrade, config, "0022")
        assert _in_the_index(db, "羊绒大衣") == after + before
        async with db.read() as tx:
            names = set(
                await tx.conn.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
            )
        assert "message_search_insert" in names
    finally:
        await db.dispose()
