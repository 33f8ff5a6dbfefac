"""History search (DATA-5): the SQL. Matching messages newest first, filtered by shop, viewer,
agent, consumer and time, in pages the service assembles into conversations.

Words of 3 characters or more go through the trigram index (PostgreSQL: pg_trgm GIN index
behind ILIKE; SQLite: the FTS5 trigram table `message_search`, which the message writer fills
in bulk, `index_pending`; the few messages stored since are read directly); 2-character words,
which a trigram index cannot serve, are matched by LIKE on the rows the other conditions leave.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    Select,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.storage import tables as t

_m, _c, _p, _u = t.messages.c, t.conversations.c, t.participants.c, t.consumers.c
_fts = table("message_search")
_fts_rowid: ColumnClause[int] = literal_column("message_search.rowid")
TRIGRAM = 3  # the shortest word the trigram indexes serve
RANGE_SCAN_ROWS = 50_000  # SQLite reads a time range of fewer messages than this directly
FEW_CONVERSATIONS = 3_000  # and the messages of fewer conversations than this
SEARCHED_KINDS = ("text",)
_COLUMNS = (_m.id, _m.conversation_id, _m.seq, _m.sender, _m.body, _m.created_at)
# SQLite: the messages indexed in one transaction of `index_pending` at most.
INDEX_BATCH = 2_000


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """What a search keeps: the shop's text messages, within the viewer's reach (None: the
    whole shop; else conversations `viewer_id` took part in, or of `viewer_group_id`)."""

    shop_id: int
    words: tuple[str, ...] = ()
    agent_id: int | None = None
    consumer: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    viewer_id: int | None = None
    viewer_group_id: int | None = None


@dataclass(frozen=True, slots=True)
class MatchRecord:
    id: int
    conversation_id: int
    seq: int
    sender: str
    body: str
    created_at: datetime


def _like_pattern(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(word: str, *, postgresql: bool) -> ColumnElement[bool]:
    """The body contains `word`, ignoring case on PostgreSQL. A word without letters that have
    a case (Chinese, digits) is tested with LIKE: the same rows, and about twice as fast as
    ILIKE, which folds the case of every body it tests; the trigram index serves both."""
    pattern = _like_pattern(word)
    if postgresql and word.lower() != word.upper():
        return _m.body.ilike(pattern, escape="\\")
    return _m.body.like(pattern, escape="\\")


def _fts_phrase(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _conversation_conditions(f: SearchFilters) -> list[ColumnElement[bool]]:
    """Conditions on the conversation, beyond its shop."""
    conditions: list[ColumnElement[bool]] = []
    if f.viewer_id is not None:
        took_part = _c.id.in_(select(_p.conversation_id).where(_p.account_id == f.viewer_id))
        if f.viewer_group_id is not None:
            conditions.append(or_(_c.group_id == f.viewer_group_id, took_part))
        else:
            conditions.append(took_part)
    if f.agent_id is not None:
        conditions.append(
            _c.id.in_(
                select(_p.conversation_id).where(
                    _p.account_id == f.agent_id, _p.shop_id == f.shop_id
                )
            )
        )
    if f.consumer is not None:
        conditions.append(
            _c.consumer_id.in_(
                select(_u.id).where(
                    _u.shop_id == f.shop_id,
                    or_(
                        _u.uid == f.consumer,
                        _u.nickname.ilike(_like_pattern(f.consumer), escape="\\"),
                    ),
                )
            )
        )
    return conditions


class Path(StrEnum):
    """How the matches are reached (PostgreSQL's planner still picks its indexes).

    WALK: every message newest first (the trigram index first for words of 3 characters or
    more), stopping at the page's end: quick when matches are common or indexed. RANGE: the
    messages of a short time range, by the time index. CONVERSATIONS: the messages of a few
    conversations (an agent's, a consumer's), by the conversation index. The last two test
    the words with LIKE on the rows they read and sort what matches."""

    WALK = "walk"
    RANGE = "range"
    CONVERSATIONS = "conversations"


def _in_conversations(
    f: SearchFilters, path: Path, *, postgresql: bool
) -> list[ColumnElement[bool]]:
    """The messages' conversations as a set to test; `+ 0` keeps SQLite from reading the
    messages through that set unless the path is CONVERSATIONS, and from reading the set
    through the shop's index rather than the consumer's or the participants'."""
    conditions = _conversation_conditions(f)
    if not conditions:
        return []
    shop = _c.shop_id if postgresql else _c.shop_id + 0
    ids = select(_c.id).where(shop == f.shop_id, *conditions)
    plain = postgresql or path is Path.CONVERSATIONS
    column = _m.conversation_id if plain else _m.conversation_id + 0
    return [column.in_(ids)]


def _word_conditions(
    f: SearchFilters, *, postgresql: bool, path: Path
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    for word in f.words:
        if postgresql or len(word) < TRIGRAM or path is not Path.WALK:
            conditions.append(_contains(word, postgresql=postgresql))
    return conditions


def _in_range(f: SearchFilters, *, by_time_index: bool = True) -> list[ColumnElement[bool]]:
    """The shop's messages in the time range; without `by_time_index`, written so that
    SQLite does not read them through the time index."""
    shop = _m.shop_id if by_time_index else _m.shop_id + 0
    conditions = [shop == f.shop_id]
    if f.since is not None:
        conditions.append(_m.created_at >= f.since)
    if f.until is not None:
        conditions.append(_m.created_at < f.until)
    return conditions


def _matches_query(f: SearchFilters, *, postgresql: bool, path: Path) -> Select[Any]:
    long_words = [w for w in f.words if len(w) >= TRIGRAM]
    if not postgresql and path is Path.WALK and long_words:
        query = select(*_COLUMNS).select_from(_fts.join(t.messages, _m.id == _fts_rowid))
        query = query.where(
            literal_column("message_search").op("MATCH")(
                " AND ".join(_fts_phrase(w) for w in long_words)
            )
        )
    else:
        query = select(*_COLUMNS)
    if not postgresql and path is Path.RANGE:
        query = query.with_hint(t.messages, "INDEXED BY ix_messages_shop_created", "sqlite")
    return query.where(
        _m.kind.in_(SEARCHED_KINDS),
        *_in_conversations(f, path, postgresql=postgresql),
        *_word_conditions(f, postgresql=postgresql, path=path),
        *_in_range(f, by_time_index=postgresql or path is Path.RANGE),
    )


def _unindexed_query(f: SearchFilters, indexed_upto: int) -> Select[Any]:
    """SQLite: the matches among the messages stored since the search index was last filled
    (the newest ids, read by the primary key; a handful, unless nothing indexes them)."""
    return select(*_COLUMNS).where(
        _m.id > indexed_upto,
        _m.kind.in_(SEARCHED_KINDS),
        *_in_conversations(f, Path.WALK, postgresql=False),
        *(_contains(word, postgresql=False) for word in f.words),
        *_in_range(f, by_time_index=False),
    )


def _is_postgresql(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


async def _fewer_than(conn: AsyncConnection, query: Select[Any], bound: int) -> bool:
    """Whether `query` has fewer than `bound` rows (reading no more than that)."""
    some = query.limit(bound).subquery()
    return int(await conn.scalar(select(func.count()).select_from(some)) or 0) < bound


async def begin_search(conn: AsyncConnection) -> None:
    """PostgreSQL plans each search statement for its own words: a plan made once for any
    pattern (a prepared statement's generic plan) cannot use the trigram index."""
    if _is_postgresql(conn):
        await conn.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


async def access_path(conn: AsyncConnection, f: SearchFilters) -> Path:
    """The quickest way in: a short time range or a few conversations, when the search has
    them (counted on their indexes, bounded), else the walk."""
    if (f.since is not None or f.until is not None) and await _fewer_than(
        conn, select(_m.id).where(*_in_range(f)), RANGE_SCAN_ROWS
    ):
        return Path.RANGE
    conditions = _conversation_conditions(f)
    if conditions and await _fewer_than(
        conn, select(_c.id).where(_c.shop_id + 0 == f.shop_id, *conditions), FEW_CONVERSATIONS
    ):
        return Path.CONVERSATIONS
    return Path.WALK


async def matches(
    conn: AsyncConnection,
    f: SearchFilters,
    *,
    before_id: int | None,
    limit: int,
    path: Path = Path.WALK,
) -> list[MatchRecord]:
    """Up to `limit` matching messages with ids below `before_id`, newest first, read by
    `path` (see access_path)."""
    postgresql = _is_postgresql(conn)
    query = _matches_query(f, postgresql=postgresql, path=path)
    by_fts = not postgresql and path is Path.WALK and any(len(w) >= TRIGRAM for w in f.words)
    key = _fts_rowid if by_fts else _m.id  # FTS5 orders and bounds its own rowid cheaply
    newest: list[MatchRecord] = []
    if by_fts:
        # The messages not yet in the index are the newest: they come first.
        upto = int(await conn.scalar(_INDEXED_UPTO) or 0)
        unindexed = _unindexed_query(f, upto)
        if before_id is not None:
            unindexed = unindexed.where(_m.id < before_id)
        rows = await conn.execute(unindexed.order_by(_m.id.desc()).limit(limit))
        newest = [MatchRecord(*row) for row in rows]
        if len(newest) == limit:
            return newest
        limit -= len(newest)
        query = query.where(key <= upto)
    if before_id is not None:
        query = query.where(key < before_id)
    # Off the walk, ordering by `id + 0` keeps either planner from walking the primary key
    # anyway: the rows read are few, sorting them is cheap.
    order = key if path is Path.WALK else _m.id + 0
    query = query.order_by(order.desc()).limit(limit)
    if postgresql and path is Path.WALK and not any(len(w) >= TRIGRAM for w in f.words):
        # No trigram to look up and no estimate of how common a 2-character word is: walk
        # the primary key newest first (the page ends soon when the word is common).
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        await conn.execute(text("SET LOCAL enable_bitmapscan = off"))
        try:
            rows = await conn.execute(query)
        finally:
            await conn.execute(text("SET LOCAL enable_seqscan = on"))
            await conn.execute(text("SET LOCAL enable_bitmapscan = on"))
    else:
        rows = await conn.execute(query)
    return newest + [MatchRecord(*row) for row in rows]


_INDEXED_UPTO = text("SELECT indexed_upto FROM message_search_progress")
_PENDING = "SELECT max(id) FROM (SELECT id FROM messages WHERE id > ? ORDER BY id LIMIT ?)"


def index_pending(conn: sqlite3.Connection, most: int = INDEX_BATCH) -> int:
    """SQLite: put up to `most` of the messages stored since the last call into the search
    index, in one transaction (FTS5 writes one segment for them all); how many. Messages
    from any writer are taken, in id order. Run by the message writer on its own connection,
    between its batches (storage/messages.py `SqliteBatches`)."""
    (upto,) = conn.execute("SELECT indexed_upto FROM message_search_progress").fetchone()
    if conn.execute(_PENDING, (upto, 1)).fetchone()[0] is None:
        return 0  # nothing new: no write lock taken
    conn.execute("BEGIN IMMEDIATE")
    try:
        (upto,) = conn.execute("SELECT indexed_upto FROM message_search_progress").fetchone()
        (top,) = conn.execute(_PENDING, (upto, most)).fetchone()
        indexed = 0
        if top is not None:
            indexed = conn.execute(
                "INSERT INTO message_search(rowid, body) "
                "SELECT id, body FROM messages WHERE id > ? AND id <= ?",
                (upto, top),
            ).rowcount
            conn.execute("UPDATE message_search_progress SET indexed_upto = ?", (top,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return indexed


async def matched_from(
    conn: AsyncConnection, f: SearchFilters, conversation_ids: Sequence[int], from_id: int
) -> set[int]:
    """Which of the conversations have a matching message with id `from_id` or above (they
    were on an earlier page). Read through the conversations' own messages, so cheap."""
    if not conversation_ids:
        return set()
    postgresql = _is_postgresql(conn)
    query = (
        select(_m.conversation_id)
        .distinct()
        .where(
            _m.conversation_id.in_(list(conversation_ids)),
            _m.id >= from_id,
            _m.kind.in_(SEARCHED_KINDS),
        )
    )
    for word in f.words:
        query = query.where(_contains(word, postgresql=postgresql))
    if f.since is not None:
        query = query.where(_m.created_at >= f.since)
    if f.until is not None:
        query = query.where(_m.created_at < f.until)
    return set(await conn.scalars(query))


async def conversation_ids(
    conn: AsyncConnection, f: SearchFilters, *, before_id: int | None, limit: int
) -> list[int]:
    """Without words: the conversations the filters keep, newest first (by id), that had
    messages in the time range."""
    query = select(_c.id).where(_c.shop_id == f.shop_id, *_conversation_conditions(f))
    if f.since is not None:
        query = query.where(_c.last_message_at >= f.since)
    if f.until is not None:
        query = query.where(_c.created_at < f.until)
    if before_id is not None:
        query = query.where(_c.id < before_id)
    return list(await conn.scalars(query.order_by(_c.id.desc()).limit(limit)))
