"""One time authority (issue 17): on PostgreSQL every process's clock follows the database
server's, sampled at start and every `clock_sync_interval_s`; deadlines, their due checks and
event times all come from it, so processes whose own clocks disagree still agree on them."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from kefu.clock import FollowingClock, Sample
from kefu.storage import timers as timer_store
from kefu.storage.db import Database

log = structlog.get_logger(__name__)

# How long the first sample may take at start before the process goes on with its own clock.
FIRST_SAMPLE_WITHIN_S = 5.0
# A change of the offset beyond this between two samples is logged as a warning.
NOTABLE_STEP_S = 1.0


class ClockSync:
    def __init__(self, clock: FollowingClock, db: Database, *, interval_s: float) -> None:
        self._clock = clock
        self._db = db
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Take the first sample (before the timers first run), then keep following."""
        try:
            await asyncio.wait_for(self.sync(), FIRST_SAMPLE_WITHIN_S)
        except Exception:
            log.warning("clock: the database's time is unavailable; own clock until it is")
        self._task = asyncio.create_task(self._run(), name="clock-sync")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def sync(self) -> Sample:
        before = self._clock.sample
        async with timer_store.database_clock(self._db) as read:
            sample = await self._clock.resample(read)
        step = None if before is None else abs(sample.offset_s - before.offset_s)
        if step is None or step >= NOTABLE_STEP_S:
            log.info(
                "clock: following the database",
                offset_s=round(sample.offset_s, 3),
                uncertainty_s=round(sample.uncertainty_s, 4),
            )
        return sample

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await asyncio.wait_for(self.sync(), max(self._interval_s, 1.0))
            except Exception:  # an outage: keep the last sample, try again next time
                log.warning("clock: sampling the database's time failed", exc_info=True)
