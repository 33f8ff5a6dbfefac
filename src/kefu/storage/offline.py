"""What offline messages and the blacklist read and write (OFFL-1 to OFFL-4, ROUTE-5).
Callers that change entries hold the shop lock, so that one consumer has one entry (OFFL-2)
and each entry is routed once (OFFL-4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Update, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain.conversation import ConversationState
from kefu.storage import tables as t
from kefu.storage import webhooks as webhook_store
from kefu.storage.messages import MessageRecord, record_of

_e = t.offline_entries.c
_b = t.blacklist.c
_c = t.conversations.c
_k = t.consumers.c
_m = t.messages.c


@dataclass(frozen=True, slots=True)
class EntryRecord:
    id: int
    consumer_id: int
    nickname: str
    cause: str
    first_at: datetime
    last_at: datetime
    processed_at: datetime | None
    processed_by: int | None
    processed_cause: str | None


_ENTRY = (
    _e.id,
    _e.consumer_id,
    _k.nickname,
    _e.cause,
    _e.first_at,
    _e.last_at,
    _e.processed_at,
    _e.processed_by,
    _e.processed_cause,
)


def _entries() -> Select[Any]:
    return select(*_ENTRY).join_from(t.offline_entries, t.consumers, _k.id == _e.consumer_id)


async def add_entry(
    conn: AsyncConnection,
    *,
    shop_id: int,
    consumer_id: int,
    now: datetime,
    cause: str | None = None,
) -> None:
    """OFFL-2: the consumer's one entry, unprocessed again if it was processed; `cause`: why
    (None: a message left in an offline conversation keeps the entry's). The caller holds the
    shop lock. Announced as a webhook event (API-2)."""
    values: dict[str, Any] = {
        "last_at": now,
        "processed_at": None,
        "processed_by": None,
        "processed_cause": None,
    }
    if cause is not None:
        values["cause"] = cause
    changed = await conn.execute(
        update(t.offline_entries)
        .where(_e.shop_id == shop_id, _e.consumer_id == consumer_id)
        .values(**values)
    )
    if changed.rowcount == 0:
        await conn.execute(
            insert(t.offline_entries).values(
                shop_id=shop_id,
                consumer_id=consumer_id,
                cause=cause or "no_agent",
                first_at=now,
                last_at=now,
            )
        )
    await webhook_store.record_event(
        conn,
        shop_id=shop_id,
        event="offline_message.created",
        data={"consumer_id": consumer_id, "cause": cause, "at": now},
        now=now,
    )


async def entry(conn: AsyncConnection, shop_id: int, entry_id: int) -> EntryRecord | None:
    row = (await conn.execute(_entries().where(_e.id == entry_id, _e.shop_id == shop_id))).first()
    return EntryRecord(*row) if row is not None else None


async def entries_by_id(
    conn: AsyncConnection, shop_id: int, ids: Sequence[int]
) -> dict[int, EntryRecord]:
    rows = await conn.execute(_entries().where(_e.id.in_(list(ids)), _e.shop_id == shop_id))
    return {r.id: EntryRecord(*r) for r in rows}


async def entries_page(
    conn: AsyncConnection, shop_id: int, *, unprocessed: bool | None, limit: int, offset: int
) -> tuple[list[EntryRecord], int]:
    """OFFL-2: entries, latest activity first."""
    where = [_e.shop_id == shop_id]
    if unprocessed is True:
        where.append(_e.processed_at.is_(None))
    elif unprocessed is False:
        where.append(_e.processed_at.is_not(None))
    total = await conn.scalar(select(func.count()).select_from(t.offline_entries).where(*where))
    rows = await conn.execute(
        _entries()
        .where(*where)
        .order_by(_e.last_at.desc(), _e.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [EntryRecord(*r) for r in rows], int(total or 0)


async def unprocessed_count(conn: AsyncConnection, shop_id: int, since: datetime) -> int:
    """OFFL-2: consumers with unprocessed messages since `since`."""
    found = await conn.scalar(
        select(func.count())
        .select_from(t.offline_entries)
        .where(_e.shop_id == shop_id, _e.processed_at.is_(None), _e.last_at >= since)
    )
    return int(found or 0)


async def mark_processed(
    conn: AsyncConnection,
    shop_id: int,
    entry_ids: Sequence[int],
    *,
    cause: str,
    by: int | None,
    now: datetime,
) -> int:
    """OFFL-3: entries still unprocessed become processed; returns how many changed."""
    if not entry_ids:
        return 0
    changed = await conn.execute(
        update(t.offline_entries)
        .where(_e.shop_id == shop_id, _e.id.in_(list(entry_ids)), _e.processed_at.is_(None))
        .values(processed_at=now, processed_by=by, processed_cause=cause)
    )
    return int(changed.rowcount or 0)


async def mark_served(
    conn: AsyncConnection, shop_id: int, conversation_ids: Sequence[int], now: datetime
) -> None:
    """OFFL-3: the consumers of these conversations were just served by a human."""
    if not conversation_ids:
        return
    consumers = select(_c.consumer_id).where(_c.id.in_(list(conversation_ids)))
    await conn.execute(served(shop_id, consumers, now))


def served(
    shop_id: int | ColumnElement[int],
    consumers: Select[Any],
    now: datetime | ColumnElement[datetime],
) -> Update:
    """OFFL-3: the statement that marks served the entries of `consumers` (a select of
    consumer ids), for a caller that writes it together with its own (storage/routing.py)."""
    return (
        update(t.offline_entries)
        .where(
            _e.shop_id == shop_id,
            _e.processed_at.is_(None),
            _e.consumer_id.in_(consumers.scalar_subquery()),
        )
        .values(processed_at=now, processed_cause="served")
    )


async def auto_assign_candidates(
    conn: AsyncConnection, shop_id: int, *, limit: int
) -> list[EntryRecord]:
    """OFFL-4: unprocessed entries of consumers not blacklisted (ROUTE-5), oldest first."""
    blocked = select(_b.id).where(_b.shop_id == shop_id, _b.consumer_id == _e.consumer_id)
    rows = await conn.execute(
        _entries()
        .where(_e.shop_id == shop_id, _e.processed_at.is_(None), ~blocked.exists())
        .order_by(_e.last_at, _e.id)
        .limit(limit)
    )
    return [EntryRecord(*r) for r in rows]


async def shops_with_unprocessed(conn: AsyncConnection) -> list[int]:
    """OFFL-4: a hint for the scheduler; the shop's settings and lock decide."""
    rows = await conn.scalars(
        select(_e.shop_id).where(_e.processed_at.is_(None)).distinct().order_by(_e.shop_id)
    )
    return list(rows)


async def served_since(
    conn: AsyncConnection, shop_id: int, consumer_id: int, *, since: datetime, besides: int
) -> bool:
    """OFFL-1: the consumer asked for a human again (or was served) after `since`."""
    found = await conn.scalar(
        select(_c.id)
        .where(
            _c.shop_id == shop_id,
            _c.consumer_id == consumer_id,
            _c.id != besides,
            (_c.human_requested_at >= since) | (_c.assigned_at >= since),
        )
        .limit(1)
    )
    return found is not None


async def consumer_history(
    conn: AsyncConnection, shop_id: int, consumer_id: int, *, before_id: int | None, limit: int
) -> list[MessageRecord]:
    """OFFL-2: the consumer's messages with the shop, across conversations, the latest
    `limit` before `before_id`, oldest first."""
    query = (
        select(t.messages)
        .join_from(t.messages, t.conversations, _c.id == _m.conversation_id)
        .where(_c.shop_id == shop_id, _c.consumer_id == consumer_id)
    )
    if before_id is not None:
        query = query.where(_m.id < before_id)
    rows = await conn.execute(query.order_by(_m.id.desc()).limit(limit))
    return [record_of(r) for r in reversed(rows.all())]


async def consumer_of_conversation(conn: AsyncConnection, conversation_id: int) -> int | None:
    return await conn.scalar(select(_c.consumer_id).where(_c.id == conversation_id))


async def open_conversation(
    conn: AsyncConnection, shop_id: int, consumer_id: int
) -> tuple[int, ConversationState] | None:
    """The consumer's open conversation and its state (CONV-5: at most one)."""
    row = (
        await conn.execute(
            select(_c.id, _c.state).where(
                _c.shop_id == shop_id,
                _c.consumer_id == consumer_id,
                _c.state.in_(
                    [
                        ConversationState.BOT,
                        ConversationState.QUEUED,
                        ConversationState.ASSIGNED,
                        ConversationState.OFFLINE,
                    ]
                ),
            )
        )
    ).first()
    return (row.id, ConversationState(row.state)) if row is not None else None


# ROUTE-5: the blacklist.


@dataclass(frozen=True, slots=True)
class BlacklistRecord:
    id: int
    consumer_id: int
    nickname: str
    reason: str
    added_by: int | None
    added_at: datetime


async def blacklist_add(
    conn: AsyncConnection, *, shop_id: int, consumer_id: int, reason: str, by: int, now: datetime
) -> int:
    """ROUTE-5: add the consumer, or give their entry the new reason; returns its id."""
    existing = await conn.scalar(
        select(_b.id).where(_b.shop_id == shop_id, _b.consumer_id == consumer_id)
    )
    if existing is not None:
        await conn.execute(update(t.blacklist).where(_b.id == existing).values(reason=reason))
        return int(existing)
    new_id = await conn.scalar(
        insert(t.blacklist)
        .values(shop_id=shop_id, consumer_id=consumer_id, reason=reason, added_by=by, added_at=now)
        .returning(_b.id)
    )
    assert new_id is not None
    return int(new_id)


async def is_blacklisted(conn: AsyncConnection, shop_id: int, consumer_id: int) -> bool:
    found = await conn.scalar(
        select(_b.id).where(_b.shop_id == shop_id, _b.consumer_id == consumer_id)
    )
    return found is not None


_BL = (_b.id, _b.consumer_id, _k.nickname, _b.reason, _b.added_by, _b.added_at)


async def blacklist_page(
    conn: AsyncConnection, shop_id: int, *, limit: int, offset: int
) -> tuple[list[BlacklistRecord], int]:
    total = await conn.scalar(
        select(func.count()).select_from(t.blacklist).where(_b.shop_id == shop_id)
    )
    rows = await conn.execute(
        select(*_BL)
        .join_from(t.blacklist, t.consumers, _k.id == _b.consumer_id)
        .where(_b.shop_id == shop_id)
        .order_by(_b.added_at.desc(), _b.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [BlacklistRecord(*r) for r in rows], int(total or 0)


async def blacklist_entry(
    conn: AsyncConnection, shop_id: int, entry_id: int
) -> BlacklistRecord | None:
    row = (
        await conn.execute(
            select(*_BL)
            .join_from(t.blacklist, t.consumers, _k.id == _b.consumer_id)
            .where(_b.id == entry_id, _b.shop_id == shop_id)
        )
    ).first()
    return BlacklistRecord(*row) if row is not None else None


async def blacklist_remove(conn: AsyncConnection, shop_id: int, entry_id: int) -> None:
    await conn.execute(t.blacklist.delete().where(_b.id == entry_id, _b.shop_id == shop_id))
