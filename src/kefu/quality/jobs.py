"""Advancing inspections in the background (QA-2): each scheduler tick, in every process, gives
the running inspections a bounded share of work, chunk by chunk; each chunk is claimed by one
process only (storage/quality.py), so several processes share the work and a restart resumes
it. The share is bounded in chunks and in time, so that timers due in the same tick (CONV-3)
wait at most about `TICK_BUDGET` behind an inspection."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kefu.analytics.periods import local_day
from kefu.quality import service
from kefu.quality.domain import (
    Line,
    RuleSet,
    RuleVersion,
    Speaker,
    Transcript,
    inspect,
    prepare,
    rules_in_force,
)
from kefu.services.context import Context
from kefu.storage import quality as store
from kefu.storage.quality import ConversationRow, InspectionRecord, LineRow

CHUNK = 200
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
    for inspection_id in await unfinished_inspections(ctx, limit=JOBS_PER_TICK):
        while done < chunks and ctx.clock.now() < deadline:
            if not await advance_inspection(ctx, inspection_id):
                break
            done += 1
    return done


async def advance_inspection(ctx: Context, inspection_id: int, *, chunk: int = CHUNK) -> bool:
    """QA-2: inspect the job's next `chunk` conversations, if this process claims it; the hits
    and the moved cursor commit together, so a restart neither loses nor repeats any. Returns
    whether there was work."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        job = await store.claim(tx.conn, inspection_id)
        if job is None:
            return False
        conversations = await store.next_conversations(tx.conn, job, limit=chunk)
        lines = await store.transcript_lines(tx.conn, job.shop_id, [c.id for c in conversations])
        tz = await service.shop_time_zone(tx.conn, job.shop_id)
        versions = await service.shop_rule_versions(tx.conn, job.shop_id)
        found = _hit_rows(job, conversations, lines, tz=tz, versions=versions, now=now)
        await store.add_hits(tx.conn, found)
        is_finished = len(conversations) < chunk
        processed = min(job.processed + len(conversations), job.total)
        await store.advance(
            tx.conn,
            job.id,
            cursor=conversations[-1].id if conversations else job.cursor,
            processed=job.total if is_finished else processed,
            finished_at=now if is_finished else None,
        )
        await tx.commit()
    return True


def _hit_rows(
    job: InspectionRecord,
    conversations: list[ConversationRow],
    lines: dict[int, list[LineRow]],
    *,
    tz: ZoneInfo,
    versions: list[RuleVersion],
    now: datetime,
) -> list[dict[str, Any]]:
    """QA-1: each conversation inspected with the rules in force on its local day."""
    by_day: dict[date, RuleSet] = {}
    found: list[dict[str, Any]] = []
    for conversation in conversations:
        day = local_day(conversation.created_at, tz)
        if day not in by_day:
            by_day[day] = prepare(rules_in_force(versions, day))
        transcript = _transcript(conversation, lines.get(conversation.id, []), now)
        found += [
            {
                "shop_id": job.shop_id,
                "inspection_id": job.id,
                "conversation_id": h.conversation_id,
                "agent_id": h.agent_id,
                "rule_key": h.rule_key,
                "polarity": h.polarity.value,
                "seq": h.seq,
                "at": h.at,
            }
            for h in inspect(transcript, by_day[day])
        ]
    return found


def _transcript(conversation: ConversationRow, lines: list[LineRow], now: datetime) -> Transcript:
    return Transcript(
        conversation_id=conversation.id,
        group_id=conversation.group_id,
        agent_id=conversation.agent_id,
        assigned_at=conversation.assigned_at,
        until=conversation.ended_at or now,
        lines=tuple(Line(x.seq, Speaker(x.sender), x.at, x.body, _agent_of(x)) for x in lines),
    )


def _agent_of(line: LineRow) -> int | None:
    return line.sender_id if line.sender == Speaker.AGENT else None


async def unfinished_inspections(ctx: Context, *, limit: int) -> list[int]:
    """QA-2: running inspections of every shop, oldest first (each is claimed before use)."""
    async with ctx.db.read() as tx:
        return await store.unfinished(tx.conn, limit=limit)
