"""Queries shared by several services. Nothing outside storage/ speaks SQL."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Row, and_, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import FromClause

from kefu import errors
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


MessageKey = tuple[int, str, str]
"""What makes a client's message unique (MSG-2): conversation id, sender kind, client id."""


async def messages_by_client_id(
    conn: AsyncConnection, keys: Collection[MessageKey]
) -> dict[MessageKey, Row[Any]]:
    """MSG-2: the stored messages having these keys, by key (for idempotent resends).

    The keys are a table joined to messages, so that each is looked up in the unique index on
    (conversation_id, sender, client_id); for a row-value IN, SQLite scans the whole table.
    They travel as one JSON array on SQLite and as three arrays on PostgreSQL: the statement
    does not depend on their number, so it is compiled (and on PostgreSQL prepared) once,
    where a VALUES list or an OR of equalities took 25-40 ms to compile for 200 keys.
    """
    if not keys:
        return {}
    if conn.dialect.name == "sqlite":
        wanted, params = _keys_from_json(keys)
    else:
        wanted, params = _keys_from_arrays(keys)
    m = t.messages.c
    w = wanted.c
    match = and_(
        m.conversation_id == w.conversation_id, m.sender == w.sender, m.client_id == w.client_id
    )
    rows = await conn.execute(select(t.messages).join_from(wanted, t.messages, match), params)
    return {(r.conversation_id, r.sender, r.client_id): r for r in rows}


def _keys_from_json(keys: Collection[MessageKey]) -> tuple[FromClause, dict[str, Any]]:
    each = func.json_each(bindparam("keys", type_=JSON)).table_valued("value")
    wanted = select(
        *(func.json_extract(each.c.value, f"$[{i}]").label(name) for i, name in enumerate(_KEY))
    ).subquery("wanted")
    return wanted, {"keys": [list(k) for k in keys]}


def _keys_from_arrays(keys: Collection[MessageKey]) -> tuple[FromClause, dict[str, Any]]:
    columns = [t.messages.c[name] for name in _KEY]
    wanted = (
        func.unnest(*(bindparam(c.name, type_=ARRAY(c.type)) for c in columns))
        .table_valued(*_KEY)
        .render_derived(name="wanted")
    )
    by_column = zip(*keys, strict=True)
    return wanted, {name: list(values) for name, values in zip(_KEY, by_column, strict=True)}


_KEY = ("conversation_id", "sender", "client_id")


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
