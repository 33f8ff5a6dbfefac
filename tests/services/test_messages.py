"""MSG-2 in storage: the duplicate-client-id lookup of every message batch is served by the
unique index on (conversation_id, sender, client_id) on both engines, whatever the table holds;
and a client id that another writer stored after the lookup is replayed, not refused."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, insert, select

from kefu.clock import FakeClock
from kefu.domain.messages import MessageKind, SenderKind
from kefu.services.messages import MessageWriter, SendRequest
from kefu.storage import messages as message_store
from kefu.storage import tables as t
from kefu.storage.db import Database
from support import make_shop, service_context


async def _two_conversations(db: Database) -> tuple[int, int]:
    """Two conversations of one consumer, with messages from both sides and from the bot."""
    clock = FakeClock()
    now = clock.now()
    shop = await make_shop(db, clock=clock)
    async with db.uow() as tx:
        consumer_id = await tx.conn.scalar(
            insert(t.consumers)
            .values(shop_id=shop.shop_id, uid="u1", nickname="U", created_at=now)
            .returning(t.consumers.c.id)
        )
        ids = []
        for state in ("ended", "assigned"):
            ids.append(
                await tx.conn.scalar(
                    insert(t.conversations)
                    .values(
                        shop_id=shop.shop_id, consumer_id=consumer_id, state=state, created_at=now
                    )
                    .returning(t.conversations.c.id)
                )
            )
        rows = [
            (ids[0], "consumer", "m1"),
            (ids[0], "agent", "m2"),
            (ids[0], "bot", None),
            (ids[1], "consumer", "m1"),
            (ids[1], "agent", '客户 "端" \\ 1'),
        ]
        await tx.conn.execute(
            insert(t.messages),
            [
                {
                    "shop_id": shop.shop_id,
                    "conversation_id": conversation_id,
                    "seq": seq,
                    "sender": sender,
                    "sender_id": None,
                    "kind": "text",
                    "body": f"body {seq}",
                    "client_id": client_id,
                    "created_at": now,
                }
                for seq, (conversation_id, sender, client_id) in enumerate(rows, 1)
            ],
        )
        await tx.commit()
    return ids[0], ids[1]


async def test_msg_2_client_id_lookup_finds_exactly_the_stored_keys(db: Database) -> None:
    first, second = await _two_conversations(db)
    async with db.read() as tx:
        found = await message_store.by_client_ids(
            tx.conn,
            {
                (first, "consumer", "m1"),
                (first, "agent", "m2"),
                (first, "agent", "m1"),  # another sender's client id
                (second, "agent", "m2"),  # another conversation's
                (second, "consumer", "m1"),
                (second, "agent", '客户 "端" \\ 1'),
            },
        )
        assert await message_store.by_client_ids(tx.conn, set()) == {}
    assert sorted(found) == sorted(
        [
            (first, "consumer", "m1"),
            (first, "agent", "m2"),
            (second, "consumer", "m1"),
            (second, "agent", '客户 "端" \\ 1'),
        ]
    )
    assert found[(first, "agent", "m2")].body == "body 2"


async def test_msg_2_client_id_lookup_uses_index(db: Database) -> None:
    first, second = await _two_conversations(db)
    keys = {(first, "consumer", "m1"), (first, "agent", "m9"), (second, "consumer", "m1")}
    issued: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "messages" in statement:
            issued.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with db.read() as tx:
            await message_store.by_client_ids(tx.conn, keys)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    ((statement, parameters),) = issued

    async with db.read() as tx:
        if db.is_sqlite:
            explain = "EXPLAIN QUERY PLAN "
        else:
            # Few rows here: without this PostgreSQL rightly prefers reading the whole table.
            await tx.conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            explain = "EXPLAIN "
        plan = [str(r[-1]) for r in await tx.conn.exec_driver_sql(explain + statement, parameters)]

    text = "\n".join(plan)
    if db.is_sqlite:
        assert "SCAN messages" not in text, text
        assert "(conversation_id=? AND sender=? AND client_id=?)" in text, text
        assert any(p.startswith("SEARCH messages USING INDEX") for p in plan), text
    else:
        assert "Seq Scan on messages" not in text, text
        assert "Index Scan using uq_messages_conversation_id_sender_client_id" in text, text


async def test_msg_2_a_client_id_stored_by_another_writer_meanwhile_is_replayed(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, conversation_id = await _two_conversations(db)
    ctx = service_context(db, FakeClock())
    c = t.conversations.c
    async with db.read() as tx:
        row = (
            await tx.conn.execute(select(c.shop_id, c.consumer_id).where(c.id == conversation_id))
        ).one()

    def request(client_id: str, body: str) -> SendRequest:
        consumer = SenderKind.CONSUMER
        return SendRequest(
            row.shop_id,
            conversation_id,
            consumer,
            row.consumer_id,
            MessageKind.TEXT,
            body,
            client_id,
        )

    other = MessageWriter(ctx)  # another process's writer
    await other.start()
    original = await other.send(request("late", "在吗"))
    await other.stop()
    # This writer looked for the client id just before the other's commit landed.
    lookup = message_store.by_client_ids
    missed: list[bool] = []

    async def late_lookup(conn: Any, keys: Any) -> Any:
        if not missed:
            missed.append(True)
            return {}
        return await lookup(conn, keys)

    monkeypatch.setattr(message_store, "by_client_ids", late_lookup)
    # On a SQLite file the writer runs the batch in its own thread, through SqliteBatch.
    batch_lookup = message_store.SqliteBatch.by_client_ids

    def late_batch_lookup(self: Any, keys: Any) -> Any:
        if not missed:
            missed.append(True)
            return {}
        return batch_lookup(self, keys)

    monkeypatch.setattr(message_store.SqliteBatch, "by_client_ids", late_batch_lookup)
    pg_lookup = message_store.PgBatch.by_client_ids

    def late_pg_lookup(self: Any, keys: Any) -> Any:
        if not missed:
            missed.append(True)
            return {}
        return pg_lookup(self, keys)

    monkeypatch.setattr(message_store.PgBatch, "by_client_ids", late_pg_lookup)
    writer = MessageWriter(ctx)
    sends = [
        asyncio.create_task(writer.send(request("late", "在吗"))),
        asyncio.create_task(writer.send(request("fresh", "还在吗"))),
    ]
    await asyncio.sleep(0)  # both queued before the writer starts: one batch, which collides
    await writer.start()
    try:
        late, fresh = await asyncio.gather(*sends)
    finally:
        await writer.stop()
    assert missed == [True]
    assert (late.seq, late.created_at) == (original.seq, original.created_at)
    assert fresh.seq == original.seq + 1
