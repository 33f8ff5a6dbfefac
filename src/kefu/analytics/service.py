"""Analytics use cases (DATA-1, DATA-2, DATA-3): load a period's conversation facts, compute the
figures with the pure rules of metrics.py, and shape them with the previous period beside them
and a trend by day. Owners and supervisors see the shop; a group leader sees the agents of
their own group (ACCT-5); agents see none."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kefu import errors
from kefu.analytics import rollups
from kefu.analytics.facts import facts_by_id, facts_of
from kefu.analytics.intents import (
    DEFAULT_TAXONOMY,
    classify,
    intent_table,
    parse_taxonomy,
    top_by_contribution,
    top_by_volume,
)
from kefu.analytics.metrics import (
    Assessment,
    ConversationFacts,
    ServiceFigures,
    Tally,
    agent_figures,
    assessment,
    shop_figures,
    tally,
)
from kefu.analytics.periods import (
    MAX_AGENT_DAYS,
    MAX_INTENT_DAYS,
    Period,
    PeriodKind,
    local_day,
    period_of,
)
from kefu.analytics.targets import DEFAULT_PRESET, PRESETS, Target, evaluate, parse_targets
from kefu.domain.permissions import Feature
from kefu.domain.presence import Role
from kefu.services import shops
from kefu.services.access import require_supervising
from kefu.services.context import Context, Staff
from kefu.services.permissions import require_permission
from kefu.storage import accounts as account_store
from kefu.storage import analytics as store
from kefu.storage import rollups as rollup_store
from kefu.storage import shops as shop_store

RATES = ("pickup_rate", "abandonment_rate", "rate_30s", "rate_60s", "satisfaction_rate")
AGENT_RATES = ("rate_30s", "rate_60s", "satisfaction_rate", "rating_rate")
ASSESSMENT_RATES = ("non_service_rate", "first_reply_rate_2min", "human_reply_rate_3min")


async def dashboard(
    ctx: Context,
    staff: Staff,
    *,
    kind: PeriodKind,
    first: date | None = None,
    last: date | None = None,
) -> dict[str, Any]:
    """DATA-1 and DATA-3 for the period and the one before it, with a trend by day."""
    _require_shop_view(staff)
    return await shop_dashboard(ctx, staff.shop_id, kind=kind, first=first, last=last)


async def shop_dashboard(
    ctx: Context,
    shop_id: int,
    *,
    kind: PeriodKind,
    first: date | None = None,
    last: date | None = None,
    raw: bool = False,
) -> dict[str, Any]:
    """The dashboard of a shop, for its staff (above) and its operator (`kefu report`): from
    the rollups, or from the raw events with `raw` (the same figures; used to check them)."""
    period, tz = await _period(ctx, shop_id, kind, first, last, max_days=None)
    now = ctx.clock.now()
    previous = period.previous()
    tallies = None if raw else await rollup_tallies(ctx, shop_id, tz, previous, period, now)
    if tallies is None:
        days = await _raw_days(ctx, shop_id, tz, previous, period, now)
    else:
        days = rollups.by_day(tallies, tz)
    trend = []
    for n in range(period.days):
        day = period.first + timedelta(days=n)
        trend.append({"date": day.isoformat(), **tally_view(days.get(day, rollups.ZERO))})
    return {
        "period": period_view(period),
        "current": tally_view(_sum_days(days, period)),
        "previous": tally_view(_sum_days(days, previous)),
        "trend": trend,
    }


async def _raw_days(
    ctx: Context, shop_id: int, tz: ZoneInfo, first: Period, last: Period, now: datetime
) -> dict[date, Tally]:
    facts = await load_facts(ctx, shop_id, first) + await load_facts(ctx, shop_id, last)
    by_day: dict[date, list[ConversationFacts]] = defaultdict(list)
    for f in facts:
        by_day[local_day(f.started_at, tz)].append(f)
    return {day: tally(found, tz=tz, now=now) for day, found in by_day.items()}


def _sum_days(days: dict[date, Tally], period: Period) -> Tally:
    total = rollups.ZERO
    for day, counts in days.items():
        if period.first <= day <= period.last:
            total += counts
    return total


async def rollup_tallies(
    ctx: Context,
    shop_id: int,
    tz: ZoneInfo,
    first: Period,
    last: Period,
    now: datetime,
    *,
    agents: bool = False,
) -> dict[rollups.Key, Tally] | None:
    """The rollups from `first` to `last` (the shop's by hour, or with `agents` each agent's
    summed), corrected for the conversations whose part is dirty or stale, computed raw; None
    when the shop's rollups are not in its time zone (not folded yet, or the zone changed)."""
    starts_at, ends_at = first.starts_at, last.ends_at
    async with ctx.db.read() as tx:
        await rollup_store.consistent_snapshot(tx.conn)
        if await rollup_store.zone(tx.conn, shop_id) != tz.key:
            return None
        if agents:
            found = await rollup_store.agent_rollups(tx.conn, shop_id, starts_at, ends_at)
        else:
            found = await rollup_store.shop_rollups(tx.conn, shop_id, starts_at, ends_at)
        ids = await rollup_store.unsettled_ids(tx.conn, shop_id, starts_at, ends_at, now)
        stored = await rollup_store.stored_parts(tx.conn, ids)
        facts = await facts_by_id(tx.conn, shop_id, ids)
    fresh = [part for f in facts for part in rollups.parts_of(f, tz=tz, now=now)]
    if agents:
        stored = [p for p in stored if p.agent_id != rollups.SHOP]
        fresh = [p for p in fresh if p.agent_id != rollups.SHOP]
    else:
        stored = [p for p in stored if p.agent_id == rollups.SHOP]
        fresh = [p for p in fresh if p.agent_id == rollups.SHOP]
    return rollups.corrected(found, stored, fresh)


async def agent_analysis(
    ctx: Context,
    staff: Staff,
    *,
    kind: PeriodKind,
    first: date | None = None,
    last: date | None = None,
) -> dict[str, Any]:
    """DATA-2: each agent's figures over the period (a custom range of at most 30 days)."""
    require_supervising(staff)
    require_permission(staff, Feature.ANALYTICS)
    return await shop_agents(ctx, staff, kind=kind, first=first, last=last)


async def shop_agents(
    ctx: Context,
    staff: Staff,
    *,
    kind: PeriodKind,
    first: date | None = None,
    last: date | None = None,
    raw: bool = False,
) -> dict[str, Any]:
    """DATA-2 from the rollups, or from the raw events with `raw` (the same figures)."""
    period, tz = await _period(ctx, staff.shop_id, kind, first, last, max_days=MAX_AGENT_DAYS)
    now = ctx.clock.now()
    tallies = None
    if not raw:
        tallies = await rollup_tallies(ctx, staff.shop_id, tz, period, period, now, agents=True)
    per_agent = rollups.by_agent(tallies) if tallies is not None else None
    facts = await load_facts(ctx, staff.shop_id, period) if per_agent is None else []
    async with ctx.db.read() as tx:
        accounts = await account_store.loaded_accounts(tx.conn, shop_id=staff.shop_id)
    rows = []
    for loaded in accounts:
        account = loaded.account
        if staff.role is Role.LEADER and account.group_id != staff.group_id:
            continue
        if per_agent is None:
            figures = agent_figures(facts, agent_id=account.id, tz=tz, now=now)
        else:
            figures = per_agent.get(account.id, rollups.ZERO).figures()
        rows.append(
            {
                "agent_id": account.id,
                "display_name": account.display_name,
                "group_id": account.group_id,
                **_figures_view(figures, AGENT_RATES),
            }
        )
    return {"period": period_view(period), "agents": rows}


async def load_facts(ctx: Context, shop_id: int, period: Period) -> list[ConversationFacts]:
    """The facts of the conversations started in the period, read in one transaction."""
    async with ctx.db.read() as tx:
        rows = await store.conversations_started(tx.conn, shop_id, period.starts_at, period.ends_at)
        return await facts_of(tx.conn, rows)


def shop_view(facts: Sequence[ConversationFacts], *, tz: ZoneInfo, now: datetime) -> dict[str, Any]:
    figures = shop_figures(facts, tz=tz, now=now)
    return {
        **_figures_view(figures, RATES),
        **_assessment_view(assessment(facts, tz=tz, now=now)),
    }


def tally_view(counts: Tally) -> dict[str, Any]:
    """The same view as shop_view, of a tally (DATA-1, DATA-3)."""
    return {
        **_figures_view(counts.figures(), RATES),
        **_assessment_view(counts.assessment()),
    }


def period_view(period: Period) -> dict[str, Any]:
    previous = period.previous()
    return {
        "kind": period.kind.value,
        "first": period.first.isoformat(),
        "last": period.last.isoformat(),
        "previous_first": previous.first.isoformat(),
        "previous_last": previous.last.isoformat(),
        "time_zone": period.tz.key,
    }


def _figures_view(figures: ServiceFigures, rates: Sequence[str]) -> dict[str, Any]:
    return {**asdict(figures), **{name: getattr(figures, name) for name in rates}}


def _assessment_view(a: Assessment) -> dict[str, Any]:
    return {"assessment": {**asdict(a), **{name: getattr(a, name) for name in ASSESSMENT_RATES}}}


async def _period(
    ctx: Context,
    shop_id: int,
    kind: PeriodKind,
    first: date | None,
    last: date | None,
    *,
    max_days: int | None,
) -> tuple[Period, ZoneInfo]:
    async with ctx.db.read() as tx:
        if await shop_store.shop(tx.conn, shop_id) is None:
            raise errors.NotFound(kind="shop", id=shop_id)
        settings = await shop_store.shop_settings(tx.conn, shop_id)
    tz = ZoneInfo(settings.time_zone)
    today = local_day(ctx.clock.now(), tz)
    period = period_of(kind, tz=tz, today=today, first=first, last=last, max_days=max_days)
    return period, tz


def _require_shop_view(staff: Staff) -> None:
    """ACCT-5: the shop's figures are for its owner and supervisors with the analytics
    feature (ACCT-6); a leader sees their group in the agent analysis."""
    if staff.role not in (Role.OWNER, Role.SUPERVISOR):
        raise errors.Forbidden()
    require_permission(staff, Feature.ANALYTICS)


async def targets_view(ctx: Context, staff: Staff) -> dict[str, Any]:
    """DATA-4: the shop's targets and how the last 7 days (today included) meet them."""
    _require_shop_view(staff)
    async with ctx.db.read() as tx:
        settings = await shop_store.shop_settings(tx.conn, staff.shop_id)
    targets = current_targets(settings.kpi_preset, settings.kpi_targets)
    tz = ZoneInfo(settings.time_zone)
    today = local_day(ctx.clock.now(), tz)
    week = period_of(
        PeriodKind.CUSTOM, tz=tz, today=today, first=today - timedelta(days=6), last=today
    )
    now = ctx.clock.now()
    tallies = await rollup_tallies(ctx, staff.shop_id, tz, week, week, now)
    if tallies is None:
        figures = shop_view(await load_facts(ctx, staff.shop_id, week), tz=tz, now=now)
    else:
        figures = tally_view(_sum_days(rollups.by_day(tallies, tz), week))
    return {
        "preset": settings.kpi_preset,
        "edited": bool(settings.kpi_targets),
        "period": period_view(week),
        "results": [
            {
                "metric": r.target.metric,
                "comparison": r.target.comparison.value,
                "threshold": r.target.threshold,
                "value": r.value,
                "passed": r.passed,
                "gap": r.gap,
            }
            for r in evaluate(targets, figures)
        ],
    }


async def set_targets(
    ctx: Context, staff: Staff, *, preset: str, targets: Sequence[dict[str, Any]] | None
) -> dict[str, Any]:
    """DATA-4, SET-1: the owner picks a preset and may edit its targets (None: the preset's)."""
    if preset not in PRESETS:
        raise errors.BadInput("No such preset.", field="preset", choices=sorted(PRESETS))
    parsed = parse_targets(targets) if targets is not None else ()
    stored = tuple(
        {"metric": t.metric, "comparison": t.comparison.value, "threshold": t.threshold}
        for t in parsed
    )
    await shops.update_settings(ctx, staff, {"kpi_preset": preset, "kpi_targets": stored})
    return await targets_view(ctx, staff)


def current_targets(preset: str, edited: Sequence[dict[str, Any]]) -> tuple[Target, ...]:
    return parse_targets(edited) if edited else PRESETS.get(preset, PRESETS[DEFAULT_PRESET])


# Enough of what the consumer wrote to tell what they came for (DATA-6).
INTENT_TEXT_CHARS = 300


async def intents_view(
    ctx: Context,
    staff: Staff,
    *,
    kind: PeriodKind,
    first: date | None = None,
    last: date | None = None,
) -> dict[str, Any]:
    """DATA-6: conversations per intent, dissatisfaction and its contribution, top 10 by
    volume and by contribution, over a period of at most 31 days."""
    _require_shop_view(staff)
    period, _ = await _period(ctx, staff.shop_id, kind, first, last, max_days=MAX_INTENT_DAYS)
    facts = await load_facts(ctx, staff.shop_id, period)
    async with ctx.db.read() as tx:
        settings = await shop_store.shop_settings(tx.conn, staff.shop_id)
        texts = await store.consumer_texts(
            tx.conn, staff.shop_id, [f.conversation_id for f in facts], max_chars=INTENT_TEXT_CHARS
        )
    leaves = parse_taxonomy(settings.intent_taxonomy or DEFAULT_TAXONOMY)
    rows = intent_table(
        (
            classify(leaves, texts.get(f.conversation_id, ())),
            max(f.ratings.values(), default=None),
        )
        for f in facts
        if f.conversation_id in texts
    )
    return {
        "period": period_view(period),
        "conversations": sum(r.conversations for r in rows),
        "by_volume": [asdict(r) for r in top_by_volume(rows)],
        "by_contribution": [asdict(r) for r in top_by_contribution(rows)],
    }


async def taxonomy_view(ctx: Context, staff: Staff) -> dict[str, Any]:
    _require_shop_view(staff)
    async with ctx.db.read() as tx:
        settings = await shop_store.shop_settings(tx.conn, staff.shop_id)
    return {
        "edited": bool(settings.intent_taxonomy),
        "taxonomy": list(settings.intent_taxonomy or DEFAULT_TAXONOMY),
    }


async def set_taxonomy(
    ctx: Context, staff: Staff, taxonomy: Sequence[dict[str, Any]] | None
) -> dict[str, Any]:
    """DATA-6, SET-1: the owner edits the taxonomy (None restores the default)."""
    if taxonomy is not None:
        parse_taxonomy(taxonomy)
    stored = tuple(taxonomy or ())
    await shops.update_settings(ctx, staff, {"intent_taxonomy": stored})
    return await taxonomy_view(ctx, staff)
