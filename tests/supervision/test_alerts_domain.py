"""LIVE-2's pure rules: thresholds crossed and cleared, rules per scope, the busy groups (a
third of the online agents), a shop alert suppressing group alerts, and the periods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu import errors
from kefu.supervision.alerts_domain import (
    SHOP,
    AlertRule,
    Comparison,
    RuleScope,
    alerting,
    busy_groups,
    check_rule,
    crossed,
    firings,
    next_evaluation,
    period_start,
    watched_groups,
)

G1, G2 = 11, 12
AGENT_GROUPS = {1: frozenset({G1}), 2: frozenset({G1}), 3: frozenset({G1}), 4: frozenset({G2})}


def rule(
    rule_id: int,
    scope: RuleScope,
    metric: str,
    threshold: float,
    *,
    group_id: int | None = None,
    comparison: Comparison = Comparison.GT,
    enabled: bool = True,
) -> AlertRule:
    return AlertRule(rule_id, scope, group_id, metric, comparison, threshold, enabled, (1,))


def test_live_2_threshold_crossed_then_cleared() -> None:
    queued = rule(1, RuleScope.SHOP, "queued", 5)
    assert alerting([queued], {SHOP: {"queued": 6}}, {}) == {SHOP: {"queued"}}
    assert alerting([queued], {SHOP: {"queued": 5}}, {}) == {}  # back at the threshold: cleared
    assert alerting([queued], {SHOP: {"queued": 2}}, {}) == {}


def test_live_2_each_comparison() -> None:
    assert crossed(Comparison.GT, 3, 2) and not crossed(Comparison.GT, 2, 2)
    assert crossed(Comparison.GE, 2, 2) and not crossed(Comparison.GE, 1, 2)
    assert crossed(Comparison.LT, 1, 2) and not crossed(Comparison.LT, 2, 2)
    assert crossed(Comparison.LE, 2, 2) and not crossed(Comparison.LE, 3, 2)


def test_live_2_a_rule_that_is_off_or_without_data_never_alerts() -> None:
    off = rule(1, RuleScope.SHOP, "queued", 0, enabled=False)
    slow = rule(2, RuleScope.SHOP, "response_3m_s", 30)
    # No reply in the last 3 minutes: the metric is absent, not 0, and does not alert.
    assert alerting([off, slow], {SHOP: {"queued": 9}}, {}) == {}
    few_online = rule(3, RuleScope.SHOP, "online", 2, comparison=Comparison.LT)
    assert alerting([few_online], {SHOP: {"online": 1}}, {}) == {SHOP: {"online"}}


def test_live_2_group_rule_applies_to_each_agent_of_the_group() -> None:
    per_agent = rule(1, RuleScope.AGENT, "pending", 3, group_id=G1)
    values = {
        ("agent", 1): {"pending": 4.0},
        ("agent", 2): {"pending": 1.0},
        ("agent", 3): {"pending": 9.0},
        ("agent", 4): {"pending": 9.0},  # of another group: not this rule's
    }
    assert alerting([per_agent], values, AGENT_GROUPS) == {
        ("agent", 1): {"pending"},
        ("agent", 3): {"pending"},
    }
    whole = rule(2, RuleScope.GROUP, "pending", 10, group_id=G1)
    assert alerting([whole], {("group", G1): {"pending": 14.0}}, AGENT_GROUPS) == {
        ("group", G1): {"pending"}
    }


def _group_values(online: int) -> dict[tuple[str, int | None], dict[str, float]]:
    return {("group", G1): {"online": float(online)}, ("group", G2): {"online": 1.0}}


def test_live_2_a_group_is_busy_when_more_than_a_third_of_its_online_agents_alert() -> None:
    values = _group_values(3) | {("agent", a): {"pending": 0.0} for a in (1, 2, 3, 4)}
    one = {("agent", 1): {"pending"}}
    two = one | {("agent", 2): {"pending"}}
    # 1 of 3 is a third, not more: normal; 2 of 3: busy.
    assert busy_groups(one, values, AGENT_GROUPS) == {G1: False, G2: False}
    assert busy_groups(two, values, AGENT_GROUPS) == {G1: True, G2: False}
    # One of 2 online (agent 3 went offline) is more than a third.
    assert busy_groups(one, values, AGENT_GROUPS, online_agents=[1, 2]) == {G1: True, G2: False}


def test_live_2_a_group_that_alerts_itself_is_busy() -> None:
    alerts = {("group", G2): {"queued"}}
    assert busy_groups(alerts, _group_values(3), AGENT_GROUPS) == {G1: False, G2: True}


def test_live_2_a_shop_alert_suppresses_group_alerts_of_the_same_evaluation() -> None:
    shop_rule = rule(1, RuleScope.SHOP, "queued", 5)
    group_rule = rule(2, RuleScope.GROUP, "queued", 2, group_id=G1)
    agent_rule = rule(3, RuleScope.AGENT, "pending", 1, group_id=G1)
    values = {
        SHOP: {"queued": 8.0},
        ("group", G1): {"queued": 8.0},
        ("agent", 1): {"pending": 2.0},
    }
    fired = firings([shop_rule, group_rule, agent_rule], values, AGENT_GROUPS)
    assert [(f.rule.id, f.suppressed) for f in fired] == [(1, False), (2, True), (3, True)]
    # Without the shop alert the group's is sent.
    quiet = values | {SHOP: {"queued": 3.0}}
    fired = firings([shop_rule, group_rule, agent_rule], quiet, AGENT_GROUPS)
    assert [(f.rule.id, f.suppressed) for f in fired] == [(2, False), (3, False)]
    assert fired[1].hits[0].scope == ("agent", 1)


def test_live_2_recipients_are_at_most_ten() -> None:
    ok = check_rule(
        scope=RuleScope.SHOP, group_id=None, metric="queued", threshold=1, recipients=range(1, 11)
    )
    assert ok == tuple(range(1, 11))
    with pytest.raises(errors.BadInput) as refused:
        check_rule(
            scope=RuleScope.SHOP,
            group_id=None,
            metric="queued",
            threshold=1,
            recipients=range(1, 12),
        )
    assert refused.value.code == "alerts.too_many_recipients"
    assert refused.value.params == {"field": "recipients", "max": 10, "count": 11}


@pytest.mark.parametrize(
    ("scope", "group_id", "metric", "threshold", "code"),
    [
        (RuleScope.SHOP, G1, "queued", 1, "alerts.group_not_allowed"),
        (RuleScope.GROUP, None, "queued", 1, "alerts.group_required"),
        (RuleScope.AGENT, G1, "queued", 1, "alerts.unknown_metric"),
        (RuleScope.SHOP, None, "served_today", 1, "alerts.unknown_metric"),
        (RuleScope.SHOP, None, "queued", -1, "alerts.bad_threshold"),
        (RuleScope.SHOP, None, "queued", float("nan"), "alerts.bad_threshold"),
    ],
)
def test_live_2_a_rule_is_checked(
    scope: RuleScope, group_id: int | None, metric: str, threshold: float, code: str
) -> None:
    with pytest.raises(errors.BadInput) as refused:
        check_rule(
            scope=scope, group_id=group_id, metric=metric, threshold=threshold, recipients=[1]
        )
    assert refused.value.code == code


EPOCH_2020 = datetime(2020, 1, 1, tzinfo=UTC)


@given(
    st.integers(min_value=0, max_value=20 * 365 * 86_400 * 1000),
    st.integers(min_value=60, max_value=3600),
)
def test_live_2_periods_hold_their_instant_and_follow_each_other(
    offset_ms: int, interval_s: int
) -> None:
    now = EPOCH_2020 + timedelta(milliseconds=offset_ms)
    start = period_start(now, interval_s)
    assert start <= now < start + timedelta(seconds=interval_s)
    assert next_evaluation(now, interval_s) == start + timedelta(seconds=interval_s)
    # Every instant of one period maps to the same start: one alert per rule per period.
    assert period_start(start + timedelta(seconds=interval_s - 1), interval_s) == start


def test_live_2_only_groups_with_an_alert_on_have_a_status() -> None:
    rules = [
        rule(1, RuleScope.SHOP, "queued", 5),
        rule(2, RuleScope.AGENT, "pending", 3, group_id=G1),
        rule(3, RuleScope.GROUP, "queued", 3, group_id=G2, enabled=False),
    ]
    assert watched_groups(rules) == {G1}


AGENT_IDS = (1, 2, 3)


@given(
    st.sets(st.sampled_from(AGENT_IDS)),
    st.sets(st.sampled_from(AGENT_IDS)),
    st.booleans(),
)
def test_live_2_busy_grows_with_alerting_agents_and_follows_the_third_rule(
    alerting_agents: set[int], more: set[int], group_alerts: bool
) -> None:
    values = {("group", G1): {"online": 3.0}} | {("agent", a): {} for a in AGENT_IDS}
    group_marks = {("group", G1): {"queued"}} if group_alerts else {}

    def busy(agents: set[int]) -> bool:
        marks = group_marks | {("agent", a): {"pending"} for a in agents}
        return busy_groups(marks, values, AGENT_GROUPS)[G1]

    assert busy(alerting_agents) == (group_alerts or len(alerting_agents) * 3 > 3)
    if busy(alerting_agents):
        assert busy(alerting_agents | more)  # more alerting agents never calm a group


@given(
    st.lists(
        st.tuples(
            st.sampled_from([RuleScope.SHOP, RuleScope.GROUP, RuleScope.AGENT]),
            st.integers(min_value=0, max_value=10),
        ),
        max_size=6,
    ),
    st.integers(min_value=0, max_value=10),
)
def test_live_2_only_shop_alerts_go_out_when_the_shop_alerts(
    specs: list[tuple[RuleScope, int]], pending: int
) -> None:
    metric = {RuleScope.SHOP: "queued", RuleScope.GROUP: "queued", RuleScope.AGENT: "pending"}
    rules = [
        rule(i, scope, metric[scope], threshold, group_id=None if scope is RuleScope.SHOP else G1)
        for i, (scope, threshold) in enumerate(specs)
    ]
    values = {
        SHOP: {"queued": float(pending)},
        ("group", G1): {"queued": float(pending)},
        **{("agent", a): {"pending": float(pending)} for a in AGENT_IDS},
    }
    fired = firings(rules, values, AGENT_GROUPS)
    assert [f.rule.id for f in fired] == [r.id for r in rules if pending > r.threshold]
    shop_fires = any(f.rule.scope is RuleScope.SHOP for f in fired)
    sent = [f for f in fired if not f.suppressed]
    assert all(f.rule.scope is RuleScope.SHOP for f in sent) or not shop_fires
    assert len(sent) == len(fired) or shop_fires
