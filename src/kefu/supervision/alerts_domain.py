"""Alert rules (LIVE-2), pure: which rule a set of live figures ("scoped values") breaks,
which groups are busy, which alerts are sent in one evaluation period (a shop alert
suppresses the group alerts of the same evaluation). No I/O: the values, rules and time
come in as arguments."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from kefu import errors

Scope = tuple[str, int | None]  # ("shop", None) | ("group", group_id) | ("agent", account_id)
ScopedValues = dict[Scope, dict[str, float]]
AgentGroups = Mapping[int, frozenset[int]]  # agent id -> its group ids

SHOP: Scope = ("shop", None)
MAX_RECIPIENTS = 10  # seed 001: 告警接收人最多支持填写10个
MAX_RULES = 200  # per shop
MAX_THRESHOLD = 1_000_000_000.0
DEFAULT_INTERVAL_S = 180  # seed 001: 告警也是每三分钟触发一次
MIN_INTERVAL_S = 60
MAX_INTERVAL_S = 3600


class RuleScope(StrEnum):
    """What a rule watches: the shop, a group as a whole, or each agent of a group."""

    SHOP = "shop"
    GROUP = "group"
    AGENT = "agent"


class Comparison(StrEnum):
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"


METRICS: Mapping[RuleScope, tuple[str, ...]] = {
    RuleScope.SHOP: (
        "queued",
        "online",
        "suspended",
        "pending_per_agent",
        "response_3m_s",
        "handover_rate_3m",
    ),
    RuleScope.GROUP: (
        "queued",
        "online",
        "suspended",
        "pending",
        "pending_per_agent",
        "response_3m_s",
    ),
    RuleScope.AGENT: ("pending", "response_3m_s", "served_today"),
}


@dataclass(frozen=True, slots=True)
class AlertRule:
    """LIVE-2: `metric` `comparison` `threshold` alerts; a group rule of scope AGENT applies
    to each agent of `group_id`."""

    id: int
    scope: RuleScope
    group_id: int | None
    metric: str
    comparison: Comparison
    threshold: float
    enabled: bool = True
    recipients: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Hit:
    """One scope's value that breaks a rule."""

    scope: Scope
    value: float


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule broken in one evaluation, with every scope that breaks it; `suppressed` when a
    shop rule fires at the same time (seed 001: 只有店铺维度会发送告警消息)."""

    rule: AlertRule
    hits: tuple[Hit, ...]
    suppressed: bool


def check_rule(
    *,
    scope: RuleScope,
    group_id: int | None,
    metric: str,
    threshold: float,
    recipients: Iterable[int],
) -> tuple[int, ...]:
    """LIVE-2: a rule's shape; returns its recipients without duplicates, in order."""
    if (scope is RuleScope.SHOP) != (group_id is None):
        raise errors.BadInput(
            "A shop rule names no group; a group or agent rule names its group.",
            code="alerts.group_required" if group_id is None else "alerts.group_not_allowed",
            field="group_id",
        )
    if metric not in METRICS[scope]:
        raise errors.BadInput(
            "This metric has no alert at this scope.",
            code="alerts.unknown_metric",
            field="metric",
            scope=str(scope),
            allowed=list(METRICS[scope]),
        )
    if not math.isfinite(threshold) or not 0 <= threshold <= MAX_THRESHOLD:
        raise errors.BadInput(
            "The threshold is a number from 0 to 1e9.",
            code="alerts.bad_threshold",
            field="threshold",
            max=MAX_THRESHOLD,
        )
    unique = tuple(dict.fromkeys(recipients))
    if len(unique) > MAX_RECIPIENTS:
        raise errors.BadInput(
            f"An alert has at most {MAX_RECIPIENTS} recipients.",
            code="alerts.too_many_recipients",
            field="recipients",
            max=MAX_RECIPIENTS,
            count=len(unique),
        )
    return unique


def crossed(comparison: Comparison, value: float, threshold: float) -> bool:
    """Whether `value` breaks the threshold."""
    match comparison:
        case Comparison.GT:
            return value > threshold
        case Comparison.GE:
            return value >= threshold
        case Comparison.LT:
            return value < threshold
        case Comparison.LE:
            return value <= threshold


def rule_hits(rule: AlertRule, values: ScopedValues, agent_groups: AgentGroups) -> list[Hit]:
    """The scopes whose value breaks `rule` (none when it is off). A metric absent from a
    scope's values (no data) never alerts."""
    if not rule.enabled:
        return []
    hits = []
    for scope in _scopes_of(rule, values, agent_groups):
        value = values.get(scope, {}).get(rule.metric)
        if value is not None and crossed(rule.comparison, value, rule.threshold):
            hits.append(Hit(scope, value))
    return hits


def _scopes_of(rule: AlertRule, values: ScopedValues, agent_groups: AgentGroups) -> list[Scope]:
    if rule.scope is RuleScope.SHOP:
        return [SHOP]
    if rule.scope is RuleScope.GROUP:
        return [("group", rule.group_id)]
    members = (a for a, groups in agent_groups.items() if rule.group_id in groups)
    return [("agent", a) for a in sorted(members)]


def alerting(
    rules: Iterable[AlertRule], values: ScopedValues, agent_groups: AgentGroups
) -> dict[Scope, set[str]]:
    """LIVE-2: per scope, the metric names currently alerting (shown in red)."""
    found: dict[Scope, set[str]] = {}
    for rule in rules:
        for hit in rule_hits(rule, values, agent_groups):
            found.setdefault(hit.scope, set()).add(rule.metric)
    return found


def busy_groups(
    alerts: Mapping[Scope, set[str]],
    values: ScopedValues,
    agent_groups: AgentGroups,
    *,
    online_agents: Iterable[int] | None = None,
) -> dict[int, bool]:
    """LIVE-2 (seed 001, 繁忙度): a group is busy when it alerts itself, or when more than a
    third of its online agents alert. Covers every group of `values`. The online agents are
    those given; else a group's count is its `online` figure, and its online agents those
    with values."""
    given = online_agents is not None
    online = set(online_agents) if online_agents is not None else _agents_in(values)
    busy: dict[int, bool] = {}
    for kind, group_id in values:
        if kind != "group" or group_id is None:
            continue
        members = [a for a in online if group_id in agent_groups.get(a, frozenset())]
        online_count = float(len(members))
        if not given:
            online_count = values[("group", group_id)].get("online", online_count)
        alerting_members = sum(1 for a in members if alerts.get(("agent", a)))
        busy[group_id] = bool(alerts.get(("group", group_id))) or (
            online_count > 0 and alerting_members * 3 > online_count
        )
    return busy


def watched_groups(rules: Iterable[AlertRule]) -> set[int]:
    """LIVE-2 (seed 001): the groups with an alert on, whose status is busy or normal; the
    others show no status."""
    return {r.group_id for r in rules if r.enabled and r.group_id is not None}


def _agents_in(values: ScopedValues) -> set[int]:
    return {i for kind, i in values if kind == "agent" and i is not None}


def firings(
    rules: Iterable[AlertRule], values: ScopedValues, agent_groups: AgentGroups
) -> list[Firing]:
    """LIVE-2: the rules broken in one evaluation; when a shop rule fires, the group and
    agent rules that fire with it are kept (history) but suppressed (not sent)."""
    broken = [(rule, hits) for rule in rules if (hits := rule_hits(rule, values, agent_groups))]
    shop_fires = any(rule.scope is RuleScope.SHOP for rule, _ in broken)
    return [
        Firing(rule, tuple(hits), suppressed=shop_fires and rule.scope is not RuleScope.SHOP)
        for rule, hits in broken
    ]


def period_start(now: datetime, interval_s: int) -> datetime:
    """The start of the evaluation period holding `now`: periods are `interval_s` long and
    aligned on the Unix epoch, so every process computes the same one (at most one alert per
    rule per period)."""
    seconds = int(now.timestamp())
    return datetime.fromtimestamp(seconds - seconds % interval_s, UTC)


def next_evaluation(now: datetime, interval_s: int) -> datetime:
    """When the evaluation after the one at `now` is due: the next period's start."""
    return period_start(now, interval_s) + timedelta(seconds=interval_s)


def check_interval(interval_s: int) -> None:
    """LIVE-2: the evaluation interval, a shop setting."""
    if not MIN_INTERVAL_S <= interval_s <= MAX_INTERVAL_S:
        raise ValueError(f"alert_interval_s is {MIN_INTERVAL_S} to {MAX_INTERVAL_S}")
