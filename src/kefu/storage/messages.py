"""Messages (MSG-2): the one way a message gets its seq, and the reads of a conversation's
history. Decisions about who may send what are the services'; this module only stores.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import CancelledError, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import JSON, and_, bindparam, case, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import FromClause

from kefu.domain.conversation import ConversationState
from kefu.domain.messages import ReplyClock
from kefu.domain.notices import Notice
from kefu.errors import StorageUnavailable
from kefu.storage import outage
from kefu.storage import rollups as rollup_store
from kefu.storage import search as search_store
from kefu.storage import tables as t
from kefu.storage.db import Database


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
    for shop_id, ids in _to_refold(appends).items():
        await rollup_store.mark_dirty(conn, shop_id, ids)  # DATA-1: the rollups refold them
    return out


@dataclass(frozen=True, slots=True)
class Ending:
    """A conversation to end (`append_ends`): its closing messages, and its `ended` event's
    cause, agent and group."""

    shop_id: int
    conversation_id: int
    messages: Sequence[NewMessage]
    cause: str
    agent_id: int | None
    group_id: int | None


async def append_ends(conn: AsyncConnection, ends: Sequence[Ending], *, now: datetime) -> None:
    """CONV-1, CONV-3, MSG-2: end conversations with their closing messages: the messages get
    their seqs as `append` gives them (the reply timer stopped), each row its state, end time
    and cause, and an `ended` event is recorded each; they are marked for the rollups
    (DATA-1). On PostgreSQL one statement (data-modifying WITH over arrays) whatever their
    number, elsewhere `append` and the events' insert. The caller holds the conversations'
    rows (or the database); a conversation appears at most once."""
    if not ends:
        return
    if conn.dialect.name != "postgresql":
        for end in ends:
            ended = {"state": ConversationState.ENDED, "ended_at": now, "end_cause": end.cause}
            closing = Append(
                end.shop_id,
                end.conversation_id,
                end.messages,
                reply_clock=ReplyClock.STOP,
                also=ended,
            )
            await append(conn, [closing], now=now)  # marks it dirty: `ended_at` is analysed
        await conn.execute(
            insert(t.conversation_events),
            [
                {
                    "shop_id": end.shop_id,
                    "conversation_id": end.conversation_id,
                    "kind": "ended",
                    "cause": end.cause,
                    "agent_id": end.agent_id,
                    "group_id": end.group_id,
                    "at": now,
                    "data": {},
                }
                for end in ends
            ],
        )
        return
    columns: list[list[Any]] = [[] for _ in range(8)]
    for end in ends:
        n = len(end.messages)
        for i, m in enumerate(end.messages):
            values = (end.conversation_id, n - 1 - i, m.sender, m.sender_id, m.kind, m.body)
            for column, value in zip(
                columns, (*values, m.client_id, json.dumps(m.meta)), strict=True
            ):
                column.append(value)
    await conn.exec_driver_sql(
        _PG_ENDS,
        (
            [e.conversation_id for e in ends],
            [len(e.messages) for e in ends],
            [e.cause for e in ends],
            [e.agent_id for e in ends],
            [e.group_id for e in ends],
            now,
            *columns,
        ),
    )


# `append_ends` on PostgreSQL: each row's UPDATE takes the seqs and the time as
# `append_stamped` does (the later of now and the last message's time), under the row lock
# the caller holds; the events go in the order of the ends given.
_PG_ENDS = (
    """
WITH v AS (
    SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::bigint[], $5::bigint[])
        WITH ORDINALITY AS v(id, n, cause, agent_id, group_id, k)
), u AS (
    UPDATE conversations AS c SET
        last_seq = c.last_seq + v.n,
        last_message_at = greatest(c.last_message_at, $6::timestamptz),
        awaiting_reply_since = NULL,
        state = 'ended',
        ended_at = $6::timestamptz,
        end_cause = v.cause
    FROM v WHERE c.id = v.id
    RETURNING c.id, c.shop_id, c.last_seq, c.last_message_at
), m AS (
    INSERT INTO messages
        (shop_id, conversation_id, seq, sender, sender_id, kind, body, client_id, created_at,
         meta)
    SELECT u.shop_id, u.id, u.last_seq - m.n_after, m.sender, m.sender_id, m.kind, m.body,
           m.client_id, u.last_message_at, m.meta::json
    FROM unnest($7::bigint[], $8::int[], $9::text[], $10::bigint[], $11::text[], $12::text[],
                $13::text[], $14::text[])
        AS m(conversation_id, n_after, sender, sender_id, kind, body, client_id, meta)
    JOIN u ON u.id = m.conversation_id
), e AS (
    INSERT INTO conversation_events (shop_id, conversation_id, kind, cause, agent_id, group_id,
                                     at, data)
    SELECT u.shop_id, u.id, 'ended', v.cause, v.agent_id, v.group_id, $6::timestamptz,
           '{}'::json
    FROM u JOIN v ON v.id = u.id
    ORDER BY v.k
)
INSERT INTO analytics_dirty (conversation_id, shop_id, version)
SELECT u.id, u.shop_id, """  # noqa: S608 (a constant of rollups, no input)
    + rollup_store.FRESH_VERSION_PG
    + """ FROM u
ON CONFLICT (conversation_id) DO UPDATE SET version = analytics_dirty.version + 1
"""
)


def _to_refold(appends: Sequence[Append]) -> dict[int, list[int]]:
    """The conversations, by shop, whose analytics these appends change (DATA-1)."""
    by_shop: dict[int, list[int]] = defaultdict(list)
    for a in appends:
        if _analysed(a):
            by_shop[a.shop_id].append(a.conversation_id)
    return by_shop


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


async def sender_names(conn: AsyncConnection, account_ids: Collection[int]) -> dict[int, str]:
    """The display names of these accounts (the agents who send in a batch), by id."""
    if not account_ids:
        return {}
    a = t.accounts.c
    rows = await conn.execute(select(a.id, a.display_name).where(a.id.in_(sorted(account_ids))))
    return {r.id: r.display_name for r in rows}


# ---------------------------------------------------------------------------------------------
# SQLite: a whole batch in one hop (issue 16)
#
# Through aiosqlite every statement is two hand-offs between the event loop and the driver's
# thread, and SQLAlchemy compiles and wraps each one: a batch cost 7 statements and ~27 hops
# whatever its size. `SqliteBatches` keeps one sqlite3 connection in a thread of its own and
# runs a whole batch there — BEGIN IMMEDIATE, reads, the caller's (pure) decisions, writes,
# COMMIT — so that the event loop hands it over once. The SQL mirrors the functions above and
# writes the values as SQLAlchemy's SQLite types do (times as 'YYYY-MM-DD HH:MM:SS.ffffff' in
# UTC, JSON as json.dumps text), so either path reads what the other wrote.


def _sqlite_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_time_of(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def _in(sql: str, n: int) -> str:
    """`sql` with its `(?*)` made n placeholders."""
    return sql.replace("?*", ",".join("?" * n))


class SqliteBatch:
    """The statements of one batch, on the batch thread's connection, inside its transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def lock_send_targets(self, ids: Sequence[int]) -> dict[int, SendTarget]:
        """`lock_send_targets`: BEGIN IMMEDIATE already holds the database."""
        sql = _in(
            "SELECT c.id, c.shop_id, c.consumer_id, s.nickname, c.state, c.ended_at, "
            "c.last_consumer_message_at FROM conversations AS c "
            "JOIN consumers AS s ON s.id = c.consumer_id WHERE c.id IN (?*) ORDER BY c.id",
            len(ids),
        )
        found: dict[int, SendTarget] = {}
        for r in self._conn.execute(sql, list(ids)):
            ended_at, spoke_at = _sqlite_time_of(r[5]), _sqlite_time_of(r[6])
            found[r[0]] = SendTarget(r[0], r[1], r[2], r[3], r[4], ended_at, spoke_at)
        return found

    def participant_roles(self, ids: Sequence[int]) -> dict[int, dict[int, str]]:
        """Each conversation's participating accounts and their roles (one statement for
        what `conversations.participant_ids` reads with and without roles)."""
        found: dict[int, dict[int, str]] = {}
        sql = _in(
            "SELECT conversation_id, account_id, role FROM participants "
            "WHERE conversation_id IN (?*)",
            len(ids),
        )
        rows = self._conn.execute(sql, list(ids))
        for conversation_id, account_id, role in rows:
            found.setdefault(conversation_id, {})[account_id] = role
        return found

    def by_client_ids(self, keys: Collection[MessageKey]) -> dict[MessageKey, MessageRecord]:
        """`by_client_ids`: each key looked up in the unique index (a join from json_each)."""
        if not keys:
            return {}
        rows = self._conn.execute(_BY_CLIENT_IDS, [json.dumps([list(k) for k in keys])])
        return {(r.conversation_id, r.sender, r.client_id or ""): r for r in map(_record, rows)}

    def sender_names(self, account_ids: Collection[int]) -> dict[int, str]:
        if not account_ids:
            return {}
        sql = _in("SELECT id, display_name FROM accounts WHERE id IN (?*)", len(account_ids))
        rows = self._conn.execute(sql, sorted(account_ids))
        return dict(rows.fetchall())

    def append_stamped(self, appends: Sequence[Append], *, now: datetime) -> dict[int, Appended]:
        """`append_stamped`, the same statements in SQLite's SQL."""
        if not appends:
            return {}
        alike: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for a in appends:
            if a.also:
                raise ValueError("the batch path sets no other columns")
            alike[(len(a.messages), a.consumer_spoke, a.reply_clock)].append(a.conversation_id)
        stamp = "CASE WHEN last_message_at > :now THEN last_message_at ELSE :now END"
        update = (
            "UPDATE conversations SET last_seq = last_seq + :n, last_message_at = {stamp}{more} "
            "WHERE id IN (?*) RETURNING id, last_seq, last_message_at"
        )
        last: dict[int, tuple[int, datetime]] = {}
        for (n, consumer_spoke, clock), ids in alike.items():
            more = ""
            if consumer_spoke:
                more += ", last_consumer_message_at = {stamp}"
            if clock is ReplyClock.START:
                more += ", awaiting_reply_since = coalesce(awaiting_reply_since, {stamp})"
            elif clock is ReplyClock.STOP:
                more += ", awaiting_reply_since = NULL"
            params: dict[str, Any] = {"now": _sqlite_time(now), "n": n}
            params |= {f"id{i}": cid for i, cid in enumerate(ids)}
            marks = ",".join(f":id{i}" for i in range(len(ids)))
            sql = update.replace("{more}", more).replace("{stamp}", stamp).replace("?*", marks)
            rows = self._conn.execute(sql, params).fetchall()
            for conversation_id, last_seq, stamped in rows:
                at = _sqlite_time_of(stamped)
                assert at is not None
                last[conversation_id] = (last_seq, at)
        out: dict[int, Appended] = {}
        records: list[tuple[Any, ...]] = []
        for a in appends:
            last_seq, created_at = last[a.conversation_id]
            first = last_seq - len(a.messages) + 1
            out[a.conversation_id] = Appended(list(range(first, last_seq + 1)), created_at)
            stamped_at = _sqlite_time(created_at)
            records += [
                _row(a.shop_id, a.conversation_id, first + i, m, stamped_at)
                for i, m in enumerate(a.messages)
            ]
        try:
            self._conn.executemany(
                "INSERT INTO messages (shop_id, conversation_id, seq, sender, sender_id, kind, "
                "body, client_id, created_at, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                records,
            )
        except sqlite3.IntegrityError as exc:
            raise DuplicateMessage(str(exc)) from exc
        self._conn.executemany(  # DATA-1: `rollups.mark_dirty` in SQLite's SQL
            "INSERT INTO analytics_dirty (conversation_id, shop_id, version) "  # noqa: S608
            f"VALUES (?, ?, {rollup_store.FRESH_VERSION_SQLITE}) "
            "ON CONFLICT (conversation_id) DO UPDATE SET version = version + 1",
            [(cid, shop_id) for shop_id, ids in _to_refold(appends).items() for cid in ids],
        )
        return out


def _row(shop_id: int, conversation_id: int, seq: int, m: NewMessage, at: str) -> tuple[Any, ...]:
    meta = json.dumps(m.meta)
    return (
        shop_id,
        conversation_id,
        seq,
        m.sender,
        m.sender_id,
        m.kind,
        m.body,
        m.client_id,
        at,
        meta,
    )


# The keys travel as one JSON array joined to messages, so that each is a SEARCH in the
# unique index on (conversation_id, sender, client_id), never a scan.
_BY_CLIENT_IDS = (
    "SELECT m.id, m.conversation_id, m.seq, m.sender, m.sender_id, m.kind, m.body, "
    "m.client_id, m.created_at, m.meta FROM json_each(?) AS k CROSS JOIN messages AS m "
    "ON m.conversation_id = json_extract(k.value, '$[0]') "
    "AND m.sender = json_extract(k.value, '$[1]') "
    "AND m.client_id = json_extract(k.value, '$[2]')"
)


def _record(row: tuple[Any, ...]) -> MessageRecord:
    created_at = _sqlite_time_of(row[8])
    assert created_at is not None
    meta = json.loads(row[9]) if row[9] is not None else None
    id_, conversation_id, seq, sender, sender_id, kind, body, client_id = row[:8]
    return MessageRecord(
        id_, conversation_id, seq, sender, sender_id, kind, body, client_id, created_at, meta
    )


T = TypeVar("T")


CHECKPOINT_EVERY_S = 0.5
# The WAL's length in frames (pages) past which it is made to start over (64 MiB of 4 KiB pages),
# and how long the checkpointer waits for the writer's thread to do it.
WAL_RESTART_FRAMES = 16_384
RESTART_WITHIN_S = 30.0


class SqliteBatches:
    """A sqlite3 connection of its own, in a thread of its own, for the message writer.

    Its commits never checkpoint the WAL themselves: SQLite's automatic checkpoint runs in the
    committing call once the WAL holds 1,000 pages, and copying them into the database with
    its fsync held every send behind it for tens of milliseconds (the gateway's p99 at 2,000
    messages/s, issue 16). A checkpointer thread with a connection of its own checkpoints
    instead every CHECKPOINT_EVERY_S (PASSIVE: it never waits for, nor blocks, the writer),
    and has the writer's thread put the messages stored meanwhile into SQLite's search index
    between two batches, all in one transaction (`search.index_pending`).

    SQLite starts the WAL over only at a write that finds all of it in the database; under
    writes without a pause, the writer appends while the checkpointer copies, so that never
    happened and the WAL grew by every commit (486 MB in 30 s of `kefu bench gateway`, each
    commit extending the file). Once the checkpointer finds it longer than WAL_RESTART_FRAMES,
    the writer's own thread, between two batches, copies the little that the checkpointer's
    pass could not, and its next commit starts the WAL over (`journal_size_limit` then cuts
    the file back)."""

    def __init__(self, path: str, *, busy_s: float) -> None:
        self._path = path
        self._busy_s = busy_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kefu-batches")
        self._conn: sqlite3.Connection | None = None
        self._stop_checkpoints = threading.Event()
        self._checkpointer: threading.Thread | None = None

    @classmethod
    def of(cls, db: Database) -> SqliteBatches | None:
        """The batches of `db`'s file; None for PostgreSQL (or an in-memory SQLite)."""
        path = db.engine.url.database
        if not db.is_sqlite or not path or path == ":memory:":
            return None
        return cls(path, busy_s=db.timeouts.busy_s)

    async def run(self, work: Callable[[SqliteBatch], T]) -> T:
        """`work` inside one write transaction (BEGIN IMMEDIATE … COMMIT) on the batch thread:
        committed when it returns, rolled back when it raises. Outages leave as
        StorageUnavailable, as from the unit of work."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._transaction, work)
        except Exception as exc:
            if (translated := outage.translate(exc)) is not None:
                raise translated from exc
            raise

    def _transaction(self, work: Callable[[SqliteBatch], T]) -> T:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(SqliteBatch(conn))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise
        return result

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(
                self._path, timeout=self._busy_s, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={max(1, round(self._busy_s * 1000))}")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's work
            (page,) = conn.execute("PRAGMA page_size").fetchone()
            conn.execute(f"PRAGMA journal_size_limit={WAL_RESTART_FRAMES * page}")
            self._conn = conn
            self._stop_checkpoints.clear()
            self._checkpointer = threading.Thread(
                target=self._checkpoint_until_closed, name="kefu-checkpoints", daemon=True
            )
            self._checkpointer.start()
        return self._conn

    def _checkpoint_until_closed(self) -> None:
        conn = sqlite3.connect(self._path, timeout=self._busy_s, isolation_level=None)
        try:
            while not self._stop_checkpoints.wait(CHECKPOINT_EVERY_S):
                # The search index, on the writer's own thread: between two batches, never
                # waiting for the write lock against them (DATA-5, storage/search.py).
                with contextlib.suppress(RuntimeError):  # the writer is closing
                    self._executor.submit(self._index_pending)
                frames = 0
                with contextlib.suppress(sqlite3.Error):  # busy or out: the next one tries
                    _, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                if frames > WAL_RESTART_FRAMES:
                    # Waited for: one checkpoint at a time, or the second would find it busy.
                    with contextlib.suppress(RuntimeError, CancelledError, TimeoutError):
                        self._executor.submit(self._restart_wal).result(RESTART_WITHIN_S)
        finally:
            conn.close()

    def _restart_wal(self) -> None:
        """On the writer's thread, between two batches: finish the checkpoint, so that the
        writer's next commit starts the WAL over."""
        if self._conn is None:
            return
        with contextlib.suppress(sqlite3.Error):  # busy or out: the next pass asks again
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _index_pending(self) -> None:
        if self._conn is None:
            return
        with contextlib.suppress(sqlite3.Error):  # busy, out, or no index: the next one tries
            search_store.index_pending(self._conn)

    async def close(self) -> None:
        def close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(self._executor, close)
        self._executor.shutdown(wait=False)
        self._stop_checkpoints.set()
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.join)
            self._checkpointer = None


# ---------------------------------------------------------------------------------------------
# PostgreSQL: a batch in two statements (issue 16)
#
# The same batch as above, as raw asyncpg statements on the unit of work's connection and in
# its transaction (the first one goes through SQLAlchemy, which opens the transaction): the
# conversations locked with their participants, those participants' names and the messages
# already stored under the batch's client ids, then ONE statement that advances the
# conversations, inserts the messages and marks the conversations for the analytics (a
# data-modifying WITH over arrays), where the SQLAlchemy path took 7 statements.

_PG_TARGETS = """
SELECT c.id, c.shop_id, c.consumer_id, s.nickname, c.state, c.ended_at,
       c.last_consumer_message_at, p.accounts, p.roles, p.names, e.found
FROM conversations AS c
JOIN consumers AS s ON s.id = c.consumer_id
LEFT JOIN LATERAL (
    SELECT array_agg(pa.account_id) AS accounts, array_agg(pa.role) AS roles,
           array_agg(a.display_name) AS names
    FROM participants AS pa JOIN accounts AS a ON a.id = pa.account_id
    WHERE pa.conversation_id = c.id
) AS p ON true
LEFT JOIN LATERAL (
    SELECT json_agg(json_build_array(m.id, m.seq, m.sender, m.sender_id, m.kind, m.body,
                                     m.client_id, m.created_at, m.meta)) AS found
    FROM unnest($2::bigint[], $3::text[], $4::text[]) AS k(conversation_id, sender, client_id)
    JOIN messages AS m ON m.conversation_id = k.conversation_id AND m.sender = k.sender
                       AND m.client_id = k.client_id
    WHERE k.conversation_id = c.id
) AS e ON true
WHERE c.id = ANY($1::bigint[])
ORDER BY c.id
FOR UPDATE OF c
"""

# clock: 0 keep, 1 start, 2 stop (ReplyClock). All SET expressions read the row as it was.
# The conversations whose analytics change are marked in the same statement (DATA-1).
_PG_APPEND = (
    """
WITH v AS (
    SELECT * FROM unnest($1::bigint[], $2::int[], $3::bool[], $4::int[])
        AS v(id, n, consumer_spoke, clock)
), u AS (
    UPDATE conversations AS c SET
        last_seq = c.last_seq + v.n,
        last_message_at = greatest(c.last_message_at, $5::timestamptz),
        last_consumer_message_at = CASE WHEN v.consumer_spoke
            THEN greatest(c.last_message_at, $5::timestamptz)
            ELSE c.last_consumer_message_at END,
        awaiting_reply_since = CASE v.clock
            WHEN 1 THEN coalesce(c.awaiting_reply_since,
                                 greatest(c.last_message_at, $5::timestamptz))
            WHEN 2 THEN NULL
            ELSE c.awaiting_reply_since END
    FROM v WHERE c.id = v.id
    RETURNING c.id, c.last_seq, c.last_message_at
), d AS (
    INSERT INTO analytics_dirty (conversation_id, shop_id, version)
    SELECT d.conversation_id, d.shop_id, """  # noqa: S608 (a constant of rollups, no input)
    + rollup_store.FRESH_VERSION_PG
    + """
    FROM unnest($15::bigint[], $16::bigint[]) AS d(conversation_id, shop_id)
    ON CONFLICT (conversation_id) DO UPDATE SET version = analytics_dirty.version + 1
)
INSERT INTO messages
    (shop_id, conversation_id, seq, sender, sender_id, kind, body, client_id, created_at, meta)
SELECT m.shop_id, m.conversation_id, u.last_seq - m.n_after, m.sender, m.sender_id, m.kind,
       m.body, m.client_id, u.last_message_at, m.meta::json
FROM unnest($6::bigint[], $7::bigint[], $8::int[], $9::text[], $10::bigint[], $11::text[],
            $12::text[], $13::text[], $14::text[])
    AS m(shop_id, conversation_id, n_after, sender, sender_id, kind, body, client_id, meta)
JOIN u ON u.id = m.conversation_id
RETURNING conversation_id, seq, created_at
"""
)

_CLOCKS = {ReplyClock.KEEP: 0, ReplyClock.START: 1, ReplyClock.STOP: 2}


def _refold_columns(appends: Sequence[Append]) -> tuple[list[int], list[int]]:
    """`_to_refold` as the two arrays of `_PG_APPEND`: conversation ids and their shops."""
    pairs = [(cid, shop_id) for shop_id, ids in _to_refold(appends).items() for cid in ids]
    return [cid for cid, _ in pairs], [shop_id for _, shop_id in pairs]


# asyncpg's word for a connection left mid-operation (its server went away meanwhile).
_PG_BROKEN = frozenset({"InternalClientError"})


class PgBatch:
    """The statements of one batch on PostgreSQL, inside the caller's unit of work."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._roles: dict[int, dict[int, str]] = {}
        self._names: dict[int, str] = {}
        self._stored: dict[MessageKey, MessageRecord] = {}

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        """A raw statement. SQLAlchemy is not there to notice a failed connection, so any
        failure discards it (it never goes back to the pool), and a lost one, or one left
        mid-operation, is an outage as from the unit of work."""
        raw = await self._conn.get_raw_connection()
        driver: Any = raw.driver_connection
        try:
            rows: list[Any] = await driver.fetch(sql, *args)
        except Exception as exc:
            if getattr(exc, "sqlstate", None) == "23505":  # unique_violation
                raise DuplicateMessage(str(exc)) from exc
            with contextlib.suppress(Exception):
                await self._conn.invalidate()
            cause = outage.outage_cause(exc)
            if cause is None and (driver.is_closed() or type(exc).__name__ in _PG_BROKEN):
                cause = "connection"
            if cause is not None:
                raise StorageUnavailable(cause=cause) from exc
            raise
        return rows

    async def lock_send_targets(
        self, ids: Sequence[int], keys: Collection[MessageKey] = ()
    ) -> dict[int, SendTarget]:
        """`lock_send_targets`, reading in the same statement the participants and their
        names (kept for `participant_roles` and `sender_names`) and the stored messages having
        `keys` (kept for `by_client_ids`). A message stored under the same key by a writer that
        held the lock meanwhile may be missed: the insert then fails as a duplicate, which the
        writer redoes one send at a time."""
        conversation_ids, senders, client_ids = (
            (list(c) for c in zip(*keys, strict=True)) if keys else ([], [], [])
        )
        found: dict[int, SendTarget] = {}
        rows: Any = await self._conn.exec_driver_sql(
            _PG_TARGETS, (list(ids), conversation_ids, senders, client_ids)
        )
        for r in rows:
            found[r[0]] = SendTarget(r[0], r[1], r[2], r[3], r[4], r[5], r[6])
            accounts, roles, names = r[7] or [], r[8] or [], r[9] or []
            self._roles[r[0]] = dict(zip(accounts, roles, strict=True))
            self._names |= dict(zip(accounts, names, strict=True))
            stored = json.loads(r[10]) if isinstance(r[10], str) else r[10]  # json decoded?
            for m in stored or ():
                record = MessageRecord(
                    m[0], r[0], m[1], m[2], m[3], m[4], m[5], m[6],
                    datetime.fromisoformat(m[7]), m[8],
                )  # fmt: skip
                self._stored[(r[0], record.sender, record.client_id or "")] = record
        return found

    def participant_roles(self, ids: Sequence[int]) -> dict[int, dict[int, str]]:
        return {cid: self._roles[cid] for cid in ids if self._roles.get(cid)}

    def sender_names(self, account_ids: Collection[int]) -> dict[int, str]:
        """Names of senders who are participants (an agent may only send as one)."""
        return {a: self._names[a] for a in account_ids if a in self._names}

    def by_client_ids(self, keys: Collection[MessageKey]) -> dict[MessageKey, MessageRecord]:
        """The stored messages having these keys, as `lock_send_targets` read them."""
        return {k: self._stored[k] for k in keys if k in self._stored}

    async def append_stamped(
        self, appends: Sequence[Append], *, now: datetime
    ) -> dict[int, Appended]:
        """`append_stamped` in one statement."""
        if not appends:
            return {}
        if any(a.also for a in appends):
            raise ValueError("the batch path sets no other columns")
        columns: list[list[Any]] = [[] for _ in range(9)]
        for a in appends:
            n = len(a.messages)
            for i, m in enumerate(a.messages):
                values: tuple[Any, ...] = (a.shop_id, a.conversation_id, n - 1 - i, m.sender)
                values += (m.sender_id, m.kind, m.body, m.client_id, json.dumps(m.meta))
                for column, value in zip(columns, values, strict=True):
                    column.append(value)
        rows = await self._fetch(
            _PG_APPEND,
            [a.conversation_id for a in appends],
            [len(a.messages) for a in appends],
            [a.consumer_spoke for a in appends],
            [_CLOCKS[a.reply_clock] for a in appends],
            now,
            *columns,
            *_refold_columns(appends),
        )
        seqs: dict[int, list[int]] = defaultdict(list)
        stamped: dict[int, datetime] = {}
        for conversation_id, seq, created_at in rows:
            seqs[conversation_id].append(seq)
            stamped[conversation_id] = created_at
        return {cid: Appended(sorted(s), stamped[cid]) for cid, s in seqs.items()}
