"""Durable deadlines (CONV-3): one row per conversation and kind. Every process reads the due
rows; the one that claims a row (FOR UPDATE SKIP LOCKED on PostgreSQL, SQLite's single
writer) handles it, so several processes share timers and a restart loses none.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.storage import tables as t
from kefu.storage.db import Database


@dataclass(frozen=True, slots=True)
class DueTimer:
    id: int
    shop_id: int
    conversation_id: int
    kind: str


_tm = t.timers.c
_COLUMNS = (_tm.id, _tm.shop_id, _tm.conversation_id, _tm.kind)


async def set_timer(
    conn: AsyncConnection, *, shop_id: int, conversation_id: int, kind: str, due_at: datetime
) -> None:
    """Set (or move) the conversation's deadline of this kind."""
    changed = await conn.execute(
        update(t.timers)
        .where(_tm.conversation_id == conversation_id, _tm.kind == kind)
        .values(due_at=due_at, fired_at=None)
    )
    if changed.rowcount == 0:
        await conn.execute(
            insert(t.timers).values(
                shop_id=shop_id, conversation_id=conversation_id, kind=kind, due_at=due_at
            )
        )


async def due(conn: AsyncConnection, now: datetime, *, limit: int) -> list[DueTimer]:
    """Unfired timers due by `now`, earliest first; a hint, each is claimed before use."""
    rows = await conn.execute(
        select(*_COLUMNS)
        .where(_tm.fired_at.is_(None), _tm.due_at <= now)
        .order_by(_tm.due_at)
        .limit(limit)
    )
    return [DueTimer(*r) for r in rows]


async def claim(conn: AsyncConnection, timer_id: int, now: datetime) -> DueTimer | None:
    """The timer, locked until commit, if it is still due and no other process holds it."""
    query = select(*_COLUMNS).where(_tm.id == timer_id, _tm.fired_at.is_(None), _tm.due_at <= now)
    if conn.dialect.name != "sqlite":
        query = query.with_for_update(skip_locked=True)
    row = (await conn.execute(query)).first()
    return DueTimer(*row) if row is not None else None


async def settle(
    conn: AsyncConnection, timer_id: int, *, now: datetime, next_due_at: datetime | None
) -> None:
    """Mark the timer fired, or move it to its next deadline."""
    values = {"fired_at": now} if next_due_at is None else {"due_at": next_due_at}
    await conn.execute(update(t.timers).where(_tm.id == timer_id).values(**values))


@asynccontextmanager
async def database_clock(db: Database) -> AsyncIterator[Callable[[], Awaitable[datetime]]]:
    """Issue 17: a reader of the database server's clock (`clock_timestamp()`), the one time
    of every process on PostgreSQL. Each read is one round trip on a connection held open
    meanwhile, so that the round trip measures little besides the network."""
    async with db.read() as tx:
        conn = tx.conn
        await conn.execute(select(1))  # the transaction's BEGIN, before any timed read

        async def read() -> datetime:
            value = await conn.scalar(select(func.clock_timestamp()))
            assert isinstance(value, datetime)
            return value.astimezone(UTC)

        yield read
