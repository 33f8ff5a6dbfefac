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
    Holding,
    Message,
    OfflineReason,
    Sender,
    ServiceFigures,
    agent_figures,
    assessment,
    shop_figures,
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
from kefu.domain.presence import Role
from kefu.services import shops
from kefu.services.access import require_supervising
from kefu.services.context import Context, Staff
from kefu.storage import accounts as account_store
from kefu.storage import analytics as store
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
) -> dict[str, Any]:
    """The dashboard of a shop, for its staff (above) and its operator (`kefu report`)."""
    period, tz = await _period(ctx, shop_id, kind, first, last, max_days=None)
    now = ctx.clock.now()
    current = await load_facts(ctx, shop_id, period)
    previous = await load_facts(ctx, shop_id, period.previous())
    by_day: dict[date, list[ConversationFacts]] = defaultdict(list)
    for facts in current:
        by_day[local_day(facts.started_at, tz)].append(facts)
    trend = []
    for n in range(period.days):
        day = period.first + timedelta(days=n)
        trend.append({"date": day.isoformat(), **shop_view(by_day[day], tz=tz, now=now)})
    return {
        "period": period_view(period),
        "current": shop_view(current, tz=tz, now=now),
        "previous": shop_view(previous, tz=tz, now=now),
        "trend": trend,
    }


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
    period, tz = await _period(ctx, staff.shop_id, kind, first, last, max_days=MAX_AGENT_DAYS)
    now = ctx.clock.now()
    facts = await load_facts(ctx, staff.shop_id, period)
    async with ctx.db.read() as tx:
        accounts = await account_store.loaded_accounts(tx.conn, shop_id=staff.shop_id)
    rows = []
    for loaded in accounts:
        account = loaded.account
        if staff.role is Role.LEADER and account.group_id != staff.group_id:
            continue
        figures = agent_figures(facts, agent_id=account.id, tz=tz, now=now)
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
        ids = [r.id for r in rows]
        events = await store.fact_events(tx.conn, shop_id, ids)
        messages = await store.human_messages(tx.conn, shop_id, ids)
    return build_facts(rows, events, messages)


def build_facts(
    rows: Sequence[store.ConversationRow],
    events: Sequence[store.EventRow],
    messages: Sequence[store.MessageRow],
) -> list[ConversationFacts]:
    holdings: dict[int, list[Holding]] = defaultdict(list)
    invited: dict[int, set[int]] = defaultdict(set)
    offline: dict[int, OfflineReason] = {}
    for e in events:
        if e.kind in ("assigned", "transferred") and e.agent_id is not None:
            holdings[e.conversation_id].append(Holding(e.agent_id, e.at))
        elif e.kind == "invited" and e.agent_id is not None:
            invited[e.conversation_id].add(e.agent_id)
        elif e.kind == "offline":
            offline[e.conversation_id] = _offline_reason(e.cause)
    said: dict[int, list[Message]] = defaultdict(list)
    for m in messages:
        said[m.conversation_id].append(Message(m.at, Sender(m.sender), m.sender_id))
    return [
        ConversationFacts(
            r.id,
            r.created_at,
            human_requested_at=r.human_requested_at,
            holdings=tuple(holdings[r.id]),
            invited=frozenset(invited[r.id]),
            ended_at=r.ended_at,
            offline_reason=offline.get(r.id),
            messages=tuple(said[r.id]),
        )
        for r in rows
    ]


def shop_view(facts: Sequence[ConversationFacts], *, tz: ZoneInfo, now: datetime) -> dict[str, Any]:
    figures = shop_figures(facts, tz=tz, now=now)
    return {
        **_figures_view(figures, RATES),
        **_assessment_view(assessment(facts, tz=tz, now=now)),
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
    """ACCT-5: the shop's figures are for its owner and supervisors; a leader sees their group."""
    if staff.role not in (Role.OWNER, Role.SUPERVISOR):
        raise errors.Forbidden()


def _offline_reason(cause: str | None) -> OfflineReason:
    try:
        return OfflineReason(cause or OfflineReason.NO_AGENT)
    except ValueError:
        return OfflineReason.NO_AGENT


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
    facts = await load_facts(ctx, staff.shop_id, week)
    figures = shop_view(facts, tz=tz, now=ctx.clock.now())
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
