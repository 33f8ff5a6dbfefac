"""Keeping the analytics rollups current (DATA-1, DATA-2, DATA-3).

The use cases that change a conversation mark it dirty in their own transaction (storage
rollups.mark_dirty). The scheduler's tick marks the conversations whose part changed with time
alone, then folds a batch of dirty ones: in one transaction it claims them, reads their raw
facts, computes their parts with the pure rules (analytics/rollups.py over metrics.py),
subtracts their stored parts from the rollups and adds the new ones. `kefu analytics rebuild`
empties a shop's rollups, marks all its conversations and folds them batch by batch; readers
meanwhile compute every dirty conversation raw, so the figures stay right throughout."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

from kefu import errors
from kefu.analytics.facts import facts_by_id
from kefu.analytics.rollups import deltas, parts_of
from kefu.services.context import Context
from kefu.storage import rollups as rollup_store
from kefu.storage import shops as shop_store

FOLD_BATCH = 500
REBUILD_BATCH = 2000
MAX_BATCHES = 4  # per scheduler tick


async def refresh(ctx: Context, *, limit: int = FOLD_BATCH) -> int:
    """The scheduler's step: mark what went stale with time, fold a batch; returns how many.
    An idle shop costs one read (no write lock taken on SQLite)."""
    async with ctx.db.read() as tx:
        if not await rollup_store.pending(tx.conn, ctx.clock.now()):
            return 0
    async with ctx.db.uow() as tx:
        await rollup_store.mark_stale(tx.conn, ctx.clock.now(), limit=limit)
        await tx.commit()
    await settle_zones(ctx)
    folded = 0
    for _ in range(MAX_BATCHES):  # a burst is caught up within a few ticks, never starves one
        batch = await fold_dirty(ctx, limit=limit)
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


async def fold_dirty(ctx: Context, *, limit: int = FOLD_BATCH, shop_id: int | None = None) -> int:
    """Folds up to `limit` dirty conversations (of one shop if given); returns how many."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        claimed = await rollup_store.claim_dirty(tx.conn, limit=limit, shop_id=shop_id)
        folded = 0
        by_shop: dict[int, list[int]] = defaultdict(list)
        for shop, conversation_id in claimed:
            by_shop[shop].append(conversation_id)
        for shop, ids in by_shop.items():
            settings = await shop_store.shop_settings(tx.conn, shop)
            if await rollup_store.zone(tx.conn, shop) != settings.time_zone:
                # Not in the shop's zone yet: left for after settle_zones resets the shop.
                await rollup_store.mark_dirty(tx.conn, shop, ids)
                continue
            await _fold(tx.conn, shop, ZoneInfo(settings.time_zone), ids, now)
            folded += len(ids)
        await tx.commit()
    return folded


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


async def _fold(
    conn: AsyncConnection, shop_id: int, tz: ZoneInfo, ids: Sequence[int], now: datetime
) -> None:
    facts = await facts_by_id(conn, shop_id, ids)
    new = [part for f in facts for part in parts_of(f, tz=tz, now=now)]
    old = await rollup_store.stored_parts(conn, ids)
    await rollup_store.add_to_rollups(conn, shop_id, deltas(old, new))
    await rollup_store.replace_parts(conn, shop_id, ids, new)
