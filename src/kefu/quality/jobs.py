"""Advancing inspections in the background (QA-2): each scheduler tick, in every process, gives
the running inspections a bounded number of chunks; each chunk is claimed by one process only
(storage/quality.py), so several processes share the work and a restart resumes it."""

from __future__ import annotations

from kefu.quality import service
from kefu.services.context import Context

JOBS_PER_TICK = 10
CHUNKS_PER_TICK = 10


async def advance_inspections(
    ctx: Context, *, jobs: int = JOBS_PER_TICK, chunks: int = CHUNKS_PER_TICK
) -> int:
    """QA-2: up to `chunks` chunks of each of up to `jobs` running inspections; returns how
    many chunks this process inspected."""
    done = 0
    for inspection_id in await service.unfinished_inspections(ctx, limit=jobs):
        for _ in range(chunks):
            if not await service.advance_inspection(ctx, inspection_id):
                break
            done += 1
    return done
