"""The analytics rollups' rows (DATA-1, DATA-2, DATA-3): hourly sums per shop and agent, each
conversation's part of them, and the outbox of conversations to fold (`analytics_dirty`).

Marking is an upsert that bumps the row's version: it holds the row lock until the change
commits. A folder reads the marks and the facts outside any write lock, then claims, in a short
transaction, only the marks whose version is still the one it read (`claim_marks`): a change
committed meanwhile leaves its mark for the next fold. A new mark's version starts anywhere
(`fresh_version`), so that a mark folded by another folder and made again never looks
unchanged."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, insert, or_, select, text
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.analytics.metrics import TALLY_FIELDS, Tally
from kefu.analytics.rollups import SHOP, Key, Part
from kefu.storage import tables as t

assert TALLY_FIELDS == t.ROLLUP_COUNTS, "the rollup columns are the tally's fields"

_d = t.analytics_dirty.c
_p = t.analytics_parts.c
_r = t.analytics_rollups.c
_z = t.analytics_zones.c
_CHUNK = 500
_VERSIONS = 1 << 30
# `fresh_version` in each engine's SQL, for the statements that mark in SQL of their own.
FRESH_VERSION_PG = f"floor(random() * {_VERSIONS})::int"
FRESH_VERSION_SQLITE = f"abs(random()) % {_VERSIONS}"


def fresh_version() -> int:
    return random.randrange(_VERSIONS)


def _fresh_version_sql(conn: AsyncConnection) -> str:
    return FRESH_VERSION_PG if conn.dialect.name == "postgresql" else FRESH_VERSION_SQLITE


def _insert(conn: AsyncConnection, table: Any) -> Any:
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)


async def mark_dirty(conn: AsyncConnection, shop_id: int, conversation_ids: Iterable[int]) -> None:
    """The conversations' facts changed: fold them again (in the transaction of the change)."""
    rows = [
        {"conversation_id": cid, "shop_id": shop_id, "version": fresh_version()}
        for cid in sorted(set(conversation_ids))
    ]
    if not rows:
        return
    stmt = _insert(conn, t.analytics_dirty)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[_d.conversation_id], set_={"version": _d.version + 1}
        ),
        rows,
    )


def dirty_from(conversations: Select[Any]) -> Insert:
    """PostgreSQL: the statement that marks dirty the conversations `conversations` selects
    (conversation id, shop id), as `mark_dirty` does, for a caller that writes it together
    with its own (storage/routing.py)."""
    d = pg_insert(t.analytics_dirty).from_select(
        ["conversation_id", "shop_id", "version"],
        conversations.add_columns(text(FRESH_VERSION_PG)),
    )
    return d.on_conflict_do_update(
        index_elements=[_d.conversation_id], set_={"version": _d.version + 1}
    )


async def mark_shop_dirty(conn: AsyncConnection, shop_id: int) -> int:
    """Every conversation of the shop is to be folded again (rebuild, time zone change); marks
    already there stay. Returns how many are marked."""
    c = t.conversations.c
    await conn.execute(
        _insert(conn, t.analytics_dirty)
        .from_select(
            ["conversation_id", "shop_id", "version"],
            select(c.id, c.shop_id, text(_fresh_version_sql(conn))).where(c.shop_id == shop_id),
        )
        .on_conflict_do_nothing()
    )
    return await dirty_count(conn, shop_id)


async def dirty_shops(conn: AsyncConnection) -> list[int]:
    rows = await conn.execute(select(_d.shop_id).distinct())
    return [int(r[0]) for r in rows]


@dataclass(frozen=True, slots=True)
class Mark:
    shop_id: int
    conversation_id: int
    version: int


async def marks(
    conn: AsyncConnection,
    *,
    limit: int,
    shop_id: int | None = None,
    quiet_since: datetime | None = None,
) -> list[Mark]:
    """Up to `limit` marked conversations (of one shop if given), read without a lock; with
    `quiet_since`, only those without a message since then."""
    query = select(_d.shop_id, _d.conversation_id, _d.version)
    if shop_id is not None:
        query = query.where(_d.shop_id == shop_id)
    if quiet_since is not None:
        c = t.conversations.c
        query = query.join(t.conversations, c.id == _d.conversation_id).where(
            or_(c.last_message_at.is_(None), c.last_message_at <= quiet_since)
        )
    rows = await conn.execute(query.order_by(_d.conversation_id).limit(limit))
    return [Mark(int(s), int(c), int(v)) for s, c, v in rows]


async def claim_marks(conn: AsyncConnection, read: Sequence[Mark]) -> set[int]:
    """Removes from the outbox, in this transaction, the marks that are still as `read` found
    them; returns their conversations. A mark changed since (its conversation changed again),
    or held by another folder (PostgreSQL: skipped, not waited for), stays."""
    versions = {m.conversation_id: m.version for m in read}
    held: set[int] = set()
    for chunk in _chunks(sorted(versions)):
        query = select(_d.conversation_id, _d.version).where(_d.conversation_id.in_(chunk))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        held |= {int(c) for c, v in await conn.execute(query) if versions[int(c)] == v}
    for chunk in _chunks(sorted(held)):
        await conn.execute(delete(t.analytics_dirty).where(_d.conversation_id.in_(chunk)))
    return held


async def dirty_count(conn: AsyncConnection, shop_id: int) -> int:
    query = select(func.count()).select_from(t.analytics_dirty).where(_d.shop_id == shop_id)
    return int(await conn.scalar(query) or 0)


async def pending(conn: AsyncConnection, now: datetime) -> bool:
    """Whether any conversation waits to be folded: marked, or its part stale by `now`."""
    if await conn.scalar(select(_d.conversation_id).limit(1)) is not None:
        return True
    stale = select(_p.conversation_id).where(_p.stale_at <= now).limit(1)
    return await conn.scalar(stale) is not None


async def mark_stale(conn: AsyncConnection, now: datetime, *, limit: int) -> int:
    """Marks conversations whose part changed with time alone since it was folded."""
    rows = await conn.execute(
        select(_p.shop_id, _p.conversation_id)
        .where(_p.agent_id == SHOP, _p.stale_at <= now)
        .order_by(_p.stale_at)
        .limit(limit)
    )
    by_shop: dict[int, list[int]] = {}
    for shop_id, conversation_id in rows:
        by_shop.setdefault(int(shop_id), []).append(int(conversation_id))
    for shop_id, ids in by_shop.items():
        await mark_dirty(conn, shop_id, ids)
    return sum(len(ids) for ids in by_shop.values())


async def unsettled_ids(
    conn: AsyncConnection, shop_id: int, starts_at: datetime, ends_at: datetime, now: datetime
) -> list[int]:
    """The conversations started in [starts_at, ends_at) whose folded part is not current:
    marked dirty, or stale by now."""
    c = t.conversations.c
    dirty = await conn.execute(
        select(_d.conversation_id)
        .join(t.conversations, c.id == _d.conversation_id)
        .where(_d.shop_id == shop_id, c.created_at >= starts_at, c.created_at < ends_at)
    )
    stale = await conn.execute(
        select(_p.conversation_id).where(
            _p.shop_id == shop_id,
            _p.stale_at <= now,
            _p.agent_id == SHOP,
            _p.bucket >= starts_at,
            _p.bucket < ends_at,
        )
    )
    return sorted({int(r[0]) for r in dirty} | {int(r[0]) for r in stale})


async def stored_parts(conn: AsyncConnection, conversation_ids: Sequence[int]) -> list[Part]:
    found: list[Part] = []
    for chunk in _chunks(conversation_ids):
        rows = await conn.execute(select(t.analytics_parts).where(_p.conversation_id.in_(chunk)))
        found += [
            Part(
                r.conversation_id,
                r.agent_id,
                r.bucket,
                Tally(*(int(getattr(r, n)) for n in TALLY_FIELDS)),
                r.stale_at,
            )
            for r in rows
        ]
    return found


async def replace_parts(
    conn: AsyncConnection, shop_id: int, conversation_ids: Sequence[int], parts: Sequence[Part]
) -> None:
    for chunk in _chunks(conversation_ids):
        await conn.execute(delete(t.analytics_parts).where(_p.conversation_id.in_(chunk)))
    await insert_parts(conn, shop_id, parts)


async def insert_parts(conn: AsyncConnection, shop_id: int, parts: Sequence[Part]) -> None:
    if parts:
        rows = [
            {
                "conversation_id": p.conversation_id,
                "agent_id": p.agent_id,
                "shop_id": shop_id,
                "bucket": p.bucket,
                "stale_at": p.stale_at,
                **dict(zip(TALLY_FIELDS, p.tally.counts(), strict=True)),
            }
            for p in parts
        ]
        await conn.execute(insert(t.analytics_parts), rows)


async def add_to_rollups(conn: AsyncConnection, shop_id: int, changes: Mapping[Key, Tally]) -> None:
    """Adds each change to its rollup row (created at zero when missing)."""
    if not changes:
        return
    rows = [
        {
            "shop_id": shop_id,
            "agent_id": agent_id,
            "bucket": bucket,
            **dict(zip(TALLY_FIELDS, change.counts(), strict=True)),
        }
        for (agent_id, bucket), change in sorted(changes.items())
    ]
    stmt = _insert(conn, t.analytics_rollups)
    upsert = stmt.on_conflict_do_update(
        index_elements=[_r.shop_id, _r.agent_id, _r.bucket],
        set_={name: _r[name] + stmt.excluded[name] for name in TALLY_FIELDS},
    )
    await conn.execute(upsert, rows)


async def shop_rollups(
    conn: AsyncConnection, shop_id: int, starts_at: datetime, ends_at: datetime
) -> dict[Key, Tally]:
    """The shop's own hourly rollups in [starts_at, ends_at)."""
    rows = await conn.execute(
        select(_r.bucket, *(_r[n] for n in TALLY_FIELDS)).where(
            _r.shop_id == shop_id,
            _r.agent_id == SHOP,
            _r.bucket >= starts_at,
            _r.bucket < ends_at,
        )
    )
    return {(SHOP, r[0]): Tally(*(int(v) for v in r[1:])) for r in rows}


async def agent_rollups(
    conn: AsyncConnection, shop_id: int, starts_at: datetime, ends_at: datetime
) -> dict[Key, Tally]:
    """Each agent's rollups summed over [starts_at, ends_at), keyed by (agent, starts_at)."""
    rows = await conn.execute(
        select(_r.agent_id, *(func.sum(_r[n]) for n in TALLY_FIELDS))
        .where(
            _r.shop_id == shop_id,
            _r.agent_id != SHOP,
            _r.bucket >= starts_at,
            _r.bucket < ends_at,
        )
        .group_by(_r.agent_id)
    )
    return {(int(r[0]), starts_at): Tally(*(int(v or 0) for v in r[1:])) for r in rows}


async def zone(conn: AsyncConnection, shop_id: int) -> str | None:
    """The time zone the shop's rollups are computed in (None: never folded)."""
    found = await conn.scalar(select(_z.time_zone).where(_z.shop_id == shop_id))
    return None if found is None else str(found)


async def reset_shop(
    conn: AsyncConnection, shop_id: int, time_zone: str, *, force: bool = False
) -> int | None:
    """When the shop's rollups are not in `time_zone` (or with `force`): records the zone,
    marks every conversation of the shop and empties its rollups and parts; returns how many
    are marked, or None when nothing was to do (another process did it meanwhile).

    The zone row's upsert comes first and serialises resets; folders never lock it, and the
    marks come before the deletes, so a folder still at work is waited for, never waits."""
    stmt = _insert(conn, t.analytics_zones).values(shop_id=shop_id, time_zone=time_zone)
    changed = stmt.excluded.time_zone != _z.time_zone
    upsert = stmt.on_conflict_do_update(
        index_elements=[_z.shop_id],
        set_={"time_zone": stmt.excluded.time_zone},
        where=None if force else changed,
    )
    if (await conn.execute(upsert.returning(_z.shop_id))).first() is None:
        return None
    marked = await mark_shop_dirty(conn, shop_id)
    if conn.dialect.name == "postgresql":  # in the order a folder's upserts take them
        await conn.execute(
            select(_r.agent_id)
            .where(_r.shop_id == shop_id)
            .order_by(_r.agent_id, _r.bucket)
            .with_for_update()
        )
    await conn.execute(delete(t.analytics_rollups).where(_r.shop_id == shop_id))
    # Through the shop's conversations: the parts are keyed by conversation.
    mine = select(t.conversations.c.id).where(t.conversations.c.shop_id == shop_id)
    await conn.execute(delete(t.analytics_parts).where(_p.conversation_id.in_(mine)))
    return marked


async def consistent_snapshot(conn: AsyncConnection) -> None:
    """Every read of this transaction sees the same snapshot (PostgreSQL reads each statement
    in its own under READ COMMITTED; a SQLite read transaction already has one)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]
