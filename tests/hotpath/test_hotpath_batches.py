"""Issue 16, the message hot path on SQLite: a batch is one transaction on the batch thread's
own connection. What it writes reads back the same through SQLAlchemy and the other way round
(MSG-2), its client-id lookup is a search in the unique index, a failed batch leaves nothing,
and a writer with nothing to write does nothing."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from kefu import errors
from kefu.clock import FakeClock
from kefu.domain.messages import MessageKind, ReplyClock, SenderKind
from kefu.services import messages as message_services
from kefu.services.messages import Ack, MessageWriter, SendRequest
from kefu.storage import messages as message_store
from kefu.storage import tables as t
from kefu.storage.db import Database
from kefu.storage.messages import (
    _BY_CLIENT_IDS,
    Append,
    DuplicateMessage,
    NewMessage,
    SqliteBatches,
)
from support import make_shop, service_context


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'kefu.db'}")
    await database.create_all()
    try:
        yield database
    finally:
        await database.dispose()


async def _conversation(db: Database, clock: FakeClock) -> tuple[int, int, int]:
    """(shop id, consumer id, conversation id) of an assigned conversation."""
    shop = await make_shop(db, clock=clock)
    now = clock.now()
    async with db.uow() as tx:
        consumer_id = await tx.conn.scalar(
            insert(t.consumers)
            .values(shop_id=shop.shop_id, uid="u1", nickname="买家", created_at=now)
            .returning(t.consumers.c.id)
        )
        conversation_id = await tx.conn.scalar(
            insert(t.conversations)
            .values(shop_id=shop.shop_id, consumer_id=consumer_id, state="assigned", created_at=now)
            .returning(t.conversations.c.id)
        )
        await tx.commit()
    assert consumer_id is not None and conversation_id is not None
    return shop.shop_id, consumer_id, conversation_id


def _batches(db: Database) -> SqliteBatches:
    batches = SqliteBatches.of(db)
    assert batches is not None
    return batches


async def test_msg_2_batch_path_writes_what_sqlalchemy_reads_and_back(db: Database) -> None:
    clock = FakeClock()
    shop_id, consumer_id, conversation_id = await _conversation(db, clock)
    meta = {"url": "/f/1.png", "name": '图 "1"'}
    # One message through SQLAlchemy, two through the batch thread.
    async with db.uow() as tx:
        await message_store.append_stamped(
            tx.conn,
            [
                Append(
                    shop_id,
                    conversation_id,
                    [NewMessage("consumer", consumer_id, "text", "a", "c1")],
                )
            ],
            now=clock.now(),
        )
        await tx.commit()
    batches = _batches(db)
    later = clock.now() + timedelta(seconds=3)
    try:
        appended = await batches.run(
            lambda tx: tx.append_stamped(
                [
                    Append(
                        shop_id,
                        conversation_id,
                        [
                            NewMessage("consumer", consumer_id, "text", "b", "c2"),
                            NewMessage("consumer", consumer_id, "picture", "p", "c3", meta),
                        ],
                        consumer_spoke=True,
                        reply_clock=ReplyClock.START,
                    )
                ],
                now=later,
            )
        )
        found = await batches.run(
            lambda tx: tx.by_client_ids(
                {(conversation_id, "consumer", "c1"), (conversation_id, "consumer", "c3")}
            )
        )
    finally:
        await batches.close()
    assert appended[conversation_id].seqs == [2, 3]
    assert appended[conversation_id].created_at == later
    assert found[(conversation_id, "consumer", "c1")].created_at == clock.now()
    assert found[(conversation_id, "consumer", "c3")].meta == meta
    async with db.read() as tx:
        page = await message_store.page(tx.conn, conversation_id, limit=10)
        c = t.conversations.c
        row = (
            await tx.conn.execute(
                select(
                    c.last_seq,
                    c.last_message_at,
                    c.last_consumer_message_at,
                    c.awaiting_reply_since,
                ).where(c.id == conversation_id)
            )
        ).one()
    assert [(m.seq, m.body, m.created_at, m.meta) for m in page] == [
        (1, "a", clock.now(), None),
        (2, "b", later, None),
        (3, "p", later, meta),
    ]
    assert tuple(row) == (3, later, later, later)


async def test_msg_2_batch_that_fails_leaves_nothing(db: Database) -> None:
    clock = FakeClock()
    shop_id, consumer_id, conversation_id = await _conversation(db, clock)
    batches = _batches(db)
    twice = [NewMessage("consumer", consumer_id, "text", "a", "same")] * 2
    try:
        with pytest.raises(DuplicateMessage):
            await batches.run(
                lambda tx: tx.append_stamped(
                    [Append(shop_id, conversation_id, twice)], now=clock.now()
                )
            )
    finally:
        await batches.close()
    async with db.read() as tx:
        last_seq = await tx.conn.scalar(
            select(t.conversations.c.last_seq).where(t.conversations.c.id == conversation_id)
        )
        stored = await message_store.page(tx.conn, conversation_id, limit=10)
    assert (last_seq, stored) == (0, [])


async def test_msg_2_batch_outage_is_unavailable(tmp_path: Path) -> None:
    folder = tmp_path / "gone"
    folder.mkdir()
    db = Database(f"sqlite+aiosqlite:///{folder / 'kefu.db'}")
    batches = _batches(db)
    folder.rmdir()  # the file cannot be opened: an outage, not a bug
    try:
        with pytest.raises(errors.StorageUnavailable):
            await batches.run(lambda tx: tx.sender_names({1}))
    finally:
        await batches.close()
        await db.dispose()


def test_msg_2_batch_client_id_lookup_searches_the_unique_index_at_a_million(
    tmp_path: Path,
) -> None:
    """The batch path's duplicate check, against a messages table of 1,000,000 rows, with
    and without the statistics ANALYZE gathers: a SEARCH in the unique index, never a SCAN."""
    conn = sqlite3.connect(tmp_path / "big.db")
    conn.execute(
        "CREATE TABLE messages (id INTEGER PRIMARY KEY, shop_id INT NOT NULL, "
        "conversation_id INT NOT NULL, seq INT NOT NULL, sender TEXT NOT NULL, sender_id INT, "
        "kind TEXT NOT NULL, body TEXT NOT NULL, client_id TEXT, created_at TEXT NOT NULL, "
        "meta TEXT, UNIQUE (conversation_id, seq), "
        "CONSTRAINT uq_messages_conversation_id_sender_client_id "
        "UNIQUE (conversation_id, sender, client_id))"
    )
    conn.executemany(
        "INSERT INTO messages VALUES (NULL, 1, ?, ?, 'consumer', 1, 'text', 'b', ?, '', NULL)",
        ((i // 100, i % 100, f"c{i}") for i in range(1_000_000)),
    )
    conn.commit()
    keys = '[[1, "consumer", "c100"], [2, "consumer", "nope"]]'
    for analyzed in (False, True):
        if analyzed:
            conn.execute("ANALYZE")
        plan = [r[-1] for r in conn.execute("EXPLAIN QUERY PLAN " + _BY_CLIENT_IDS, [keys])]
        text = "\n".join(plan)
        assert "SCAN m" not in text, text
        assert any(
            p.startswith("SEARCH m USING INDEX")
            and "(conversation_id=? AND sender=? AND client_id=?)" in p
            for p in plan
        ), text
        rows = conn.execute(_BY_CLIENT_IDS, [keys]).fetchall()
        assert [(r[1], r[7]) for r in rows] == [(1, "c100")]
    conn.close()


async def test_issue_16_writer_waits_for_work(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer with an empty queue runs no batch; one send is one batch."""
    clock = FakeClock()
    shop_id, consumer_id, conversation_id = await _conversation(db, clock)
    runs: list[int] = []
    run = SqliteBatches.run

    async def counted(self: SqliteBatches, work: Any) -> Any:
        runs.append(1)
        return await run(self, work)

    monkeypatch.setattr(SqliteBatches, "run", counted)
    writer = MessageWriter(service_context(db, clock))
    await writer.start()
    try:
        await asyncio.sleep(0.2)
        assert runs == []
        ack = await writer.send(
            SendRequest(
                shop_id,
                conversation_id,
                SenderKind.CONSUMER,
                consumer_id,
                MessageKind.TEXT,
                "你好",
                "w1",
            )
        )
        await asyncio.sleep(0.2)
    finally:
        await writer.stop()
    assert (ack.seq, runs) == (1, [1])


async def test_msg_2_the_writer_never_checkpoints_in_its_commits(
    db: Database, tmp_path: Path
) -> None:
    """SQLite's automatic checkpoint would copy the WAL into the database inside a commit of
    the writer's, holding every send behind it; the writer's connection has it off, and the
    batches' checkpointer thread moves the WAL into the database file meanwhile."""
    batches = SqliteBatches.of(db)
    assert batches is not None
    file = tmp_path / "kefu.db"
    try:
        assert await batches.run(
            lambda tx: tx._conn.execute("PRAGMA wal_autocheckpoint").fetchone()
        ) == (0,)
        before = file.stat().st_size

        def fill(tx: Any) -> None:
            tx._conn.execute("CREATE TABLE IF NOT EXISTS filler (body TEXT)")
            tx._conn.executemany("INSERT INTO filler VALUES (?)", [("x" * 4000,)] * 600)

        await batches.run(fill)
        for _ in range(50):  # the checkpointer runs every CHECKPOINT_EVERY_S
            if file.stat().st_size > before + 2_000_000:
                break
            await asyncio.sleep(0.1)
        assert file.stat().st_size > before + 2_000_000
    finally:
        await batches.close()


async def test_msg_2_the_wal_starts_over_under_writes_without_a_pause(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits back to back, as under a steady flood of messages: the checkpointer's passes
    never catch up with the writer on their own, and SQLite starts a WAL over only once all of
    it is in the database. Past WAL_RESTART_FRAMES the writer's thread finishes the checkpoint
    between two batches, so the WAL stays short while many times its length is written."""
    monkeypatch.setattr(message_store, "CHECKPOINT_EVERY_S", 0.02)
    monkeypatch.setattr(message_store, "WAL_RESTART_FRAMES", 256)  # 1 MiB of 4 KiB pages
    batches = _batches(db)
    wal = tmp_path / "kefu.db-wal"
    rows, body = 25, "x" * 4000  # a page a row: each commit appends 25 frames and more

    def fill(tx: Any) -> None:
        tx._conn.execute("CREATE TABLE IF NOT EXISTS filler (body TEXT)")
        tx._conn.executemany("INSERT INTO filler VALUES (?)", [(body,)] * rows)

    try:
        written, longest = 0, 0
        deadline = asyncio.get_running_loop().time() + 60
        while written < 96 * 2**20 and asyncio.get_running_loop().time() < deadline:
            await batches.run(fill)
            written += rows * len(body)
            longest = max(longest, wal.stat().st_size)
    finally:
        await batches.close()
    assert written >= 96 * 2**20
    assert longest < 48 * 2**20


def test_msg_2_the_writer_lingers_only_right_after_a_batch() -> None:
    """Group commit (issue 16): a batch starts at most every `every_s`; a send after a quiet
    spell, or enough sends already queued, waits for nothing."""
    linger = message_services.linger_s
    assert linger(10.0, 0.02, queued=1, enough=16) == 0.0  # after a quiet spell
    assert linger(0.002, 0.02, queued=1, enough=16) == pytest.approx(0.018)
    assert linger(0.002, 0.02, queued=15, enough=16) == pytest.approx(0.018)
    assert linger(0.002, 0.02, queued=16, enough=16) == 0.0  # enough are waiting
    assert linger(0.0, 0.0, queued=1, enough=16) == 0.0  # lingering turned off


@dataclass
class _Lingering:
    """A writer on one conversation, with settings of its own, and its batches' sizes."""

    writer: MessageWriter
    sizes: list[int]
    shop_id: int
    consumer_id: int
    conversation_id: int

    def send(self, client_id: str) -> Awaitable[Ack]:
        request = SendRequest(
            self.shop_id, self.conversation_id, SenderKind.CONSUMER, self.consumer_id,
            MessageKind.TEXT, "在吗", client_id,
        )  # fmt: skip
        return self.writer.send(request)


@contextlib.asynccontextmanager
async def _lingering(
    db: Database, monkeypatch: pytest.MonkeyPatch, **settings: Any
) -> AsyncIterator[_Lingering]:
    clock = FakeClock()
    shop_id, consumer_id, conversation_id = await _conversation(db, clock)
    ctx = service_context(db, clock)
    ctx.settings = ctx.settings.model_copy(update=settings)
    sizes: list[int] = []
    monkeypatch.setattr(
        message_services.telemetry, "writer_batch", lambda size, seconds: sizes.append(size)
    )
    writer = MessageWriter(ctx)
    await writer.start()
    try:
        yield _Lingering(writer, sizes, shop_id, consumer_id, conversation_id)
    finally:
        await writer.stop()


async def test_msg_2_sends_right_after_a_batch_share_the_next_one(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _lingering(db, monkeypatch, message_batch_every_ms=1000.0) as w:
        first = await asyncio.wait_for(w.send("c1"), 0.9)  # not held back
        second = asyncio.create_task(w.send("c2"))
        await asyncio.sleep(0.01)
        third = asyncio.create_task(w.send("c3"))
        acks = [first, await second, await third]
    assert [a.seq for a in acks] == [1, 2, 3]
    assert w.sizes == [1, 2]


async def test_msg_2_a_batch_goes_as_soon_as_enough_sends_wait(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Group commit (issue 16): under heavier traffic a batch fills before its time is up and
    goes at once, rather than holding its sends for the rest of `message_batch_every_ms`."""
    settings = {"message_batch_every_ms": 1000.0, "message_batch_enough": 3}
    async with _lingering(db, monkeypatch, **settings) as w:
        await w.send("c1")  # a batch began: the next one may wait up to 1 s
        started = asyncio.get_running_loop().time()
        two = [asyncio.create_task(w.send(c)) for c in ("c2", "c3")]
        await asyncio.sleep(0.05)
        assert not any(t.done() for t in two)  # two of three: still waiting
        last = await asyncio.wait_for(w.send("c4"), 0.9)  # the third sends it
        waited = asyncio.get_running_loop().time() - started
    assert last.seq == 4 and [t.result().seq for t in two] == [2, 3]
    assert w.sizes == [1, 3]
    assert waited < 0.9
