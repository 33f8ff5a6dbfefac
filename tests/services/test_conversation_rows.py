"""CONV-1: the conversation records the lifecycle and the views read are built from rows by
position (storage/conversations.py `conversation_values`); they hold what the rows hold by
name, on both engines."""

from __future__ import annotations

from dataclasses import MISSING, fields

from sqlalchemy import select, update

from kefu.clock import FakeClock
from kefu.domain.presence import Role
from kefu.services.context import Context, Staff
from kefu.services.conversations import end_conversation
from kefu.storage import conversations as conversation_store
from kefu.storage import tables as t
from kefu.storage.conversations import ConversationRecord
from kefu.storage.messages import MessageRecord
from support import AgentSpec, make_shop, queued_and_drained


def test_conv_1_a_conversation_record_starts_with_the_table_columns_in_order() -> None:
    names = [f.name for f in fields(ConversationRecord)]
    columns = [c.name for c in t.conversations.c]
    assert names[: len(columns)] == columns
    # The fields after the columns have defaults: a record is whole from the columns alone.
    assert all(
        f.default is not MISSING or f.default_factory is not MISSING
        for f in fields(ConversationRecord)[len(columns) :]
    )


async def test_conv_1_views_and_endings_read_the_same_values_as_rows_by_name(
    ctx: Context,
) -> None:
    assert isinstance(ctx.clock, FakeClock)
    shop = await make_shop(ctx.db, agents=[AgentSpec("ann", limit=3)], clock=ctx.clock)
    ids = await queued_and_drained(ctx, shop, 3)
    ann = Staff(shop.accounts["ann"], shop.shop_id, Role.AGENT, shop.group_ids[0])
    await end_conversation(ctx, ann, ids[0])  # its closing notice is its last message
    entry = {"source": "direct", "big": 2**70, "share": 0.25, "商品": "连衣裙"}  # JSON as stored
    async with ctx.db.uow() as tx:
        await tx.conn.execute(
            update(t.conversations).where(t.conversations.c.id == ids[2]).values(entry=entry)
        )
        await tx.commit()

    async with ctx.db.read() as tx:
        rows = (
            await tx.conn.execute(select(t.conversations).where(t.conversations.c.id.in_(ids)))
        ).all()
        expected = {r.id: ConversationRecord(**r._asdict()) for r in rows}
        ended = expected[ids[0]]
        last = (
            await tx.conn.execute(
                select(t.messages).where(
                    t.messages.c.conversation_id == ended.id, t.messages.c.seq == ended.last_seq
                )
            )
        ).one()
        details = await conversation_store.details(tx.conn, ids)
    assert [d.conversation for d in details] == [expected[i] for i in ids]
    assert details[2].conversation.entry == entry  # beyond 64 bits, through the fallback
    message_fields = [f.name for f in fields(MessageRecord)]
    assert details[0].last_message == MessageRecord(**{f: getattr(last, f) for f in message_fields})
    assert details[1].last_message is None or details[1].last_message.conversation_id == ids[1]

    async with ctx.db.uow() as tx:
        endings = await conversation_store.get_endings(tx.conn, shop.shop_id, ids)
    assert {i: e.conversation for i, e in endings.items()} == expected
    assert len({id(e.settings) for e in endings.values()}) == 1  # the shop's, parsed once
