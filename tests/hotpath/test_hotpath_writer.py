"""Issue 16: the writer's batch paths (a thread of its own on SQLite, four statements on
PostgreSQL) keep MSG-2 on both engines: seqs in order, acks after commit carrying the stored
time, an idempotent resend answered with the stored message, a reused client id refused, the
conversation row advanced and marked for the analytics (DATA-1), and an agent's message shown
with the agent's name."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import insert, select

from kefu import errors
from kefu.clock import FakeClock
from kefu.domain.messages import MessageKind, SenderKind
from kefu.services.messages import MessageWriter, SendRequest
from kefu.services.views import MessageView
from kefu.storage import messages as message_store
from kefu.storage import tables as t
from kefu.storage.db import Database
from support import AgentSpec, make_shop, service_context


async def test_msg_2_writer_batches_on_both_engines(db: Database) -> None:
    clock = FakeClock()
    shop = await make_shop(db, agents=[AgentSpec("a")], clock=clock)
    agent_id = shop.accounts["a"]
    now = clock.now()
    async with db.uow() as tx:
        consumer_id = await tx.conn.scalar(
            insert(t.consumers)
            .values(shop_id=shop.shop_id, uid="u1", nickname="买家", created_at=now)
            .returning(t.consumers.c.id)
        )
        conversation_id = await tx.conn.scalar(
            insert(t.conversations)
            .values(
                shop_id=shop.shop_id,
                consumer_id=consumer_id,
                state="assigned",
                agent_id=agent_id,
                created_at=now,
            )
            .returning(t.conversations.c.id)
        )
        await tx.conn.execute(
            insert(t.participants).values(
                conversation_id=conversation_id,
                account_id=agent_id,
                shop_id=shop.shop_id,
                role="holder",
                joined_at=now,
            )
        )
        await tx.commit()
    assert consumer_id is not None and conversation_id is not None
    ctx = service_context(db, clock)
    published: list[dict[str, object]] = []

    async def record(topic: str, event: dict[str, object]) -> None:
        published.append(event)

    ctx.broker.publish = record  # type: ignore[method-assign]

    def consumer(client_id: str, body: str) -> SendRequest:
        return SendRequest(
            shop.shop_id,
            conversation_id,
            SenderKind.CONSUMER,
            consumer_id,
            MessageKind.TEXT,
            body,
            client_id,
        )

    agent = SendRequest(
        shop.shop_id, conversation_id, SenderKind.AGENT, agent_id, MessageKind.TEXT, "您好", "a1"
    )
    writer = MessageWriter(ctx)
    sends = [consumer("c1", "在吗"), consumer("c2", "发货了吗"), agent, consumer("c1", "在吗")]
    tasks = [asyncio.create_task(writer.send(r)) for r in sends]
    await asyncio.sleep(0)  # all queued before the writer starts: one batch
    await writer.start()
    try:
        acks = await asyncio.gather(*tasks)
        replay = await writer.send(consumer("c2", "发货了吗"))
        with pytest.raises(errors.ClientIdReused):
            await writer.send(consumer("c2", "别的内容"))
    finally:
        await writer.stop()
    assert [a.seq for a in acks] == [1, 2, 3, 1]
    assert {a.created_at for a in acks} == {now}
    assert (replay.seq, replay.created_at) == (2, now)
    assert replay.message is not None
    assert (replay.message.seq, replay.message.body, replay.message.created_at) == (
        2,
        "发货了吗",
        now,
    )
    async with db.read() as tx:
        stored = await message_store.page(tx.conn, conversation_id, limit=10)
        c = t.conversations.c
        row = (
            await tx.conn.execute(
                select(c.last_seq, c.last_message_at, c.last_consumer_message_at).where(
                    c.id == conversation_id
                )
            )
        ).one()
    assert [(m.seq, m.sender, m.body, m.client_id) for m in stored] == [
        (1, "consumer", "在吗", "c1"),
        (2, "consumer", "发货了吗", "c2"),
        (3, "agent", "您好", "a1"),
    ]
    assert tuple(row) == (3, now, now)
    async with db.read() as tx:
        marked = (await tx.conn.scalars(select(t.analytics_dirty.c.conversation_id))).all()
    assert conversation_id in marked
    views = [e["message"] for e in published if e.get("type") == "message"]
    names = {v.client_id: v.sender_name for v in views if isinstance(v, MessageView)}
    assert names == {"c1": "买家", "c2": "买家", "a1": "A"}
