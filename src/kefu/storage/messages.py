"""Messages (MSG-2): the one way a message gets its seq, and the reads of a conversation's
history. Decisions about who may send what are the services'; this module only stores.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, and_, bindparam, case, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import FromClause

from kefu.domain.messages import ReplyClock
from kefu.domain.notices import Notice
from kefu.storage import rollups as rollup_store
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


@dataclass(frozen=True, slots=True)
class Append:
    """New messages for one conversation, and what they change on its row.

    `also`: more columns of the conversation to set in the same statement (an end's state).
    """

    shop_id: int
    conversation_id: int
    messages: Sequence[NewMessage]
    consumer_spoke: bool = False
    reply_clock: ReplyClock = ReplyClock.KEEP
    also: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MessageRecord:
    id: int
    conversation_id: int
    seq: int
    sender: str
    sender_id: int | None
    kind: str
    body: str
    client_id: str | None
    created_at: datetime
    meta: dict[str, Any] | None


class DuplicateMessage(Exception):
    """A message with this (conversation, sender, client id) was stored meanwhile (MSG-2)."""


_c = t.conversations.c
_m = t.messages.c


@dataclass(frozen=True, slots=True)
class Appended:
    """A conversation's new messages: their seqs, in order, and the time they all carry."""

    seqs: list[int]
    created_at: datetime


async def append(
    conn: AsyncConnection, appends: Sequence[Append], *, now: datetime
) -> dict[int, list[int]]:
    """`append_stamped`, for callers that need only the seqs."""
    return {cid: a.seqs for cid, a in (await append_stamped(conn, appends, now=now)).items()}


async def append_stamped(
    conn: AsyncConnection, appends: Sequence[Append], *, now: datetime
) -> dict[int, Appended]:
    """MSG-2: give each message the next seq of its conversation, and insert them all.

    The seqs come from `UPDATE … SET last_seq = last_seq + n … RETURNING`, which takes the
    conversation's row lock until commit, so concurrent appends to one conversation queue up
    and seqs stay gapless. Appends that change the row alike share one statement (a burst of
    one-message sends is one UPDATE), and all messages go in one INSERT. Returns each
    conversation's new seqs, in order, and their time. A conversation appears at most once in
    `appends`.

    Issue 17: `created_at` never goes back along seq. The time is the later of `now` and the
    conversation's `last_message_at` (its last message's time), taken in the same UPDATE under
    the row lock, so a clock that stepped back, or a process whose clock is behind, writes the
    previous message's time instead.
    """
    if not appends:
        return {}
    alike: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for a in appends:
        key = (len(a.messages), a.consumer_spoke, a.reply_clock, tuple(sorted(a.also.items())))
        alike[key].append(a.conversation_id)
    now_param = bindparam("now", now, type_=_c.last_message_at.type)
    stamp = case((_c.last_message_at > now_param, _c.last_message_at), else_=now_param)
    last: dict[int, tuple[int, datetime]] = {}
    for (n, consumer_spoke, clock, also), ids in alike.items():
        values: dict[str, Any] = {
            "last_seq": _c.last_seq + n,
            "last_message_at": stamp,
            **dict(also),
        }
        if consumer_spoke:
            values["last_consumer_message_at"] = stamp
        if clock is ReplyClock.START:
            values["awaiting_reply_since"] = func.coalesce(_c.awaiting_reply_since, stamp)
        elif clock is ReplyClock.STOP:
            values["awaiting_reply_since"] = None
        query = update(t.conversations).where(_c.id.in_(ids)).values(**values)
        returning = query.returning(_c.id, _c.last_seq, _c.last_message_at)
        for conversation_id, last_seq, stamped in await conn.execute(returning):
            last[conversation_id] = (last_seq, stamped)
    out: dict[int, Appended] = {}
    records: list[dict[str, Any]] = []
    for a in appends:
        last_seq, created_at = last[a.conversation_id]
        first = last_seq - len(a.messages) + 1
        out[a.conversation_id] = Appended(list(range(first, last_seq + 1)), created_at)
        records += [
            {
                "shop_id": a.shop_id,
                "conversation_id": a.conversation_id,
                "seq": first + i,
                "sender": m.sender,
                "sender_id": m.sender_id,
                "kind": m.kind,
                "body": m.body,
                "client_id": m.client_id,
                "created_at": created_at,
                "meta": m.meta,
            }
            for i, m in enumerate(a.messages)
        ]
    if records:
        try:
            await conn.execute(insert(t.messages), records)
        except IntegrityError as exc:
            raise DuplicateMessage(str(exc.orig)) from exc
    by_shop: dict[int, list[int]] = defaultdict(list)
    for a in appends:
        if _analysed(a):
            by_shop[a.shop_id].append(a.conversation_id)
    for shop_id, ids in by_shop.items():
        await rollup_store.mark_dirty(conn, shop_id, ids)  # DATA-1: the rollups refold them
    return out


def _analysed(a: Append) -> bool:
    """Whether the append changes what the analytics read (DATA-1): a consumer's or an agent's
    message, or the request or end time (bot and system messages count in no figure)."""
    return any(m.sender in ("consumer", "agent") for m in a.messages) or bool(
        {"human_requested_at", "ended_at", "created_at"}.intersection(a.also)
    )


def record_of(row: Any) -> MessageRecord:
    return MessageRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        seq=row.seq,
        sender=row.sender,
        sender_id=row.sender_id,
        kind=row.kind,
        body=row.body,
        client_id=row.client_id,
        created_at=row.created_at,
        meta=row.meta,
    )


async def page(
    conn: AsyncConnection,
    conversation_id: int,
    *,
    since_seq: int | None = None,
    before_seq: int | None = None,
    limit: int,
) -> list[MessageRecord]:
    """Up to `limit` messages after `since_seq`, or the last ones before `before_seq`, in
    seq order either way."""
    query = select(t.messages).where(_m.conversation_id == conversation_id)
    if before_seq is not None:
        query = query.where(_m.seq < before_seq).order_by(_m.seq.desc())
    else:
        query = query.where(_m.seq > (since_seq or 0)).order_by(_m.seq)
    records = [record_of(r) for r in await conn.execute(query.limit(limit))]
    if before_seq is not None:
        records.reverse()
    return records


@dataclass(frozen=True, slots=True)
class SendTarget:
    """A conversation that a batch of sends writes to, as read under its row lock."""

    id: int
    shop_id: int
    consumer_id: int
    consumer_name: str
    state: str
    ended_at: datetime | None
    last_consumer_message_at: datetime | None


async def lock_send_targets(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, SendTarget]:
    """The conversations of a batch, row-locked until commit in id order (no deadlock between
    two writers) on PostgreSQL; SQLite's BEGIN IMMEDIATE already holds the database."""
    query = (
        select(
            _c.id,
            _c.shop_id,
            _c.consumer_id,
            t.consumers.c.nickname,
            _c.state,
            _c.ended_at,
            _c.last_consumer_message_at,
        )
        .join(t.consumers, t.consumers.c.id == _c.consumer_id)
        .where(_c.id.in_(sorted(ids)))
        .order_by(_c.id)
    )
    if conn.dialect.name != "sqlite":
        query = query.with_for_update(of=t.conversations)
    return {r.id: SendTarget(*r) for r in await conn.execute(query)}


MessageKey = tuple[int, str, str]


async def by_client_ids(
    conn: AsyncConnection, keys: Collection[MessageKey]
) -> dict[MessageKey, MessageRecord]:
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
    w = wanted.c
    match = and_(
        _m.conversation_id == w.conversation_id,
        _m.sender == w.sender,
        _m.client_id == w.client_id,
    )
    rows = await conn.execute(select(t.messages).join_from(wanted, t.messages, match), params)
    return {(r.conversation_id, r.sender, r.client_id): record_of(r) for r in rows}


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
