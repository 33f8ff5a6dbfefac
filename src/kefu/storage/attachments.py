"""Attachment rows (MSG-1): what was stored for a conversation, under which generated key.
Who may read or add them is the files service's decision; this module only stores."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, and_, cast, delete, exists, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement

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


def _unsent() -> ColumnElement[bool]:
    """The attachment is not the body of an image or file message of its conversation."""
    m = t.messages.c
    return ~exists().where(
        m.conversation_id == _a.conversation_id,
        m.kind.in_(("image", "file")),
        m.body == cast(_a.id, String),
    )


async def orphans(conn: AsyncConnection, *, before: datetime, limit: int) -> list[int]:
    """MSG-1: ids of attachments stored before `before` that no sent message carries, oldest
    first, at most `limit`."""
    rows = await conn.execute(
        select(_a.id)
        .where(_a.created_at < before, _unsent())
        .order_by(_a.created_at, _a.id)
        .limit(limit)
    )
    return [int(r.id) for r in rows]


async def remove_orphans(
    conn: AsyncConnection, ids: Sequence[int], *, before: datetime
) -> list[str]:
    """Deletes those of `ids` that are still orphans (a message committed meanwhile keeps its
    file) and returns their storage keys, whose files the caller removes after commit."""
    if not ids:
        return []
    rows = await conn.execute(
        delete(t.attachments)
        .where(and_(_a.id.in_(ids), _a.created_at < before, _unsent()))
        .returning(_a.storage_key)
    )
    return [str(r.storage_key) for r in rows]


async def known_keys(conn: AsyncConnection, keys: Sequence[str]) -> set[str]:
    """Which of the storage keys an attachment row names."""
    if not keys:
        return set()
    rows = await conn.execute(select(_a.storage_key).where(_a.storage_key.in_(list(keys))))
    return {str(r.storage_key) for r in rows}
