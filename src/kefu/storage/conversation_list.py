"""The conversation list's SQL (DATA-5): a shop's conversations newest first, filtered by
agent, group, consumer, rating source, the best rating's stars and start time, within what the
viewer may open; and each listed conversation's ratings and summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.storage import tables as t

_c, _p, _r, _u = t.conversations.c, t.participants.c, t.ratings.c, t.consumers.c
_a, _g, _s = t.accounts.c, t.groups.c, t.conversation_summaries.c
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class ListFilters:
    """What the list keeps. `viewer_id` None: the whole shop; else the conversations the viewer
    took part in, or of `viewer_group_id`. `stars` (inclusive range) judges the best rating;
    `unrated` keeps only conversations without a rating."""

    shop_id: int
    agent_id: int | None = None
    group_id: int | None = None
    consumer_id: int | None = None
    rating_source: str | None = None
    stars: tuple[int, int] | None = None
    unrated: bool = False
    since: datetime | None = None
    until: datetime | None = None
    viewer_id: int | None = None
    viewer_group_id: int | None = None


@dataclass(frozen=True, slots=True)
class ListedRow:
    id: int
    state: str
    created_at: datetime
    ended_at: datetime | None
    consumer_id: int
    consumer_uid: str
    consumer_nickname: str
    agent_id: int | None
    agent_name: str | None
    group_id: int | None
    group_name: str | None


@dataclass(frozen=True, slots=True)
class RatingRow:
    conversation_id: int
    stars: int
    source: str
    agent_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class SummaryRow:
    conversation_id: int
    path: list[str]
    note: str
    agent_id: int
    at: datetime


def _conditions(f: ListFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [_c.shop_id == f.shop_id]
    if f.viewer_id is not None:
        took_part = _c.id.in_(select(_p.conversation_id).where(_p.account_id == f.viewer_id))
        conditions.append(
            or_(_c.group_id == f.viewer_group_id, took_part)
            if f.viewer_group_id is not None
            else took_part
        )
    if f.agent_id is not None:
        conditions.append(
            _c.id.in_(
                select(_p.conversation_id).where(
                    _p.account_id == f.agent_id, _p.shop_id == f.shop_id
                )
            )
        )
    if f.group_id is not None:
        conditions.append(_c.group_id == f.group_id)
    if f.consumer_id is not None:
        conditions.append(_c.consumer_id == f.consumer_id)
    if f.since is not None:
        conditions.append(_c.created_at >= f.since)
    if f.until is not None:
        conditions.append(_c.created_at < f.until)
    rated = select(_r.id).where(_r.conversation_id == _c.id)
    if f.rating_source is not None:
        conditions.append(exists(rated.where(_r.source == f.rating_source)))
    if f.unrated:
        conditions.append(~exists(rated))
    if f.stars is not None:
        best = select(func.max(_r.stars)).where(_r.conversation_id == _c.id).scalar_subquery()
        conditions.append(best.between(*f.stars))
    return conditions


async def page(
    conn: AsyncConnection, f: ListFilters, *, before_id: int | None, limit: int
) -> list[ListedRow]:
    """Up to `limit` conversations, newest (highest id) first, below `before_id`."""
    conditions = _conditions(f)
    if before_id is not None:
        conditions.append(_c.id < before_id)
    rows = await conn.execute(
        select(
            _c.id,
            _c.state,
            _c.created_at,
            _c.ended_at,
            _c.consumer_id,
            _u.uid,
            _u.nickname,
            _c.agent_id,
            _a.display_name,
            _c.group_id,
            _g.name.label("group_name"),
        )
        .select_from(
            t.conversations.join(t.consumers, _u.id == _c.consumer_id)
            .outerjoin(t.accounts, _a.id == _c.agent_id)
            .outerjoin(t.groups, _g.id == _c.group_id)
        )
        .where(*conditions)
        .order_by(_c.id.desc())
        .limit(limit)
    )
    return [
        ListedRow(
            r.id,
            r.state,
            r.created_at,
            r.ended_at,
            r.consumer_id,
            r.uid,
            r.nickname,
            r.agent_id,
            r.display_name,
            r.group_id,
            r.group_name,
        )
        for r in rows
    ]


async def ratings(conn: AsyncConnection, shop_id: int, ids: Sequence[int]) -> list[RatingRow]:
    """Every rating of these conversations (RATE-2 keeps them all), oldest first."""
    found: list[RatingRow] = []
    for chunk in _chunks(ids):
        rows = await conn.execute(
            select(_r.conversation_id, _r.stars, _r.source, _r.agent_id, _r.at)
            .where(_r.shop_id == shop_id, _r.conversation_id.in_(chunk))
            .order_by(_r.at, _r.id)
        )
        found += [RatingRow(r.conversation_id, r.stars, r.source, r.agent_id, r.at) for r in rows]
    return found


async def summaries(conn: AsyncConnection, shop_id: int, ids: Sequence[int]) -> list[SummaryRow]:
    """The consultation summaries (CONV-10) of these conversations."""
    found: list[SummaryRow] = []
    for chunk in _chunks(ids):
        rows = await conn.execute(
            select(_s.conversation_id, _s.path, _s.note, _s.agent_id, _s.at).where(
                _s.shop_id == shop_id, _s.conversation_id.in_(chunk)
            )
        )
        found += [
            SummaryRow(r.conversation_id, list(r.path), r.note, r.agent_id, r.at) for r in rows
        ]
    return found


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    unique = sorted(set(ids))
    return [unique[i : i + _CHUNK] for i in range(0, len(unique), _CHUNK)]
