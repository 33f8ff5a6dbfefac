"""Queries shared by several services. Nothing outside storage/ speaks SQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu import errors
from kefu.domain.notices import Notice
from kefu.domain.shop import ShopSettings
from kefu.storage import tables as t


@dataclass(frozen=True, slots=True)
class NewMessage:
    sender: str
    sender_id: int | None
    kind: str
    body: str
    client_id: str | None = None
    meta: dict[str, Any] | None = None


def notice_message(
    notice: Notice,
    *,
    sender: str = "system",
    kind: str = "system",
    meta: Mapping[str, Any] | None = None,
) -> NewMessage:
    """MSG-1: text the server writes for people is a notice in `meta` (code and params, which
    clients translate), with its zh-CN text as the body for those that do not."""
    return NewMessage(sender, None, kind, notice.zh_cn, meta={**(meta or {}), **notice.to_meta()})


async def append_messages(
    conn: AsyncConnection,
    *,
    shop_id: int,
    conversation_id: int,
    items: Sequence[NewMessage],
    now: datetime,
    also: Mapping[str, Any] | None = None,
) -> list[int]:
    """MSG-2: take the next seqs from the conversation row (row-locked until commit) and insert.

    `also`: more columns of the conversation to set in the same statement (an end's state).
    Returns the assigned seqs in order.
    """
    n = len(items)
    c = t.conversations.c
    last = await conn.scalar(
        update(t.conversations)
        .where(c.id == conversation_id)
        .values(last_seq=c.last_seq + n, last_message_at=now, **(also or {}))
        .returning(c.last_seq)
    )
    assert last is not None
    first = last - n + 1
    await conn.execute(
        insert(t.messages),
        [
            {
                "shop_id": shop_id,
                "conversation_id": conversation_id,
                "seq": first + i,
                "sender": m.sender,
                "sender_id": m.sender_id,
                "kind": m.kind,
                "body": m.body,
                "client_id": m.client_id,
                "created_at": now,
                "meta": m.meta,
            }
            for i, m in enumerate(items)
        ],
    )
    return list(range(first, last + 1))


async def append_one_each(
    conn: AsyncConnection,
    *,
    shop_id: int,
    items: Mapping[int, NewMessage],
    now: datetime,
) -> None:
    """MSG-2 for many conversations at once: one message each, appended at the next seq.

    Two statements whatever the number of conversations: the seqs are taken from the rows
    (row-locked until commit, as in `append_messages`), then the messages are inserted.
    """
    if not items:
        return
    c = t.conversations.c
    seqs = await conn.execute(
        update(t.conversations)
        .where(c.id.in_(list(items)))
        .values(last_seq=c.last_seq + 1, last_message_at=now)
        .returning(c.id, c.last_seq)
    )
    await conn.execute(
        insert(t.messages),
        [
            {
                "shop_id": shop_id,
                "conversation_id": conversation_id,
                "seq": seq,
                "sender": items[conversation_id].sender,
                "sender_id": items[conversation_id].sender_id,
                "kind": items[conversation_id].kind,
                "body": items[conversation_id].body,
                "client_id": items[conversation_id].client_id,
                "created_at": now,
                "meta": items[conversation_id].meta,
            }
            for conversation_id, seq in seqs
        ],
    )


async def record_event(
    conn: AsyncConnection,
    *,
    shop_id: int,
    conversation_id: int,
    kind: str,
    at: datetime,
    cause: str | None = None,
    agent_id: int | None = None,
    group_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """CONV-1: every transition is an append-only row with its time and cause."""
    await conn.execute(
        insert(t.conversation_events).values(
            shop_id=shop_id,
            conversation_id=conversation_id,
            kind=kind,
            cause=cause,
            agent_id=agent_id,
            group_id=group_id,
            at=at,
            data=data or {},
        )
    )


async def shop_settings(conn: AsyncConnection, shop_id: int) -> ShopSettings:
    data = await conn.scalar(select(t.shops.c.settings).where(t.shops.c.id == shop_id))
    return ShopSettings.from_json(data)


async def default_group_id(conn: AsyncConnection, shop_id: int) -> int | None:
    found = await conn.scalar(select(func.min(t.groups.c.id)).where(t.groups.c.shop_id == shop_id))
    return int(found) if found is not None else None


async def set_timer(
    conn: AsyncConnection, *, shop_id: int, conversation_id: int, kind: str, due_at: datetime
) -> None:
    """A durable deadline (CONV-3); one row per conversation and kind."""
    tm = t.timers.c
    changed = await conn.execute(
        update(t.timers)
        .where(tm.conversation_id == conversation_id, tm.kind == kind)
        .values(due_at=due_at, fired_at=None)
    )
    if changed.rowcount == 0:
        await conn.execute(
            insert(t.timers).values(
                shop_id=shop_id, conversation_id=conversation_id, kind=kind, due_at=due_at
            )
        )


async def shop_conversation(
    conn: AsyncConnection,
    shop_id: int,
    conversation_id: int,
    *,
    for_update: bool = False,
    participant: int | None = None,
) -> Row[Any]:
    """A conversation of this shop; another shop's is NotFound like a missing one (ACCT-5).

    With `participant`, the row also says (`is_participant`) whether that account takes part.
    """
    c = t.conversations.c
    query = select(t.conversations).where(c.id == conversation_id, c.shop_id == shop_id)
    if participant is not None:
        p = t.participants.c
        takes_part = select(p.account_id).where(
            p.conversation_id == c.id, p.account_id == participant
        )
        query = query.add_columns(takes_part.exists().label("is_participant"))
    if for_update and conn.dialect.name != "sqlite":
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise errors.NotFound(kind="conversation", id=conversation_id)
    return row


async def shop_account(conn: AsyncConnection, shop_id: int, account_id: int) -> Row[Any]:
    row = (
        await conn.execute(
            select(t.accounts).where(t.accounts.c.id == account_id, t.accounts.c.shop_id == shop_id)
        )
    ).first()
    if row is None:
        raise errors.NotFound(kind="account", id=account_id)
    return row


async def shop_group(conn: AsyncConnection, shop_id: int, group_id: int) -> Row[Any]:
    row = (
        await conn.execute(
            select(t.groups).where(t.groups.c.id == group_id, t.groups.c.shop_id == shop_id)
        )
    ).first()
    if row is None:
        raise errors.NotFound(kind="group", id=group_id)
    return row
