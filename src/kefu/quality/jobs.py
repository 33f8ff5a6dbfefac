"""Advancing inspections in the background (QA-2): each scheduler tick, in every process, gives
the running inspections a bounded share of work, chunk by chunk; each chunk is claimed by one
process only (storage/quality.py), so several processes share the work and a restart resumes
it. The share is bounded in chunks and in time, so that timers due in the same tick (CONV-3)
wait at most about `TICK_BUDGET` behind an inspection."""

from __future__ import annotations

from datetime import timedelta

from kefu.quality import service
from kefu.services.context import Context

JOBS_PER_TICK = 10
CHUNKS_PER_TICK = 25
TICK_BUDGET = timedelta(milliseconds=300)


async def advance_inspections(
    ctx: Context, *, chunks: int = CHUNKS_PER_TICK, within: timedelta = TICK_BUDGET
) -> int:
    """QA-2: chunks of the running inspections, oldest first, until `chunks` chunks or the
    time `within` (by the context's clock) are used; returns how many this process did."""
    done = 0
    deadline = ctx.clock.now() + within
    for inspection_id in await service.unfinished_inspections(ctx, limit=JOBS_PER_TICK):
        while done < chunks and ctx.clock.now() < deadline:
            if not await service.advance_inspection(ctx, inspection_id):
                break
            done += 1
    return done
