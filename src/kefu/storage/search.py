"""History search (DATA-5): the SQL. Matching messages newest first, filtered by shop, viewer,
agent, consumer and time, in pages the service assembles into conversations.

Words of 3 characters or more go through the trigram index (PostgreSQL: pg_trgm GIN index
behind ILIKE; SQLite: the FTS5 trigram table `message_search`); 2-character words, which a
trigram index cannot serve, are matched by LIKE on the rows the other conditions leave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnClause, ColumnElement, Select, func, literal_column, or_, select, table
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.storage import tables as t

_m, _c, _p, _u = t.messages.c, t.conversations.c, t.participants.c, t.consumers.c
_fts = table("message_search")
_fts_rowid: ColumnClause[int] = literal_column("message_search.rowid")
TRIGRAM = 3  # the shortest word the trigram indexes serve
RANGE_SCAN_ROWS = 50_000  # SQLite reads a time range of fewer messages than this directly
SEARCHED_KINDS = ("text",)


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
                        _u.nickname.like(_like_pattern(f.consumer), escape="\\"),
                    ),
                )
            )
        )
    return conditions


def _in_conversations(f: SearchFilters, *, postgresql: bool) -> list[ColumnElement[bool]]:
    """The messages' conversations as a set to test, so that the messages are walked newest
    first and the walk stops at the page's end. On SQLite (whose planner would rather start
    from the conversations and sort every match) `+ 0` keeps the set from driving the join,
    except for a consumer, whose few conversations are the quicker way in."""
    conditions = _conversation_conditions(f)
    if not conditions:
        return []
    ids = select(_c.id).where(_c.shop_id == f.shop_id, *conditions)
    column = _m.conversation_id if postgresql or f.consumer is not None else _m.conversation_id + 0
    return [column.in_(ids)]


def _word_conditions(
    f: SearchFilters, *, postgresql: bool, words_by_index: bool = True
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    for word in f.words:
        if postgresql:
            conditions.append(_m.body.ilike(_like_pattern(word), escape="\\"))
        elif len(word) < TRIGRAM or not words_by_index:
            conditions.append(_m.body.like(_like_pattern(word), escape="\\"))
    return conditions


def _matches_query(
    f: SearchFilters, *, postgresql: bool, words_by_index: bool = True
) -> Select[Any]:
    long_words = [w for w in f.words if len(w) >= TRIGRAM] if words_by_index else []
    columns = (_m.id, _m.conversation_id, _m.seq, _m.sender, _m.body, _m.created_at)
    use_fts = not postgresql and long_words
    if use_fts:
        query = select(*columns).select_from(_fts.join(t.messages, _m.id == _fts_rowid))
        query = query.where(
            literal_column("message_search").op("MATCH")(
                " AND ".join(_fts_phrase(w) for w in long_words)
            )
        )
    else:
        query = select(*columns)
    query = query.where(
        _m.kind.in_(SEARCHED_KINDS),
        *_in_conversations(f, postgresql=postgresql),
        *_word_conditions(f, postgresql=postgresql, words_by_index=words_by_index),
        *_in_range(f, by_time_index=postgresql or not words_by_index),
    )
    return query


def _is_postgresql(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


def _in_range(f: SearchFilters, *, by_time_index: bool = True) -> list[ColumnElement[bool]]:
    """The shop's messages in the time range; without `by_time_index`, written so that
    SQLite does not read them through the time index (it walks them newest first instead)."""
    shop = _m.shop_id if by_time_index else _m.shop_id + 0
    conditions = [shop == f.shop_id]
    if f.since is not None:
        conditions.append(_m.created_at >= f.since)
    if f.until is not None:
        conditions.append(_m.created_at < f.until)
    return conditions


async def _small_range(conn: AsyncConnection, f: SearchFilters) -> bool:
    """Whether the time range holds fewer than RANGE_SCAN_ROWS messages (counted on the
    index, and no further than that)."""
    if f.since is None and f.until is None:
        return False
    some = select(_m.id).where(*_in_range(f)).limit(RANGE_SCAN_ROWS).subquery()
    return int(await conn.scalar(select(func.count()).select_from(some)) or 0) < RANGE_SCAN_ROWS


async def matches(
    conn: AsyncConnection, f: SearchFilters, *, before_id: int | None, limit: int
) -> list[MatchRecord]:
    """Up to `limit` matching messages with ids below `before_id`, newest first."""
    postgresql = _is_postgresql(conn)
    if not postgresql and await _small_range(conn, f):
        # A short time range: read its messages (by the time index) rather than walk the
        # whole history newest first down to it.
        query = (
            _matches_query(f, postgresql=postgresql, words_by_index=False)
            .with_hint(t.messages, "INDEXED BY ix_messages_shop_created", "sqlite")
            .order_by(_m.id.desc())
        )
        if before_id is not None:
            query = query.where(_m.id < before_id)
        rows = await conn.execute(query.limit(limit))
        return [MatchRecord(*row) for row in rows]
    query = _matches_query(f, postgresql=postgresql)
    order_key = _m.id if postgresql or not any(len(w) >= TRIGRAM for w in f.words) else None
    if order_key is None:  # FTS5 walks its index by rowid: order and bound on the rowid
        if before_id is not None:
            query = query.where(_fts_rowid < before_id)
        query = query.order_by(_fts_rowid.desc())
    else:
        if before_id is not None:
            query = query.where(_m.id < before_id)
        query = query.order_by(_m.id.desc())
    rows = await conn.execute(query.limit(limit))
    return [MatchRecord(*row) for row in rows]


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
        pattern = _like_pattern(word)
        query = query.where(
            _m.body.ilike(pattern, escape="\\")
            if postgresql
            else _m.body.like(pattern, escape="\\")
        )
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
