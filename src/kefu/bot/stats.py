"""Bot statistics (BOT-3, BOT-6), computed from the bot's event rows for a range of whole days
(UTC until shops have time zones): consultations, transfers to human, answers, misses,
feedback and the two resolution rates, and clicks per FAQ item. Never from counters."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from kefu import errors
from kefu.bot.domain import MAX_STATS_DAYS, rate
from kefu.bot.entry import load_entry
from kefu.services.access import require_supervising
from kefu.services.context import Context, Staff
from kefu.storage import kb


def default_range(today: date) -> tuple[date, date]:
    """The last 7 days, today included."""
    return today - timedelta(days=6), today


async def bot_stats(ctx: Context, staff: Staff, *, start: date, end: date) -> dict[str, Any]:
    """BOT-3, BOT-6 over `start`..`end` inclusive (≤ 31 days); owners and supervisors."""
    require_supervising(staff)
    days = (end - start).days + 1
    if days < 1 or days > MAX_STATS_DAYS:
        raise errors.BadInput(
            "The range must run forward and span at most 31 days.",
            field="end",
            max_days=MAX_STATS_DAYS,
        )
    start_at = datetime.combine(start, time(0), UTC)
    end_at = datetime.combine(end + timedelta(days=1), time(0), UTC)
    async with ctx.db.read() as tx:
        counts = await kb.count_events(
            tx.conn, staff.shop_id, ("bot_answer", "bot_miss", "suggestion_click"), start_at, end_at
        )
        resolved, unresolved = await kb.feedback_counts(tx.conn, staff.shop_id, start_at, end_at)
        consulted = await kb.consultations_by_day(tx.conn, staff.shop_id, start_at, end_at)
        transfers = await kb.transfers_by_day(tx.conn, staff.shop_id, start_at, end_at)
        clicks = await kb.faq_clicks(tx.conn, staff.shop_id, start_at, end_at)
    entry = await load_entry(ctx, staff.shop_id)
    consultations, transferred = sum(consulted.values()), sum(transfers.values())
    answers = counts.get("bot_answer", 0)
    by_day = []
    for n in range(days):
        day = (start + timedelta(days=n)).isoformat()
        by_day.append(
            {
                "date": day,
                "consultations": consulted.get(day, 0),
                "transfers_to_human": transfers.get(day, 0),
            }
        )
    return {
        "consultations": consultations,
        "transfers_to_human": transferred,
        "transfer_rate": rate(transferred, consultations),
        "answers": answers,
        "misses": counts.get("bot_miss", 0),
        "suggestion_clicks": counts.get("suggestion_click", 0),
        "resolved": resolved,
        "unresolved": unresolved,
        "resolution_rate": rate(resolved, answers),
        "feedback_resolution_rate": rate(resolved, resolved + unresolved),
        "faq_clicks": [
            {"id": item.id, "title": item.title, "clicks": clicks.get(item.id, 0)}
            for item in entry.items()
        ],
        "by_day": by_day,
    }
