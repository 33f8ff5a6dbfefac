"""Pictures and files in chats (MSG-1): check what was sent by its content, store it under a
generated key, and post it as an `image` or `file` message; read it back for the people of
its conversation only.

An upload is one message: the client's `client_id` makes a resend idempotent (MSG-2) — a
resend of a stored one gets the original ack and stores nothing again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from kefu import errors
from kefu.domain.conversation import OPEN_STATES, ConversationState
from kefu.domain.messages import ATTACHMENT_KINDS, MessageKind, SenderKind
from kefu.files import images
from kefu.files.domain import (
    ORPHAN_SWEEP_BATCH,
    AttachmentKind,
    check_size,
    display_name,
    orphaned_before,
    sniff,
)
from kefu.files.store import BlobStore, new_key, thumbnail_key
from kefu.services.access import access_conversation, access_own_conversation
from kefu.services.consumers import consumer_send
from kefu.services.context import ConsumerActor, Context, Staff
from kefu.services.conversations import open_conversation
from kefu.services.messages import Ack, MessageWriter, SendRequest
from kefu.storage import attachments as attachment_store
from kefu.storage import messages as message_store
from kefu.storage.attachments import AttachmentRecord, NewAttachment
from kefu.storage.db import Connection

Actor = Staff | ConsumerActor


@dataclass(frozen=True, slots=True)
class Sent:
    ack: Ack
    attachment: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Download:
    data: bytes
    mime: str
    name: str


def attachment_view(record: AttachmentRecord) -> dict[str, Any]:
    """What a message's meta["attachment"] and the upload's answer say about the file."""
    return {
        "id": record.id,
        "kind": record.kind,
        "name": record.name,
        "size": record.size,
        "mime": record.mime,
        "width": record.width,
        "height": record.height,
        "has_thumbnail": record.thumbnail_mime is not None,
    }


def _sender(actor: Actor) -> tuple[SenderKind, int]:
    if isinstance(actor, Staff):
        return SenderKind.AGENT, actor.account_id
    return SenderKind.CONSUMER, actor.consumer_id


async def upload(
    ctx: Context,
    writer: MessageWriter,
    store: BlobStore,
    actor: Actor,
    conversation_id: int,
    *,
    data: bytes,
    filename: str | None,
    client_id: str,
) -> Sent:
    """MSG-1: `data` is an image (≤ KEFU_MAX_IMAGE_BYTES, ≤ KEFU_MAX_IMAGE_PIXELS) or a text
    or archive file (≤ KEFU_MAX_FILE_BYTES), decided by its content; it becomes a message."""
    sender, sender_id = _sender(actor)
    async with ctx.db.read() as tx:
        state = await _check_may_send(tx.conn, actor, conversation_id)
        replay = await _replay(tx.conn, actor, conversation_id, client_id)
    if replay is not None:
        return replay
    file_type = sniff(data)
    settings = ctx.settings
    check_size(
        file_type.kind,
        len(data),
        max_image_bytes=settings.max_image_bytes,
        max_file_bytes=settings.max_file_bytes,
    )
    picture = None
    if file_type.kind is AttachmentKind.IMAGE:
        picture = await asyncio.to_thread(
            images.picture,
            data,
            file_type,
            max_pixels=settings.max_image_pixels,
            thumbnail_px=settings.thumbnail_px,
        )
    if isinstance(actor, ConsumerActor) and state not in OPEN_STATES:
        # CONV-5: a consumer's message after the end opens a new conversation; the file
        # belongs to the one it is posted in.
        conversation_id = (await open_conversation(ctx, actor, entry={"source": "direct"})).id
    key = new_key()
    await store.put(key, data)
    if picture is not None:
        await store.put(thumbnail_key(key), picture.thumbnail)
    new = NewAttachment(
        shop_id=actor.shop_id,
        conversation_id=conversation_id,
        uploader=sender.value,
        uploader_id=sender_id,
        kind=file_type.kind.value,
        mime=file_type.mime,
        size=len(data),
        name=display_name(filename, file_type),
        storage_key=key,
        width=picture.width if picture else None,
        height=picture.height if picture else None,
        thumbnail_mime=picture.thumbnail_mime if picture else None,
    )
    async with ctx.db.uow() as tx:
        record = await attachment_store.add(tx.conn, new, now=ctx.clock.now())
        await tx.commit()
    view = attachment_view(record)
    kind = MessageKind(file_type.kind.value)
    try:
        ack = await _send(ctx, writer, actor, conversation_id, kind, record, client_id, view)
    except errors.KefuError as exc:
        # A refusal stored nothing. After an outage (or a cancelled request) the message may
        # have been committed all the same (MSG-2): its file stays for the resend's replay.
        if not isinstance(exc, errors.Unavailable):
            await _forget(ctx, store, record)
        raise
    return Sent(ack, view)


async def _send(
    ctx: Context,
    writer: MessageWriter,
    actor: Actor,
    conversation_id: int,
    kind: MessageKind,
    record: AttachmentRecord,
    client_id: str,
    view: dict[str, Any],
) -> Ack:
    meta = {"attachment": view}
    if isinstance(actor, ConsumerActor):
        return await consumer_send(
            ctx,
            writer,
            actor,
            conversation_id=conversation_id,
            client_id=client_id,
            kind=kind,
            body=str(record.id),
            meta=meta,
        )
    return await writer.send(
        SendRequest(
            actor.shop_id,
            conversation_id,
            SenderKind.AGENT,
            actor.account_id,
            kind,
            str(record.id),
            client_id,
            meta,
        )
    )


async def _forget(ctx: Context, store: BlobStore, record: AttachmentRecord) -> None:
    """The message was not stored: neither is its file."""
    async with ctx.db.uow() as tx:
        await attachment_store.remove(tx.conn, record.id)
        await tx.commit()
    await store.delete(record.storage_key)
    await store.delete(thumbnail_key(record.storage_key))


async def check_may_upload(ctx: Context, actor: Actor, conversation_id: int) -> None:
    """ACCT-5 before a body is read: the uploader's own conversation, or not_found."""
    async with ctx.db.read() as tx:
        await _check_may_send(tx.conn, actor, conversation_id)


async def _check_may_send(
    conn: Connection, actor: Actor, conversation_id: int
) -> ConversationState:
    """Before anything is stored: the uploader's conversation (the writer checks again)."""
    if isinstance(actor, Staff):
        row = await access_conversation(conn, actor, conversation_id, speak=True)
    else:
        row = await access_own_conversation(conn, actor, conversation_id)
    return ConversationState(row.state)


async def _replay(
    conn: Connection, actor: Actor, conversation_id: int, client_id: str
) -> Sent | None:
    """MSG-2: a resent upload (same client id) gets the original ack; another kind of message
    under that client id is a reuse of it."""
    sender, _ = _sender(actor)
    key = (conversation_id, sender.value, client_id)
    found = (await message_store.by_client_ids(conn, [key])).get(key)
    if found is None:
        return None
    if MessageKind(found.kind) not in ATTACHMENT_KINDS:
        raise errors.ClientIdReused(client_id=client_id)
    record = await attachment_store.get(conn, actor.shop_id, int(found.body))
    row = await (
        access_conversation(conn, actor, conversation_id)
        if isinstance(actor, Staff)
        else access_own_conversation(conn, actor, conversation_id)
    )
    ack = Ack(conversation_id, found.seq, client_id, found.created_at, row.state)
    return Sent(ack, attachment_view(record))


async def download(
    ctx: Context, store: BlobStore, actor: Actor, attachment_id: int, *, thumbnail: bool = False
) -> Download:
    """MSG-1: the file for the consumer of its conversation and the shop's staff who may see
    that conversation (participants, supervisors); anyone else gets not_found."""
    async with ctx.db.read() as tx:
        record = await attachment_store.get(tx.conn, actor.shop_id, attachment_id)
        try:
            if isinstance(actor, Staff):
                await access_conversation(tx.conn, actor, record.conversation_id)
            else:
                await access_own_conversation(tx.conn, actor, record.conversation_id)
        except (errors.NotFound, errors.NotParticipant) as exc:
            raise errors.NotFound(kind="attachment", id=attachment_id) from exc
    if thumbnail:
        if record.thumbnail_mime is None:
            raise errors.NotFound(kind="thumbnail", id=attachment_id)
        data = await store.get(thumbnail_key(record.storage_key))
        return Download(data, record.thumbnail_mime, record.name)
    return Download(await store.get(record.storage_key), record.mime, record.name)


async def sweep_orphans(ctx: Context, store: BlobStore, *, limit: int = ORPHAN_SWEEP_BATCH) -> int:
    """MSG-1: removes up to `limit` uploads that no sent message carried within ORPHAN_AFTER,
    rows first (under the still-orphaned check), then their files; returns how many."""
    before = orphaned_before(ctx.clock.now())
    async with ctx.db.uow() as tx:
        ids = await attachment_store.orphans(tx.conn, before=before, limit=limit)
        keys = await attachment_store.remove_orphans(tx.conn, ids, before=before)
        await tx.commit()
    for key in keys:
        await store.delete(key)
        await store.delete(thumbnail_key(key))
    return len(keys)


async def sweep_unrecorded(ctx: Context, store: BlobStore, shard: str) -> int:
    """MSG-1: files of one shard that no attachment row names, written more than ORPHAN_AFTER
    ago (a process stopped between storing a file and recording it); returns how many."""
    stale = await store.stale_keys(shard, orphaned_before(ctx.clock.now()))
    if not stale:
        return 0
    async with ctx.db.read() as tx:
        known = await attachment_store.known_keys(tx.conn, stale)
    unrecorded = [key for key in stale if key not in known]
    for key in unrecorded:
        await store.delete(key)
        await store.delete(thumbnail_key(key))
    return len(unrecorded)
