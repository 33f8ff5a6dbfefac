"""Durable timers (CONV-3): deadlines are rows; every process looks for due rows each tick and
hands each to its use case (services/timers.py), which claims it, so a restart loses none and
timers due while the server was down fire at start. Also runs the queue sweep (ROUTE-2)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import structlog

from kefu import errors
from kefu.analytics import folds as analytics_folds
from kefu.files.domain import ORPHAN_SWEEP_EVERY
from kefu.files.service import sweep_orphans, sweep_unrecorded
from kefu.files.store import store_for
from kefu.offline import auto_assign as offline
from kefu.quality.jobs import advance_inspections
from kefu.services import timers
from kefu.services.context import Context
from kefu.services.routing import sweep_queues
from kefu.supervision import alerts

log = structlog.get_logger(__name__)
CLAIM_BATCH = 200


class Scheduler:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._task: asyncio.Task[None] | None = None
        self._files_swept_at: datetime | None = None
        self._folded_at: datetime | None = None
        self._shard = 0  # the file store's shard whose unrecorded files the next sweep looks at

    async def start(self) -> None:
        await self.tick()
        self._task = asyncio.create_task(self._run(), name="scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._ctx.settings.scheduler_interval_s)
            try:
                await self.tick()
            except errors.Unavailable as exc:  # the database is out: the next tick retries
                log.warning("scheduler tick skipped", error=exc.code, **exc.params)
            except Exception:  # the loop must survive one bad timer
                log.exception("scheduler tick failed")

    async def tick(self) -> int:
        """Handle every timer due now; returns how many were handled."""
        ctx = self._ctx
        handled = 0
        for timer in await timers.due_timers(ctx, limit=CLAIM_BATCH):
            handled += await timers.HANDLERS[timer.kind](ctx, timer)
        await sweep_queues(ctx)  # ROUTE-2: a drain lost with a dead process
        await offline.sweep_auto_assign(ctx)  # OFFL-4: while nobody is queued
        await advance_inspections(ctx)  # QA-2: running inspections, a bounded share each
        await alerts.evaluate_due(ctx)  # LIVE-2: each shop's due evaluation, once
        await self._sweep_files()
        await self._fold()
        return handled

    async def _fold(self) -> None:
        """DATA-1: fold changed conversations into the rollups, every FOLD_EVERY per process
        (a conversation in full flow is folded once for its many messages meanwhile; readers
        compute the unfolded ones raw, so the figures are current all the same)."""
        now = self._ctx.clock.now()
        if self._folded_at is not None and now - self._folded_at < analytics_folds.FOLD_EVERY:
            return
        self._folded_at = now
        # Only conversations quiet for a fold interval (analytics/folds.py `refresh`).
        await analytics_folds.refresh(self._ctx, quiet_for=analytics_folds.FOLD_EVERY)

    async def _sweep_files(self) -> None:
        """MSG-1: orphaned uploads, one bounded batch every ORPHAN_SWEEP_EVERY per process."""
        now = self._ctx.clock.now()
        if self._files_swept_at is not None and now - self._files_swept_at < ORPHAN_SWEEP_EVERY:
            return
        self._files_swept_at = now
        store = store_for(self._ctx.settings)
        await sweep_orphans(self._ctx, store)
        # One of the 256 shards a sweep: every file is looked at within about 43 hours.
        await sweep_unrecorded(self._ctx, store, f"{self._shard:02x}")
        self._shard = (self._shard + 1) % 256
