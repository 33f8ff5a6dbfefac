"""PRES-1's rule of presence and that routing takes nobody who is away (ROUTE-1); why an agent
cannot take a transfer (CONV-7); the queue estimate against a simulated queue (ROUTE-4)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from kefu.domain.ids import AccountId, ConversationId, GroupId
from kefu.domain.presence import AgentStatus, PresenceWindow
from kefu.domain.routing import (
    THROUGHPUT_WINDOW,
    AgentLoad,
    QueuedRequest,
    QueueOrder,
    choose_agent,
    estimate_wait,
    is_eligible,
    is_on_duty,
    offer_refused_because,
    queue_positions,
    queue_sorted,
    unavailable_because,
)

NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)
GRACE = timedelta(seconds=60)


@given(age=st.integers(0, 600))
def test_pres_1_present_while_the_last_sign_is_within_the_grace_period(age: int) -> None:
    window = PresenceWindow(now=NOW, grace=GRACE)
    seen = NOW - timedelta(seconds=age)
    assert window.is_present(1, seen) is (age <= GRACE.total_seconds())
    # An open socket on the deciding process is presence however old the sign.
    assert PresenceWindow(now=NOW, grace=GRACE, here=frozenset({1})).is_present(1, seen)
    assert window.is_present(1, None)  # never signed in: taken at its status


def test_pres_1_an_away_agent_is_never_chosen() -> None:
    away = AgentLoad(AccountId(1), GroupId(1), AgentStatus.ONLINE, False, True, 5, 0, False)
    there = AgentLoad(AccountId(2), GroupId(1), AgentStatus.ONLINE, False, True, 5, 4, True)
    assert not is_eligible(away, GroupId(1))
    for seed in range(20):
        chosen = choose_agent([away, there], GroupId(1), random.Random(seed))
        assert chosen is not None and chosen.agent_id == AccountId(2)
    assert choose_agent([away], GroupId(1), random.Random(0)) is None


@given(
    status=st.sampled_from(list(AgentStatus)),
    suspended=st.booleans(),
    im=st.booleans(),
    present=st.booleans(),
    limit=st.integers(1, 3),
    current=st.integers(0, 3),
)
def test_conv_7_the_refusal_reason_is_none_exactly_for_eligible_agents(
    status: AgentStatus, suspended: bool, im: bool, present: bool, limit: int, current: int
) -> None:
    agent = AgentLoad(AccountId(1), GroupId(1), status, suspended, im, limit, current, present)
    reason = unavailable_because(agent)
    assert (reason is None) is is_eligible(agent, None)
    offer = offer_refused_because(agent)
    # An offer waits only for a busy agent or one on a break; anything else refuses at once.
    assert offer == (None if reason in ("busy", "break") else reason)
    # ROUTE-4: on duty is eligible but for the load: a full agent is on duty, a busy one not.
    assert is_on_duty(agent, None) is (unavailable_because(replace(agent, current=0)) is None)
    if status is AgentStatus.OFFLINE and im and not suspended:
        assert offer == "offline"  # whatever their load or presence


@given(
    paces=st.lists(st.integers(1, 60), min_size=2, max_size=2),
    phases=st.lists(st.floats(0, 0.999), min_size=2, max_size=2),
    groups=st.lists(st.integers(0, 1), min_size=1, max_size=40),
    lcfs=st.booleans(),
)
def test_route_4_the_estimate_bounds_the_wait_of_a_simulated_queue(
    paces: list[int], phases: list[float], groups: list[int], lcfs: bool
) -> None:
    """Each group's agents take one request every `window / pace` (the pace the last window
    measured), at a phase the consumer cannot know. The queue drains in its order; each
    request's real wait is never above its estimate, and short of it by less than one
    interval."""
    order = QueueOrder.LCFS if lcfs else QueueOrder.FCFS
    queue = [
        QueuedRequest(ConversationId(i + 1), GroupId(g), NOW + timedelta(seconds=i))
        for i, g in enumerate(groups)
    ]
    positions = queue_positions(queue, order)
    served: dict[int, int] = {0: 0, 1: 0}
    for request in queue_sorted(queue, order):
        g = int(request.group_id or 0)
        interval = THROUGHPUT_WINDOW / paces[g]
        served[g] += 1
        real = interval * served[g] - interval * phases[g]  # the served[g]-th take from now
        estimate = estimate_wait(positions[request.conversation_id], paces[g])
        assert estimate is not None
        assert real <= estimate < real + interval
        assert estimate_wait(positions[request.conversation_id], paces[g], on_duty=False) is None
