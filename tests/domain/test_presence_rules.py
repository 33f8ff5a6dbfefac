"""PRES-1's rule of presence, and that routing takes nobody who is away (ROUTE-1)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from kefu.domain.ids import AccountId, GroupId
from kefu.domain.presence import AgentStatus, PresenceWindow
from kefu.domain.routing import (
    AgentLoad,
    choose_agent,
    is_eligible,
    offer_refused_because,
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
    if status is AgentStatus.OFFLINE and im and not suspended:
        assert offer == "offline"  # whatever their load or presence
