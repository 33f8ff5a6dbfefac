"""What a consumer's message sets in motion: a new conversation after the end (CONV-5), the
responder's (the bot's) answer when the bot is on and first (BOT-3, BOT-4), else direct entry
into routing (ROUTE-1's "human request")."""

from __future__ import annotations

from typing import Any

from kefu import errors
from kefu.domain.conversation import ConversationState
from kefu.domain.messages import ATTACHMENT_KINDS, MessageKind, SenderKind
from kefu.offline import service as offline
from kefu.services.context import ConsumerActor, Context
from kefu.services.conversations import open_conversation, request_human
from kefu.services.messages import Ack, MessageWriter, SendRequest
from kefu.storage import conversations as conversation_store
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
    bot_text: str | None = None,
    meta: dict[str, Any] | None = None,
    origin: str | None = None,
) -> Ack:
    """MSG-2 for consumers, plus CONV-5, the bot (BOT-3) and direct entry when it is off.

    A card (ENTRY-3) is a consultation like text: the bot reads `bot_text`, its summary.
    `origin` is the sending socket, which has the message from the ack only."""

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
            origin,
        )

    try:
        ack = await writer.send(request(conversation_id))
    except errors.ConversationClosed:
        entry = await _previous_entry(ctx, consumer, conversation_id)
        view = await open_conversation(ctx, consumer, entry=entry)
        ack = await writer.send(request(view.id))
    if ack.conversation_state == ConversationState.OFFLINE:
        await offline.consumer_wrote(ctx, consumer)  # OFFL-2
    if ack.conversation_state == ConversationState.BOT:
        async with ctx.db.read() as tx:
            settings = await shop_store.shop_settings(tx.conn, consumer.shop_id)
        if settings.bot_first and ctx.responder is not None:
            if kind in ATTACHMENT_KINDS:
                return ack  # MSG-1: the bot reads no pictures or files; the consumer may ask
            await ctx.responder.reply(
                consumer,
                conversation_id=ack.conversation_id,
                seq=ack.seq,
                text=body if bot_text is None else bot_text,
            )
        else:
            await request_human(ctx, consumer, cause="direct")
    return ack


async def _previous_entry(
    ctx: Context, consumer: ConsumerActor, conversation_id: int
) -> dict[str, Any]:
    """CONV-5, ENTRY-1: the reopened conversation keeps the ended one's entry context
    (product, order, source page, region, IP)."""
    async with ctx.db.read() as tx:
        ended = await conversation_store.get(tx.conn, consumer.shop_id, conversation_id)
    if ended.consumer_id != consumer.consumer_id:
        return {"source": "direct"}
    return dict(ended.entry) or {"source": "direct"}
