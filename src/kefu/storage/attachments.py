"""Attachment rows (MSG-1): what was stored for a conversation, under which generated key.
Who may read or add them is the files service's decision; this module only stores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu import errors
from kefu.storage import tables as t

_a = t.attachments.c


@dataclass(frozen=True, slots=True)
class NewAttachment:
    shop_id: int
    conversation_id: int
    uploader: str
    uploader_id: int
    kind: str
    mime: str
    size: int
    name: str
    storage_key: str
    width: int | None
    height: int | None
    thumbnail_mime: str | None


@dataclass(frozen=True, slots=True)
class AttachmentRecord:
    id: int
    shop_id: int
    conversation_id: int
    uploader: str
    uploader_id: int
    kind: str
    mime: str
    size: int
    name: str
    storage_key: str
    width: int | None
    height: int | None
    thumbnail_mime: str | None
    created_at: datetime


async def add(conn: AsyncConnection, new: NewAttachment, *, now: datetime) -> AttachmentRecord:
    values = {
        "shop_id": new.shop_id,
        "conversation_id": new.conversation_id,
        "uploader": new.uploader,
        "uploader_id": new.uploader_id,
        "kind": new.kind,
        "mime": new.mime,
        "size": new.size,
        "name": new.name,
        "storage_key": new.storage_key,
        "width": new.width,
        "height": new.height,
        "thumbnail_mime": new.thumbnail_mime,
        "created_at": now,
    }
    result = await conn.execute(insert(t.attachments).values(**values).returning(_a.id))
    return AttachmentRecord(id=int(result.scalar_one()), **values)  # type: ignore[arg-type]


async def get(conn: AsyncConnection, shop_id: int, attachment_id: int) -> AttachmentRecord:
    """An attachment of this shop; another shop's is NotFound exactly like a missing one."""
    row = (
        await conn.execute(
            select(t.attachments).where(_a.id == attachment_id, _a.shop_id == shop_id)
        )
    ).one_or_none()
    if row is None:
        raise errors.NotFound(kind="attachment", id=attachment_id)
    return AttachmentRecord(**row._asdict())


async def remove(conn: AsyncConnection, attachment_id: int) -> None:
    await conn.execute(delete(t.attachments).where(_a.id == attachment_id))
