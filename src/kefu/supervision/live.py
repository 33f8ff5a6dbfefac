"""Live monitoring (LIVE-1): load what the figures need in one read, compute the view with the
pure rules of figures.py, narrow it to what the caller may see (ACCT-5), and shape it as the
`live` frame and the HTTP answer carry it. The pages that follow it are monitor.py's."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kefu import errors
from kefu.analytics.facts import facts_by_id
from kefu.analytics.metrics import ServiceFigures, shop_figures
from kefu.analytics.periods import Period, PeriodKind, local_day, period_of
from kefu.analytics.service import load_facts
from kefu.bot.entry import entry_of
from kefu.domain.permissions import Feature
from kefu.domain.presence import Role
from kefu.services import presence
from kefu.services.access import require_supervising
from kefu.services.context import Context, Staff, presence_window
from kefu.services.permissions import require_permission
from kefu.storage import accounts as account_store
from kefu.storage import alerts as alert_store
from kefu.storage import kb
from kefu.storage import shops as shop_store
from kefu.storage import supervision as store
from kefu.storage.db import Connection
from kefu.supervision import alerts_domain
from kefu.supervision.figures import (
    BOT_WINDOW,
    FAQ_SLOT,
    RESPONSE_WINDOW,
    AgentFacts,
    BotFacts,
    FaqClicks,
    LiveFacts,
    LiveView,
    OpenConversation,
    agent_groups,
    faq_slot_start,
    for_groups,
    scoped_values,
)
from kefu.supervision.figures import live_view as compute_view

# What reaches a watching socket and makes its shop's view be recomputed; `live_changed`
# itself is never sent on to the page.
LIVE_CHANGED = "live_changed"
TRIGGERS = frozenset({LIVE_CHANGED, "conversation", "message"})
# How old the monitor lets today's totals (seed 001: "每三分钟更新一次") and yesterday's get.
TODAY_MAX_AGE = timedelta(seconds=30)
YESTERDAY_MAX_AGE = timedelta(minutes=3)


def require_monitoring(staff: Staff) -> None:
    """LIVE-1, ACCT-6: owners, supervisors and group leaders with the monitoring feature."""
    require_supervising(staff)
    require_permission(staff, Feature.MONITORING)


@dataclass
class DayCache:
    """Day totals per (shop, local day), with when they were read; without one, every view
    reads them afresh."""

    figures: dict[tuple[int, date], tuple[datetime, ServiceFigures]] = field(default_factory=dict)


async def live_view(
    ctx: Context, shop_id: int, *, now: datetime, cache: DayCache | None = None
) -> LiveView:
    """LIVE-1: the whole shop's live view at `now` (the caller narrows it per viewer)."""
    async with ctx.db.read() as tx:
        if await shop_store.shop(tx.conn, shop_id) is None:
            raise errors.NotFound(kind="shop", id=shop_id)
        settings = await shop_store.shop_settings(tx.conn, shop_id)
        groups = await shop_store.groups(tx.conn, shop_id)
        accounts = await account_store.loaded_accounts(tx.conn, shop_id=shop_id)
        open_rows = await store.open_conversations(tx.conn, shop_id)
        recent_ids = await store.replied_in_since(tx.conn, shop_id, now - RESPONSE_WINDOW)
        recent = await facts_by_id(tx.conn, shop_id, recent_ids)
        tz = ZoneInfo(settings.time_zone)
        today = period_of(PeriodKind.DAY, tz=tz, today=local_day(now, tz))
        credits = await store.credits(tx.conn, shop_id, today.starts_at, today.ends_at)
        bot = await _bot_facts(
            tx.conn, shop_id, now=now, tz=tz, enabled=settings.bot_enabled, mode=settings.bot_mode
        )
    window = presence_window(ctx, now)
    facts = LiveFacts(
        shop_id=shop_id,
        now=now,
        tz=tz,
        groups=tuple((g.id, g.name) for g in groups),
        agents=tuple(
            AgentFacts(
                id=a.account.id,
                display_name=a.account.display_name,
                group_id=a.account.group_id,
                role=str(a.account.role),
                status=str(a.account.status),
                is_suspended=a.account.is_suspended,
                is_connected=window.is_present(a.account.id, a.account.last_seen_at),
                load=a.current_load,
                reception_limit=a.account.reception_limit,
            )
            for a in accounts
            if a.account.has_im_permission and not a.account.is_disabled
        ),
        open_conversations=tuple(
            OpenConversation(r.id, r.state, r.group_id, r.agent_id, r.awaiting_reply_since)
            for r in open_rows
        ),
        recent=tuple(recent),
        credits=tuple(credits),
        today_figures=await _day_figures(ctx, shop_id, today, now, cache, TODAY_MAX_AGE),
        yesterday_figures=await _day_figures(
            ctx, shop_id, today.previous(), now, cache, YESTERDAY_MAX_AGE
        ),
        bot=bot,
    )
    return await _with_alerts(ctx, shop_id, compute_view(facts))


async def _with_alerts(ctx: Context, shop_id: int, view: LiveView) -> LiveView:
    """LIVE-2 on the view: the figures the shop's rules in force say alert now (shown in red)
    and the busy groups (a group is watched only while an alert of its is on, seed 001)."""
    async with ctx.db.read() as tx:
        rules = [r for r in await alert_store.rules(tx.conn, shop_id) if r.enabled]
    if not rules:
        return view
    values, groups = scoped_values(view), agent_groups(view)
    found = alerts_domain.alerting(rules, values, groups)
    watched = alerts_domain.watched_groups(rules)
    busy = alerts_domain.busy_groups(found, values, groups)
    return replace(
        view,
        alerting={scope: frozenset(names) for scope, names in found.items()},
        busy_groups=frozenset(g for g, is_busy in busy.items() if is_busy and g in watched),
    )


async def _bot_facts(
    conn: Connection, shop_id: int, *, now: datetime, tz: ZoneInfo, enabled: bool, mode: str
) -> BotFacts:
    """BOT-6 over the last 3 minutes, and FAQ clicks in the last whole half hour."""
    since, until = now - BOT_WINDOW, now + timedelta(seconds=1)
    consulted = await kb.count_events(conn, shop_id, ("bot_consulted",), since, until)
    handovers = sum((await kb.transfers_by_day(conn, shop_id, since, until)).values())
    slot = faq_slot_start(now, tz)
    clicks = await kb.faq_clicks(conn, shop_id, slot, slot + FAQ_SLOT)
    entry = await entry_of(conn, shop_id)
    titled = tuple(FaqClicks(i.id, i.title, clicks.get(i.id, 0)) for i in entry.items())
    return BotFacts(enabled, mode, consulted.get("bot_consulted", 0), handovers, slot, titled)


async def _day_figures(
    ctx: Context,
    shop_id: int,
    day: Period,
    now: datetime,
    cache: DayCache | None,
    max_age: timedelta,
) -> ServiceFigures:
    """DATA-1 over the conversations started on `day`, from the cache while fresh enough."""
    key = (shop_id, day.first)
    known = cache.figures.get(key) if cache is not None else None
    if known is not None and timedelta(0) <= now - known[0] < max_age:
        return known[1]
    figures = shop_figures(await load_facts(ctx, shop_id, day), tz=day.tz, now=now)
    if cache is not None:
        cache.figures = {
            k: v
            for k, v in cache.figures.items()
            if k[0] != shop_id or k[1] >= day.first - timedelta(days=1)
        }
        cache.figures[key] = (now, figures)
    return figures


def visible_to(view: LiveView, staff: Staff) -> LiveView:
    """ACCT-5: owners and supervisors see the shop; a group leader only their group."""
    if staff.role is Role.LEADER:
        return for_groups(view, frozenset({staff.group_id} if staff.group_id else ()))
    return view


async def scoped_view(ctx: Context, staff: Staff) -> LiveView:
    """LIVE-1 for the caller (HTTP)."""
    require_monitoring(staff)
    view = await live_view(ctx, staff.shop_id, now=ctx.clock.now())
    return visible_to(view, staff)


async def announce_change(ctx: Context, shop_id: int) -> None:
    """Tell every process's monitoring pages of the shop that its figures changed."""
    await presence.live_changed(ctx, shop_id)


# --- JSON ------------------------------------------------------------------------------------


def view_json(view: LiveView) -> dict[str, Any]:
    """The view as the `live` frame and GET /api/supervision/live carry it."""
    alerting = view.alerting
    shop = None
    if view.shop is not None:
        s = view.shop
        shop = {
            "queued": s.queued,
            "online": s.online,
            "suspended": s.suspended,
            "pending": s.pending,
            "pending_per_agent": _round(s.pending_per_agent, 2),
            "response_3m_s": _round(s.response_3m_s, 1),
            "today": _totals(s.today),
            "yesterday": _totals(s.yesterday),
            "alerting": sorted(alerting.get(("shop", None), ())),
        }
    bot = None
    if view.bot is not None:
        b = view.bot
        bot = {
            "enabled": b.enabled,
            "mode": b.mode,
            "consultations_3m": b.consultations_3m,
            "handovers_3m": b.handovers_3m,
            "handover_rate_3m": _round(b.handover_rate_3m, 3),
            "faq_slot_start": b.faq_slot_start,
            "faq_clicks": [asdict(c) for c in b.faq_clicks],
        }
    return {
        "shop_id": view.shop_id,
        "at": view.at,
        "shop": shop,
        "bot": bot,
        "groups": [
            {
                "id": g.id,
                "name": g.name,
                "queued": g.queued,
                "online": g.online,
                "suspended": g.suspended,
                "pending": g.pending,
                "pending_per_agent": _round(g.pending_per_agent, 2),
                "response_3m_s": _round(g.response_3m_s, 1),
                "agent_ids": list(g.agent_ids),
                "busy": g.id in view.busy_groups,
                "alerting": sorted(alerting.get(("group", g.id), ())),
            }
            for g in view.groups
        ],
        "agents": [
            {
                **{k: v for k, v in asdict(a).items() if k != "response_3m_s"},
                "response_3m_s": _round(a.response_3m_s, 1),
                "alerting": sorted(alerting.get(("agent", a.id), ())),
            }
            for a in view.agents
        ],
    }


def live_frame(view: LiveView, ref: str | None = None) -> dict[str, Any]:
    return {"type": "live", "ref": ref, "view": view_json(view)}


def _totals(f: ServiceFigures) -> dict[str, Any]:
    return {
        "conversations": f.conversations,
        "human_requests": f.human_requests,
        "assigned": f.assigned,
        "replies": f.replies,
        "first_response_s": _round(f.first_response_s, 1),
        "response_s": _round(f.response_s, 1),
        "pickup_rate": _round(f.pickup_rate, 3),
        "rate_30s": _round(f.rate_30s, 3),
        "satisfaction_rate": _round(f.satisfaction_rate, 3),
    }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
