"""What a consumer's message sets in motion: a new conversation after the end (CONV-5), the
responder's (the bot's) answer when the bot is on and first (BOT-3, BOT-4), else direct entry
into routing (ROUTE-1's "human request")."""

from __future__ import annotations

from typing import Any

from kefu import errors
from kefu.domain.conversation import ConversationState
from kefu.domain.messages import ATTACHMENT_KINDS, MessageKind, SenderKind
from kefu.services.context import ConsumerActor, Context
from kefu.services.conversations import open_conversation, request_human
from kefu.services.messages import Ack, MessageWriter, SendRequest
from kefu.storage import shops as shop_store


async def consumer_send(
    ctx: Context,
    writer: MessageWriter,
    consumer: ConsumerActor,
    *,
    conversation_id: int,
    client_id: str,
    kind: MessageKind,
    body: str,
    meta: dict[str, Any] | None = None,
) -> Ack:
    """MSG-2 for consumers, plus CONV-5, the bot (BOT-3) and direct entry when it is off."""

    def request(cid: int) -> SendRequest:
        return SendRequest(
            consumer.shop_id,
            cid,
            SenderKind.CONSUMER,
            consumer.consumer_id,
            kind,
            body,
            client_id,
            meta,
        )

    try:
        ack = await writer.send(request(conversation_id))
    except errors.ConversationClosed:
        view = await open_conversation(ctx, consumer, entry={"source": "direct"})
        ack = await writer.send(request(view.id))
    if ack.conversation_state == ConversationState.BOT:
        async with ctx.db.read() as tx:
            settings = await shop_store.shop_settings(tx.conn, consumer.shop_id)
        if settings.bot_first and ctx.responder is not None:
            if kind in ATTACHMENT_KINDS:
                return ack  # MSG-1: the bot reads no pictures or files; the consumer may ask
            await ctx.responder.reply(
                consumer, conversation_id=ack.conversation_id, seq=ack.seq, text=body
            )
        else:
            await request_human(ctx, consumer, cause="direct")
    return ack
