"""ROUTE-1 to ROUTE-4 as pure rules: idle rate, random ties, eligibility, queue order, waits."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from kefu.domain.ids import AccountId, ConversationId, GroupId
from kefu.domain.presence import AgentStatus
from kefu.domain.routing import (
    AgentLoad,
    Assignment,
    QueuedRequest,
    QueueOrder,
    choose_agent,
    estimate_wait,
    plan_assignments,
    queue_positions,
    queue_sorted,
)

G = GroupId(1)
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def agent(i: int, limit: int, current: int, **kw: object) -> AgentLoad:
    base: dict[str, object] = dict(
        agent_id=AccountId(i),
        group_id=G,
        status=AgentStatus.ONLINE,
        is_suspended=False,
        has_im_permission=True,
        limit=limit,
        current=current,
    )
    base.update(kw)
    return AgentLoad(**base)  # type: ignore[arg-type]


def test_route_1_seed_example_b_is_freer() -> None:
    a = agent(1, limit=10, current=2)  # idle 0.8
    b = agent(2, limit=30, current=3)  # idle 0.9
    assert choose_agent([a, b], G, random.Random(1)) == b


def test_route_1_ties_are_broken_at_random_evenly() -> None:
    agents = [agent(1, 10, 5), agent(2, 4, 2), agent(3, 6, 3)]  # all idle 0.5
    rng = random.Random(42)
    picks = Counter(choose_agent(agents, G, rng).agent_id for _ in range(3000))  # type: ignore[union-attr]
    assert set(picks) == {1, 2, 3}
    # Chi-square against uniform, 2 degrees of freedom: 13.8 is the 0.1% critical value.
    chi2 = sum((n - 1000) ** 2 / 1000 for n in picks.values())
    assert chi2 < 13.8, picks


def test_route_1_ineligible_agents_get_nothing() -> None:
    ineligible = [
        agent(1, 10, 0, status=AgentStatus.BUSY),
        agent(2, 10, 0, status=AgentStatus.BREAK),
        agent(3, 10, 0, status=AgentStatus.OFFLINE),
        agent(4, 10, 0, is_suspended=True),
        agent(5, 10, 10),
        agent(6, 10, 0, has_im_permission=False),
        agent(7, 10, 0, group_id=GroupId(2)),
    ]
    assert choose_agent(ineligible, G, random.Random(0)) is None
    ok = agent(8, 10, 9)
    assert choose_agent([*ineligible, ok], G, random.Random(0)) == ok


def requests(n: int) -> list[QueuedRequest]:
    return [QueuedRequest(ConversationId(i), G, T0 + timedelta(seconds=i)) for i in range(1, n + 1)]


def test_route_3_fcfs_and_lcfs_order() -> None:
    queue = requests(3)
    one_slot = [agent(1, 1, 0)]
    fcfs = plan_assignments(queue, one_slot, QueueOrder.FCFS, random.Random(0))
    lcfs = plan_assignments(queue, one_slot, QueueOrder.LCFS, random.Random(0))
    assert [a.conversation_id for a in fcfs] == [1]
    assert [a.conversation_id for a in lcfs] == [3]
    assert queue_positions(queue, QueueOrder.FCFS) == {1: 1, 2: 2, 3: 3}
    assert queue_positions(queue, QueueOrder.LCFS) == {3: 1, 2: 2, 1: 3}


def test_route_4_wait_follows_recent_pace() -> None:
    assert estimate_wait(3, recent_assignments=0) is None
    # 30 assignments in 30 minutes: one a minute, so third in line waits 3 minutes.
    assert estimate_wait(3, recent_assignments=30) == timedelta(minutes=3)
    assert estimate_wait(3, recent_assignments=60) == timedelta(minutes=1, seconds=30)


agents_st = st.lists(
    st.builds(
        agent,
        st.integers(1, 10_000),
        st.integers(1, 50),
        st.integers(0, 50),
        status=st.sampled_from(list(AgentStatus)),
        is_suspended=st.booleans(),
    ),
    max_size=12,
    unique_by=lambda a: a.agent_id,
)


@given(agents_st, st.integers(0, 200), st.sampled_from(list(QueueOrder)), st.integers(0, 1000))
def test_route_2_plan_never_exceeds_limits_nor_assigns_twice(
    agents: list[AgentLoad], n: int, order: QueueOrder, seed: int
) -> None:
    plan = plan_assignments(requests(n), agents, order, random.Random(seed))
    assert len({a.conversation_id for a in plan}) == len(plan)
    given_to = Counter(a.agent_id for a in plan)
    by_id = {a.agent_id: a for a in agents}
    for agent_id, count in given_to.items():
        a = by_id[agent_id]
        assert a.status is AgentStatus.ONLINE and not a.is_suspended
        assert a.current + count <= a.limit
    room = sum(
        max(0, a.limit - a.current)
        for a in agents
        if a.status is AgentStatus.ONLINE and not a.is_suspended
    )
    assert len(plan) == min(n, room)


@given(
    agents_st.map(
        lambda agents: [
            replace(a, group_id=GroupId(1 + a.agent_id % 2), current=min(a.current, a.limit))
            for a in agents
        ]
    ),
    st.lists(st.sampled_from([GroupId(1), GroupId(2), None]), max_size=60),
    st.sampled_from(list(QueueOrder)),
    st.integers(0, 1000),
)
def test_route_1_a_plan_gives_each_request_what_choose_agent_would(
    agents: list[AgentLoad],
    groups: list[GroupId | None],
    order: QueueOrder,
    seed: int,
) -> None:
    queue = [
        QueuedRequest(ConversationId(i), g, T0 + timedelta(seconds=i % 7))
        for i, g in enumerate(groups)
    ]
    expected = []
    loads = {a.agent_id: a for a in agents}
    rng = random.Random(seed)
    for request in queue_sorted(queue, order):
        chosen = choose_agent(list(loads.values()), request.group_id, rng)
        if chosen is not None:
            loads[chosen.agent_id] = replace(chosen, current=chosen.current + 1)
            expected.append(Assignment(request.conversation_id, chosen.agent_id))
    assert plan_assignments(queue, agents, order, random.Random(seed)) == expected
