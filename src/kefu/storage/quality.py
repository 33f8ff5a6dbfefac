"""What quality inspection reads and writes (QA-1, QA-2): rule versions, inspections as durable
jobs claimed like timers (FOR UPDATE SKIP LOCKED on PostgreSQL, SQLite's single writer), the
transcripts they read, their hits, and reviewers' false positives. Every query is scoped by
shop."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement

from kefu.storage import tables as t

_v = t.qa_rule_versions.c
_i = t.qa_inspections.c
_h = t.qa_hits.c
_fp = t.qa_false_positives.c
_c = t.conversations.c
_m = t.messages.c
_CHUNK = 500
RUNNING = "running"
DONE = "done"


@dataclass(frozen=True, slots=True)
class RuleVersionRow:
    applies_from: date
    rules: list[dict[str, Any]]
    created_at: datetime


async def rule_versions(conn: AsyncConnection, shop_id: int) -> list[RuleVersionRow]:
    rows = await conn.execute(
        select(_v.applies_from, _v.rules, _v.created_at)
        .where(_v.shop_id == shop_id)
        .order_by(_v.applies_from)
    )
    return [RuleVersionRow(r.applies_from, list(r.rules), r.created_at) for r in rows]


async def put_rule_version(
    conn: AsyncConnection,
    *,
    shop_id: int,
    applies_from: date,
    rules: list[dict[str, Any]],
    by: int,
    at: datetime,
) -> None:
    """The version applying from `applies_from`: a second change the same day replaces it."""
    changed = await conn.execute(
        update(t.qa_rule_versions)
        .where(_v.shop_id == shop_id, _v.applies_from == applies_from)
        .values(rules=rules, created_by=by, created_at=at)
    )
    if changed.rowcount == 0:
        await conn.execute(
            insert(t.qa_rule_versions).values(
                shop_id=shop_id,
                applies_from=applies_from,
                rules=rules,
                created_by=by,
                created_at=at,
            )
        )


@dataclass(frozen=True, slots=True)
class InspectionRecord:
    id: int
    shop_id: int
    created_by: int
    created_at: datetime
    first_day: date
    last_day: date
    starts_at: datetime
    ends_at: datetime
    group_ids: list[int]
    state: str
    total: int
    processed: int
    cursor: int
    finished_at: datetime | None


_INSPECTION = (
    _i.id,
    _i.shop_id,
    _i.created_by,
    _i.created_at,
    _i.first_day,
    _i.last_day,
    _i.starts_at,
    _i.ends_at,
    _i.group_ids,
    _i.state,
    _i.total,
    _i.processed,
    _i.cursor,
    _i.finished_at,
)


def _inspection(row: Any) -> InspectionRecord:
    values = list(row)
    values[8] = [int(g) for g in values[8]]
    return InspectionRecord(*values)


def _in_scope(
    shop_id: int, starts_at: datetime, ends_at: datetime, group_ids: Sequence[int]
) -> ColumnElement[bool]:
    """The conversations an inspection reads: started in its range, in its groups, assigned."""
    scope = and_(
        _c.shop_id == shop_id,
        _c.created_at >= starts_at,
        _c.created_at < ends_at,
        _c.agent_id.is_not(None),
        _c.assigned_at.is_not(None),
    )
    return and_(scope, _c.group_id.in_(list(group_ids))) if group_ids else scope


async def create_inspection(
    conn: AsyncConnection,
    *,
    shop_id: int,
    by: int,
    at: datetime,
    first_day: date,
    last_day: date,
    starts_at: datetime,
    ends_at: datetime,
    group_ids: Sequence[int],
) -> int:
    """A new running inspection with the number of conversations it will read."""
    total = await conn.scalar(
        select(func.count())
        .select_from(t.conversations)
        .where(_in_scope(shop_id, starts_at, ends_at, group_ids))
    )
    new_id = await conn.scalar(
        insert(t.qa_inspections)
        .values(
            shop_id=shop_id,
            created_by=by,
            created_at=at,
            first_day=first_day,
            last_day=last_day,
            starts_at=starts_at,
            ends_at=ends_at,
            group_ids=sorted(group_ids),
            state=DONE if not total else RUNNING,
            total=int(total or 0),
            processed=0,
            cursor=0,
            finished_at=at if not total else None,
        )
        .returning(_i.id)
    )
    return int(new_id or 0)


async def inspection(
    conn: AsyncConnection, shop_id: int, inspection_id: int
) -> InspectionRecord | None:
    row = (
        await conn.execute(
            select(*_INSPECTION).where(_i.id == inspection_id, _i.shop_id == shop_id)
        )
    ).first()
    return _inspection(row) if row is not None else None


async def inspections(conn: AsyncConnection, shop_id: int, *, limit: int) -> list[InspectionRecord]:
    rows = await conn.execute(
        select(*_INSPECTION).where(_i.shop_id == shop_id).order_by(_i.id.desc()).limit(limit)
    )
    return [_inspection(r) for r in rows]


async def unfinished(conn: AsyncConnection, *, limit: int) -> list[int]:
    """Running inspections of every shop, oldest first; a hint, each is claimed before use."""
    rows = await conn.scalars(select(_i.id).where(_i.state == RUNNING).order_by(_i.id).limit(limit))
    return [int(r) for r in rows]


async def claim(conn: AsyncConnection, inspection_id: int) -> InspectionRecord | None:
    """The inspection, locked until commit, if it still runs and no other process holds it."""
    query = select(*_INSPECTION).where(_i.id == inspection_id, _i.state == RUNNING)
    if conn.dialect.name != "sqlite":
        query = query.with_for_update(skip_locked=True)
    row = (await conn.execute(query)).first()
    return _inspection(row) if row is not None else None


async def advance(
    conn: AsyncConnection,
    inspection_id: int,
    *,
    cursor: int,
    processed: int,
    finished_at: datetime | None,
) -> None:
    values: dict[str, Any] = {"cursor": cursor, "processed": processed}
    if finished_at is not None:
        values |= {"state": DONE, "finished_at": finished_at}
    await conn.execute(update(t.qa_inspections).where(_i.id == inspection_id).values(**values))


@dataclass(frozen=True, slots=True)
class ConversationRow:
    id: int
    group_id: int | None
    agent_id: int
    created_at: datetime
    assigned_at: datetime
    ended_at: datetime | None


async def next_conversations(
    conn: AsyncConnection, job: InspectionRecord, *, limit: int
) -> list[ConversationRow]:
    """The job's next conversations after its cursor, in id order."""
    rows = await conn.execute(
        select(_c.id, _c.group_id, _c.agent_id, _c.created_at, _c.assigned_at, _c.ended_at)
        .where(
            _in_scope(job.shop_id, job.starts_at, job.ends_at, job.group_ids), _c.id > job.cursor
        )
        .order_by(_c.id)
        .limit(limit)
    )
    return [ConversationRow(*r) for r in rows]


@dataclass(frozen=True, slots=True)
class LineRow:
    conversation_id: int
    seq: int
    sender: str
    sender_id: int | None
    at: datetime
    body: str


async def transcript_lines(
    conn: AsyncConnection, shop_id: int, conversation_ids: Sequence[int]
) -> dict[int, list[LineRow]]:
    """What consumers and agents wrote in each conversation, in order (text bodies only)."""
    found: dict[int, list[LineRow]] = {}
    for i in range(0, len(conversation_ids), _CHUNK):
        rows = await conn.execute(
            select(
                _m.conversation_id, _m.seq, _m.sender, _m.sender_id, _m.created_at, _m.kind, _m.body
            )
            .where(
                _m.shop_id == shop_id,
                _m.conversation_id.in_(conversation_ids[i : i + _CHUNK]),
                _m.sender.in_(("consumer", "agent")),
            )
            .order_by(_m.conversation_id, _m.seq)
        )
        for r in rows:
            body = r.body if r.kind == "text" else ""
            found.setdefault(r.conversation_id, []).append(
                LineRow(r.conversation_id, r.seq, r.sender, r.sender_id, r.created_at, body)
            )
    return found


async def add_hits(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(t.qa_hits), list(rows))


def _is_false_positive() -> ColumnElement[bool]:
    return (
        select(_fp.conversation_id)
        .where(
            _fp.conversation_id == _h.conversation_id,
            _fp.rule_key == _h.rule_key,
            _fp.seq == func.coalesce(_h.seq, 0),
        )
        .exists()
    )


@dataclass(frozen=True, slots=True)
class HitCountRow:
    agent_id: int
    rule_key: str
    polarity: str
    is_false_positive: bool
    count: int


async def hit_counts(conn: AsyncConnection, shop_id: int, inspection_id: int) -> list[HitCountRow]:
    """Each agent's hits per rule, false positives apart."""
    marked = t.qa_hits.outerjoin(
        t.qa_false_positives,
        and_(
            _fp.conversation_id == _h.conversation_id,
            _fp.rule_key == _h.rule_key,
            _fp.seq == func.coalesce(_h.seq, 0),
        ),
    )
    flag = _fp.conversation_id.is_not(None)
    rows = await conn.execute(
        select(_h.agent_id, _h.rule_key, _h.polarity, flag, func.count())
        .select_from(marked)
        .where(_h.shop_id == shop_id, _h.inspection_id == inspection_id)
        .group_by(_h.agent_id, _h.rule_key, _h.polarity, flag)
    )
    return [HitCountRow(r[0], r[1], r[2], bool(r[3]), int(r[4])) for r in rows]


@dataclass(frozen=True, slots=True)
class HitRow:
    id: int
    inspection_id: int
    conversation_id: int
    agent_id: int
    rule_key: str
    polarity: str
    seq: int | None
    at: datetime
    is_false_positive: bool


def _hit_columns() -> tuple[Any, ...]:
    return (
        _h.id,
        _h.inspection_id,
        _h.conversation_id,
        _h.agent_id,
        _h.rule_key,
        _h.polarity,
        _h.seq,
        _h.at,
        _is_false_positive().label("fp"),
    )


def _hit_row(r: Any) -> HitRow:
    return HitRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8]))


async def hits(
    conn: AsyncConnection,
    shop_id: int,
    inspection_id: int,
    *,
    agent_id: int | None,
    rule_key: str | None,
    offset: int,
    limit: int,
) -> tuple[list[HitRow], int]:
    """One page of the inspection's hits (by agent and rule when given) and how many match."""
    where = [_h.shop_id == shop_id, _h.inspection_id == inspection_id]
    if agent_id is not None:
        where.append(_h.agent_id == agent_id)
    if rule_key is not None:
        where.append(_h.rule_key == rule_key)
    total = await conn.scalar(select(func.count()).select_from(t.qa_hits).where(*where))
    rows = await conn.execute(
        select(*_hit_columns()).where(*where).order_by(_h.id).offset(offset).limit(limit)
    )
    return [_hit_row(r) for r in rows], int(total or 0)


async def hit(conn: AsyncConnection, shop_id: int, hit_id: int) -> HitRow | None:
    row = (
        await conn.execute(select(*_hit_columns()).where(_h.id == hit_id, _h.shop_id == shop_id))
    ).first()
    return _hit_row(row) if row is not None else None


async def set_false_positive(
    conn: AsyncConnection,
    hit_row: HitRow,
    *,
    shop_id: int,
    is_false_positive: bool,
    by: int,
    at: datetime,
) -> None:
    """QA-2: keep (or drop) the mark by conversation, rule and message, for re-runs too."""
    key = and_(
        _fp.conversation_id == hit_row.conversation_id,
        _fp.rule_key == hit_row.rule_key,
        _fp.seq == (hit_row.seq or 0),
    )
    await conn.execute(delete(t.qa_false_positives).where(key))
    if is_false_positive:
        await conn.execute(
            insert(t.qa_false_positives).values(
                conversation_id=hit_row.conversation_id,
                rule_key=hit_row.rule_key,
                seq=hit_row.seq or 0,
                shop_id=shop_id,
                marked_by=by,
                marked_at=at,
            )
        )


@dataclass(frozen=True, slots=True)
class ContextLine:
    seq: int
    sender: str
    sender_id: int | None
    kind: str
    body: str
    at: datetime


async def context_lines(
    conn: AsyncConnection, shop_id: int, conversation_id: int, *, seqs: Iterable[int]
) -> list[ContextLine]:
    """The conversation's messages with these sequence numbers, in order."""
    rows = await conn.execute(
        select(_m.seq, _m.sender, _m.sender_id, _m.kind, _m.body, _m.created_at)
        .where(
            _m.shop_id == shop_id,
            _m.conversation_id == conversation_id,
            _m.seq.in_(list(seqs)),
        )
        .order_by(_m.seq)
    )
    return [ContextLine(*r) for r in rows]
