"""Keeping the analytics rollups current (DATA-1, DATA-2, DATA-3).

The use cases that change a conversation mark it dirty in their own transaction (storage
rollups.mark_dirty). The scheduler's tick marks the conversations whose part changed with time
alone, then folds a batch of dirty ones: it reads their marks and raw facts, computes their
parts with the pure rules (analytics/rollups.py over metrics.py), then in one short transaction
claims the marks still unchanged, subtracts their stored parts from the rollups and adds the
new ones. `kefu analytics rebuild`
empties a shop's rollups, marks all its conversations and folds them batch by batch; readers
meanwhile compute every dirty conversation raw, so the figures stay right throughout."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from kefu import errors
from kefu.analytics.facts import facts_by_id
from kefu.analytics.rollups import Part, deltas, parts_of
from kefu.services.context import Context
from kefu.storage import rollups as rollup_store
from kefu.storage import shops as shop_store

FOLD_BATCH = 500
FOLD_EVERY = timedelta(seconds=5)  # the scheduler's folds, at most
REBUILD_BATCH = 2000
MAX_BATCHES = 10  # per fold of the scheduler


async def refresh(
    ctx: Context, *, limit: int = FOLD_BATCH, quiet_for: timedelta | None = None
) -> int:
    """The scheduler's step: mark what went stale with time, fold a batch; returns how many.
    An idle shop costs one read (no write lock taken on SQLite).

    `quiet_for` (the scheduler's): fold only conversations without a message for that long. A
    conversation in full flow changes its mark while its facts are read, so that fold would
    claim nothing and the next would read the whole, longer conversation again: under steady
    traffic the folds' CPU grew to seconds each, all of it on the event loop (issue 16: the
    gateway's p99). Readers compute marked conversations raw, so the figures stay current."""
    async with ctx.db.read() as tx:
        if not await rollup_store.pending(tx.conn, ctx.clock.now()):
            return 0
    async with ctx.db.uow() as tx:
        await rollup_store.mark_stale(tx.conn, ctx.clock.now(), limit=limit)
        await tx.commit()
    await settle_zones(ctx)
    folded = 0
    quiet_since = ctx.clock.now() - quiet_for if quiet_for is not None else None
    for _ in range(MAX_BATCHES):  # a burst is caught up within a few ticks, never starves one
        batch = await fold_dirty(ctx, limit=limit, quiet_since=quiet_since)
        folded += batch
        if batch < limit:
            break
    return folded


async def settle_zones(ctx: Context) -> None:
    """Resets the rollups of shops with marked conversations whose rollups are not in the
    shop's time zone (a new shop, or its zone changed), each in a transaction of its own."""
    async with ctx.db.read() as tx:
        off = []
        for shop in await rollup_store.dirty_shops(tx.conn):
            settings = await shop_store.shop_settings(tx.conn, shop)
            if await rollup_store.zone(tx.conn, shop) != settings.time_zone:
                off.append((shop, settings.time_zone))
    for shop, time_zone in off:
        async with ctx.db.uow() as tx:
            await rollup_store.reset_shop(tx.conn, shop, time_zone)
            await tx.commit()


async def fold_dirty(
    ctx: Context,
    *,
    limit: int = FOLD_BATCH,
    shop_id: int | None = None,
    quiet_since: datetime | None = None,
) -> int:
    """Folds up to `limit` dirty conversations (of one shop if given; without a message since
    `quiet_since` if given); returns how many.

    The marks and the facts are read, and the new parts computed, in a read transaction; the
    write transaction that claims the marks and applies the parts is short (on SQLite the
    messages' writer waits for it: reading a long conversation's facts under the write lock
    held every send for as long). A mark that changed meanwhile is left for the next fold."""
    now = ctx.clock.now()
    folds: list[_ShopFold] = []
    async with ctx.db.read() as tx:
        read = await rollup_store.marks(
            tx.conn, limit=limit, shop_id=shop_id, quiet_since=quiet_since
        )
        by_shop: dict[int, list[rollup_store.Mark]] = defaultdict(list)
        for mark in read:
            by_shop[mark.shop_id].append(mark)
        for shop, shop_marks in by_shop.items():
            settings = await shop_store.shop_settings(tx.conn, shop)
            if await rollup_store.zone(tx.conn, shop) != settings.time_zone:
                continue  # not in the shop's zone yet: left for after settle_zones resets it
            ids = [m.conversation_id for m in shop_marks]
            tz = ZoneInfo(settings.time_zone)
            facts = await facts_by_id(tx.conn, shop, ids)
            new = [part for f in facts for part in parts_of(f, tz=tz, now=now)]
            folds.append(_ShopFold(shop, settings.time_zone, shop_marks, new))
    if not folds:
        return 0
    folded = 0
    async with ctx.db.uow() as tx:
        for fold in folds:
            if await rollup_store.zone(tx.conn, fold.shop_id) != fold.zone:
                continue  # the shop was reset meanwhile (a zone change, a rebuild)
            claimed = await rollup_store.claim_marks(tx.conn, fold.marks)
            ids = [m.conversation_id for m in fold.marks if m.conversation_id in claimed]
            new = [p for p in fold.parts if p.conversation_id in claimed]
            old = await rollup_store.stored_parts(tx.conn, ids)
            await rollup_store.add_to_rollups(tx.conn, fold.shop_id, deltas(old, new))
            await rollup_store.replace_parts(tx.conn, fold.shop_id, ids, new)
            folded += len(ids)
        await tx.commit()
    return folded


@dataclass(frozen=True, slots=True)
class _ShopFold:
    """A shop's marks as read, and the parts computed for them in the shop's zone."""

    shop_id: int
    zone: str
    marks: list[rollup_store.Mark]
    parts: list[Part]


async def rebuild(
    ctx: Context, shop_id: int, *, progress: Callable[[int, int], None] | None = None
) -> int:
    """Recomputes a shop's rollups from its raw events; returns the conversations folded."""
    async with ctx.db.uow() as tx:
        if await shop_store.shop(tx.conn, shop_id) is None:
            raise errors.NotFound(kind="shop", id=shop_id)
        settings = await shop_store.shop_settings(tx.conn, shop_id)
        total = await rollup_store.reset_shop(tx.conn, shop_id, settings.time_zone, force=True)
        await tx.commit()
    assert total is not None  # forced
    done = 0
    if progress is not None:
        progress(done, total)
    while folded := await fold_dirty(ctx, limit=REBUILD_BATCH, shop_id=shop_id):
        done += folded
        if progress is not None:
            progress(done, total)
    return done
