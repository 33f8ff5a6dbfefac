"""Live monitoring figures (LIVE-1, seed 001 实时监控), as pure functions over what the database
says now: the shop's, each group's and each agent's figures, the bot's last three minutes, and
the metric values the alerts judge (`scoped_values`). Today's and yesterday's totals reuse the
analytics formulas (kefu.analytics.metrics); nothing here reads a clock or a database.

Pinned edges (seed 001 leaves them open; these are the choices):
- Online counts agents whose status is not offline and whose socket is there (PRES-1); suspended
  ones are online too ("在线包括挂起与未挂起"). An agent whose status is not offline but whose
  socket is gone is "disconnected", and not online.
- Pending counts the consumers awaiting a reply: assigned conversations whose consumer wrote
  after the agent's last reply, or who has not been answered since the assignment ("待回复人数
  是指接待窗口上显示为高亮未读的会话数量"). A group's pending is its agents'.
- Response over the last 3 minutes: each agent's mean over their replies sent in that window;
  a group's and the shop's are the mean of their agents' means ("平均响应时长之和 / 平均响应时间
  不为空的客服人数"). No reply in the window: no value (absent, never 0).
- Served today counts, for each agent, the conversations started today that credit them (held
  or invited, CONV-7, CONV-8): a consumer passed from A to B counts once for each.
- Today's totals are the analytics figures of the conversations started today; the monitor
  reads them at most every 30 s (seed 001 refreshes them every 3 minutes), the rest each pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import fmean
from zoneinfo import ZoneInfo

from kefu.analytics.metrics import ConversationFacts, ServiceFigures, replies

RESPONSE_WINDOW = timedelta(minutes=3)
BOT_WINDOW = timedelta(minutes=3)
FAQ_SLOT = timedelta(minutes=30)
OFFLINE = "offline"
DISCONNECTED = "disconnected"

Scope = tuple[str, int | None]
ScopedValues = dict[Scope, dict[str, float]]
SHOP: Scope = ("shop", None)


@dataclass(frozen=True, slots=True)
class AgentFacts:
    """An account that may serve (IM permission, not disabled) as the database has it now."""

    id: int
    display_name: str
    group_id: int | None
    role: str
    status: str  # online | busy | break | offline
    is_suspended: bool
    is_connected: bool  # PRES-1: a socket open, or gone for less than the grace period
    load: int
    reception_limit: int


@dataclass(frozen=True, slots=True)
class OpenConversation:
    """A queued or assigned conversation."""

    id: int
    state: str  # queued | assigned
    group_id: int | None
    agent_id: int | None
    awaiting_reply_since: datetime | None


@dataclass(frozen=True, slots=True)
class FaqClicks:
    item_id: str
    title: str
    clicks: int


@dataclass(frozen=True, slots=True)
class BotFacts:
    """The bot's events in the last 3 minutes and its FAQ clicks in the last half-hour slot."""

    enabled: bool
    mode: str  # bot_first | human_first
    consultations_3m: int
    handovers_3m: int
    faq_slot_start: datetime
    faq_clicks: tuple[FaqClicks, ...] = ()


@dataclass(frozen=True, slots=True)
class LiveFacts:
    shop_id: int
    now: datetime
    tz: ZoneInfo
    groups: tuple[tuple[int, str], ...]
    agents: tuple[AgentFacts, ...]
    open_conversations: tuple[OpenConversation, ...]
    # Conversations with a human reply in the last 3 minutes (their whole human exchange).
    recent: tuple[ConversationFacts, ...]
    # Who was credited with which conversation started today: (conversation id, agent id) of
    # each assignment, transfer and invitation.
    credits: tuple[tuple[int, int], ...]
    # DATA-1 over the conversations started today and yesterday (the shop's local days).
    today_figures: ServiceFigures
    yesterday_figures: ServiceFigures
    bot: BotFacts


@dataclass(frozen=True, slots=True)
class AgentLive:
    id: int
    display_name: str
    group_id: int | None
    role: str
    status: str
    state: str  # the status, or "disconnected"
    is_suspended: bool
    is_online: bool
    load: int
    reception_limit: int
    pending: int
    served_today: int
    response_3m_s: float | None


@dataclass(frozen=True, slots=True)
class GroupLive:
    id: int
    name: str
    queued: int
    online: int
    suspended: int
    pending: int
    pending_per_agent: float | None
    response_3m_s: float | None
    agent_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ShopLive:
    queued: int
    online: int
    suspended: int
    pending: int
    pending_per_agent: float | None
    response_3m_s: float | None
    today: ServiceFigures
    yesterday: ServiceFigures


@dataclass(frozen=True, slots=True)
class BotLive:
    enabled: bool
    mode: str
    consultations_3m: int
    handovers_3m: int
    # "转人工率 = 转客服数 / 咨询人数": may pass 100 % (direct human requests, offline pool).
    handover_rate_3m: float | None
    faq_slot_start: datetime
    faq_clicks: tuple[FaqClicks, ...]


@dataclass(frozen=True, slots=True)
class LiveView:
    """The whole shop's live view; `for_groups` narrows it for a group leader (ACCT-5).

    `alerting` (metric names per scope) and `busy_groups` are the alerts' (LIVE-2) to fill;
    empty until they are."""

    shop_id: int
    at: datetime
    shop: ShopLive | None
    bot: BotLive | None
    groups: tuple[GroupLive, ...]
    agents: tuple[AgentLive, ...]
    alerting: Mapping[Scope, frozenset[str]] = field(default_factory=dict)
    busy_groups: frozenset[int] = frozenset()


def live_view(facts: LiveFacts) -> LiveView:
    """LIVE-1: the shop, group, agent and bot figures of `facts`."""
    pending = pending_by_agent(facts.open_conversations)
    response = response_by_agent(facts.recent, since=facts.now - RESPONSE_WINDOW)
    served = served_today(facts.credits)
    agents = tuple(
        _agent(a, pending.get(a.id, 0), served.get(a.id, 0), response.get(a.id))
        for a in facts.agents
    )
    queued = Counter(c.group_id for c in facts.open_conversations if c.state == "queued")
    groups = tuple(
        _group(group_id, name, [a for a in agents if a.group_id == group_id], queued[group_id])
        for group_id, name in facts.groups
    )
    online = [a for a in agents if a.is_online]
    shop_pending = sum(pending.values())
    shop = ShopLive(
        queued=sum(queued.values()),
        online=len(online),
        suspended=sum(1 for a in online if a.is_suspended),
        pending=shop_pending,
        pending_per_agent=_per(shop_pending, len(online)),
        response_3m_s=_mean(a.response_3m_s for a in agents),
        today=facts.today_figures,
        yesterday=facts.yesterday_figures,
    )
    return LiveView(facts.shop_id, facts.now, shop, _bot(facts.bot), groups, agents)


def agent_state(status: str, *, is_connected: bool) -> str:
    """PRES-1: an agent not offline whose socket is gone shows as disconnected."""
    if status != OFFLINE and not is_connected:
        return DISCONNECTED
    return status


def pending_by_agent(conversations: Iterable[OpenConversation]) -> dict[int, int]:
    """Consumers awaiting each agent's reply, in the agent's assigned conversations."""
    return dict(
        Counter(
            c.agent_id
            for c in conversations
            if c.state == "assigned" and c.agent_id is not None and c.awaiting_reply_since
        )
    )


def response_by_agent(
    conversations: Iterable[ConversationFacts], *, since: datetime
) -> dict[int, float]:
    """Each agent's mean response time (DATA-1's replies) over the replies sent after `since`.

    No upper bound: the facts are read after the view's clock reading, and a reply committed in
    between (stamped a little after it) is as recent as any; dropping it would show the reply's
    conversation as answered (pending 0) without its response time."""
    took: dict[int, list[float]] = {}
    for facts in conversations:
        for reply in replies(facts):
            if since < reply.at:
                took.setdefault(reply.agent_id, []).append(reply.took.total_seconds())
    return {agent_id: fmean(values) for agent_id, values in took.items()}


def served_today(credits: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Conversations credited to each agent (CONV-7, CONV-8), each once: every agent who
    served the consumer counts (seed 001: "A、B的接待人数都加1")."""
    return dict(Counter(agent_id for _, agent_id in set(credits)))


def for_groups(view: LiveView, group_ids: frozenset[int]) -> LiveView:
    """ACCT-5: a group leader sees their groups and their agents, not the shop or the bot."""
    groups = tuple(g for g in view.groups if g.id in group_ids)
    agents = tuple(a for a in view.agents if a.group_id in group_ids)
    alerting = {
        scope: names
        for scope, names in view.alerting.items()
        if (scope[0] == "group" and scope[1] in group_ids)
        or (scope[0] == "agent" and any(a.id == scope[1] for a in agents))
    }
    return LiveView(
        view.shop_id,
        view.at,
        None,
        None,
        groups,
        agents,
        alerting,
        view.busy_groups & group_ids,
    )


def scoped_values(view: LiveView) -> ScopedValues:
    """LIVE-2's inputs: each scope's metric values; a metric without data is absent."""
    values: ScopedValues = {}
    if view.shop is not None:
        s = view.shop
        values[SHOP] = _present(
            queued=s.queued,
            online=s.online,
            suspended=s.suspended,
            pending_per_agent=s.pending_per_agent,
            response_3m_s=s.response_3m_s,
            handover_rate_3m=view.bot.handover_rate_3m if view.bot is not None else None,
        )
    for g in view.groups:
        values[("group", g.id)] = _present(
            queued=g.queued,
            online=g.online,
            suspended=g.suspended,
            pending=g.pending,
            pending_per_agent=g.pending_per_agent,
            response_3m_s=g.response_3m_s,
        )
    for a in view.agents:
        values[("agent", a.id)] = _present(
            pending=a.pending, response_3m_s=a.response_3m_s, served_today=a.served_today
        )
    return values


def agent_groups(view: LiveView) -> dict[int, frozenset[int]]:
    """Each agent's groups (one or none in this product), for group thresholds on agents."""
    return {
        a.id: frozenset() if a.group_id is None else frozenset({a.group_id}) for a in view.agents
    }


def faq_slot_start(now: datetime, tz: ZoneInfo) -> datetime:
    """The start of the last whole half hour before `now` ("上一个半小时时段")."""
    local = now.astimezone(tz)
    current = local.replace(minute=local.minute - local.minute % 30, second=0, microsecond=0)
    return (current - FAQ_SLOT).astimezone(UTC)


# --- parts ----------------------------------------------------------------------------------


def _agent(a: AgentFacts, pending: int, served: int, response: float | None) -> AgentLive:
    state = agent_state(a.status, is_connected=a.is_connected)
    return AgentLive(
        id=a.id,
        display_name=a.display_name,
        group_id=a.group_id,
        role=a.role,
        status=a.status,
        state=state,
        is_suspended=a.is_suspended,
        is_online=state not in (OFFLINE, DISCONNECTED),
        load=a.load,
        reception_limit=a.reception_limit,
        pending=pending,
        served_today=served,
        response_3m_s=response,
    )


def _group(group_id: int, name: str, agents: list[AgentLive], queued: int) -> GroupLive:
    online = [a for a in agents if a.is_online]
    pending = sum(a.pending for a in agents)
    return GroupLive(
        id=group_id,
        name=name,
        queued=queued,
        online=len(online),
        suspended=sum(1 for a in online if a.is_suspended),
        pending=pending,
        pending_per_agent=_per(pending, len(online)),
        response_3m_s=_mean(a.response_3m_s for a in agents),
        agent_ids=tuple(a.id for a in agents),
    )


def _bot(b: BotFacts) -> BotLive:
    return BotLive(
        enabled=b.enabled,
        mode=b.mode,
        consultations_3m=b.consultations_3m,
        handovers_3m=b.handovers_3m,
        handover_rate_3m=_per(b.handovers_3m, b.consultations_3m),
        faq_slot_start=b.faq_slot_start,
        faq_clicks=tuple(c for c in b.faq_clicks if c.clicks > 0),
    )


def _present(**values: float | None) -> dict[str, float]:
    return {name: float(v) for name, v in values.items() if v is not None}


def _per(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return fmean(present) if present else None
