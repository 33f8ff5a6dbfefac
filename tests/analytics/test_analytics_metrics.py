"""DATA-1, DATA-2, DATA-3 on a hand-built day of a shop in Asia/Shanghai; every expected figure
below was computed by hand from the timeline in the comments, not by the code under test."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.analytics.metrics import (
    ConversationFacts,
    Holding,
    Message,
    OfflineReason,
    Sender,
    agent_figures,
    assessment,
    first_response,
    in_assessment_window,
    replies,
    shop_figures,
)

TZ = ZoneInfo("Asia/Shanghai")
A, B, C = 1, 2, 3
DAY = date(2026, 11, 30)
NOW = datetime(2026, 12, 1, 1, 0, tzinfo=TZ)


def at(hh: int, mm: int, ss: int = 0, *, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=TZ)


def consumer(t: datetime) -> Message:
    return Message(t, Sender.CONSUMER)


def agent(t: datetime, agent_id: int) -> Message:
    return Message(t, Sender.AGENT, agent_id)


def welcome(t: datetime) -> Message:
    return Message(t, Sender.SYSTEM)


NEXT = date(2026, 12, 1)
DAY_OF_A_SHOP = [
    # 1: the bot answers alone; no human request.
    ConversationFacts(1, at(9, 0), messages=(consumer(at(9, 0)), Message(at(9, 0, 1), Sender.BOT))),
    # 2: queued 2 min; replies 20 s, 40 s (two consumer lines, one round), none (a second agent
    # line answers nothing), 200 s. Rated 5.
    ConversationFacts(
        2,
        at(9, 59),
        human_requested_at=at(10, 0),
        holdings=(Holding(A, at(10, 2)),),
        ended_at=at(10, 10),
        messages=(
            consumer(at(9, 59, 50)),
            welcome(at(10, 2)),
            agent(at(10, 2, 20), A),
            consumer(at(10, 3)),
            consumer(at(10, 3, 10)),
            agent(at(10, 3, 40), A),
            agent(at(10, 3, 50), A),
            consumer(at(10, 5)),
            agent(at(10, 8, 20), A),
        ),
        ratings={A: 5},
    ),
    # 3: A answers in 30 s, then transfers to B at 11:03; B answers in 45 s (from the transfer,
    # not from 11:02). B is rated 3.
    ConversationFacts(
        3,
        at(11, 0),
        human_requested_at=at(11, 0),
        holdings=(Holding(A, at(11, 0, 30)), Holding(B, at(11, 3))),
        ended_at=at(11, 10),
        messages=(
            consumer(at(11, 0)),
            agent(at(11, 1), A),
            consumer(at(11, 2)),
            agent(at(11, 3, 45), B),
        ),
        ratings={B: 3},
    ),
    # 4: left the queue; not a non-service.
    ConversationFacts(
        4,
        at(12, 0),
        human_requested_at=at(12, 0),
        offline_reason=OfflineReason.LEFT_QUEUE,
        messages=(consumer(at(12, 0)),),
    ),
    # 5: nobody online: an offline message at once; a non-service.
    ConversationFacts(
        5,
        at(13, 0),
        human_requested_at=at(13, 0),
        offline_reason=OfflineReason.NO_AGENT,
        messages=(consumer(at(13, 0)),),
    ),
    # 6: C sends nothing but the welcome: a non-service, and a round that fails.
    ConversationFacts(
        6,
        at(14, 0),
        human_requested_at=at(14, 0),
        holdings=(Holding(C, at(14, 0, 10)),),
        ended_at=at(14, 20),
        messages=(consumer(at(14, 0, 5)), welcome(at(14, 0, 10))),
    ),
    # 7: asked at 23:58, assigned after midnight: not picked up (same-day rule), outside the
    # assessment window; queued 5 min; A answers 30 s after assignment.
    ConversationFacts(
        7,
        at(23, 57),
        human_requested_at=at(23, 58),
        holdings=(Holding(A, at(0, 3, day=NEXT)),),
        messages=(consumer(at(23, 58)), agent(at(0, 3, 30, day=NEXT), A)),
    ),
    # 8: asked at 22:59 (inside the window), assigned at 23:01 (its rounds are outside it); the
    # first reply 150 s after the request fails the 2-minute rule.
    ConversationFacts(
        8,
        at(22, 59),
        human_requested_at=at(22, 59),
        holdings=(Holding(B, at(23, 1)),),
        ended_at=at(23, 10),
        messages=(
            consumer(at(22, 59)),
            agent(at(23, 1, 30), B),
            consumer(at(23, 2)),
            agent(at(23, 2, 10), B),
        ),
    ),
    # 9: A holds, B is invited and answers the second round (20 s); A is rated 4.
    ConversationFacts(
        9,
        at(15, 0),
        human_requested_at=at(15, 0),
        holdings=(Holding(A, at(15, 0, 5)),),
        invited=frozenset({B}),
        ended_at=at(15, 10),
        messages=(
            consumer(at(15, 0)),
            agent(at(15, 0, 35), A),
            consumer(at(15, 1)),
            agent(at(15, 1, 20), B),
        ),
        ratings={A: 4},
    ),
    # 10: queued all afternoon, never assigned; settled when the day ended: abandoned.
    ConversationFacts(10, at(16, 0), human_requested_at=at(16, 0), messages=(consumer(at(16, 0)),)),
]


def test_data_1_shop_figures_match_the_hand_computed_day() -> None:
    f = shop_figures(DAY_OF_A_SHOP, tz=TZ, now=NOW)
    assert (f.conversations, f.human_requests, f.assigned) == (10, 9, 6)
    assert (f.settled, f.picked_up) == (9, 5)
    assert f.pickup_rate == pytest.approx(5 / 9)
    assert f.abandonment_rate == pytest.approx(4 / 9)
    # queue: 120 + 30 + 10 + 300 + 120 + 5 over 6 assigned
    assert f.queue_time_s == pytest.approx(585 / 6)
    # first responses: 20, 30, 30, 30, 30 (6 has none, welcome excluded)
    assert f.first_response_s == pytest.approx(28.0)
    # replies: 20 40 200 | 30 45 | 30 | 30 10 | 30 20
    assert f.replies == 10
    assert f.response_s == pytest.approx(455 / 10)
    assert (f.replies_within_30s, f.replies_within_60s) == (7, 9)
    assert (f.rated, f.satisfied) == (3, 2)
    assert f.satisfaction_rate == pytest.approx(2 / 3)


def test_data_2_agent_figures_credit_the_receiver_and_the_invited_once() -> None:
    a = agent_figures(DAY_OF_A_SHOP, agent_id=A, tz=TZ, now=NOW)
    assert a.assigned == 4  # 2, 3 (before the transfer), 7, 9
    assert a.first_response_s == pytest.approx((20 + 30 + 30 + 30) / 4)
    assert a.replies == 6
    assert a.response_s == pytest.approx((20 + 40 + 200 + 30 + 30 + 30) / 6)
    assert (a.replies_within_30s, a.replies_within_60s) == (4, 5)
    assert (a.rated, a.satisfied) == (2, 2)
    assert a.rating_rate == pytest.approx(2 / 4)

    b = agent_figures(DAY_OF_A_SHOP, agent_id=B, tz=TZ, now=NOW)
    assert b.assigned == 3  # 3 (received by transfer), 8, 9 (invited)
    assert b.first_response_s == pytest.approx((45 + 30) / 2)
    assert b.replies == 4
    assert b.response_s == pytest.approx((45 + 30 + 10 + 20) / 4)
    assert (b.rated, b.satisfied) == (1, 0)
    assert b.satisfaction_rate == 0.0


def test_data_3_assessment_counts_only_the_0800_to_2300_window() -> None:
    a = assessment(DAY_OF_A_SHOP, tz=TZ, now=NOW)
    assert a.requests == 8  # all but 1 (no request) and 7 (23:58)
    assert a.non_service == 2  # 5 (nobody online) and 6 (welcome only)
    assert a.first_reply_within_2min == 2  # 3 (60 s) and 9 (35 s); 2 took 140 s, 8 150 s
    # rounds in the window: 2 → 20 s, 40 s, 200 s; 3 → 30 s, 45 s; 6 → unanswered; 9 → 30, 20
    assert (a.rounds, a.rounds_within_3min) == (8, 6)
    assert a.non_service_rate == pytest.approx(2 / 8)


def test_data_3_window_edges_are_local_0800_inclusive_and_2300_exclusive() -> None:
    assert in_assessment_window(at(8, 0), TZ)
    assert not in_assessment_window(at(7, 59, 59), TZ)
    assert in_assessment_window(at(22, 59, 59), TZ)
    assert not in_assessment_window(at(23, 0), TZ)
    # 08:00 in Shanghai is 00:00 UTC: the same instant read in UTC is outside.
    assert not in_assessment_window(at(8, 0), ZoneInfo("UTC"))


def test_data_1_a_request_still_queued_today_is_not_settled_yet() -> None:
    waiting = ConversationFacts(20, at(16, 0), human_requested_at=at(16, 0))
    today = shop_figures([waiting], tz=TZ, now=at(16, 30))
    assert (today.settled, today.pickup_rate) == (0, None)
    tomorrow = shop_figures([waiting], tz=TZ, now=at(0, 1, day=NEXT))
    assert (tomorrow.settled, tomorrow.abandonment_rate) == (1, 1.0)


def test_data_1_a_reopened_conversation_counts_its_own_request() -> None:
    """CONV-5: a message after the end opens a new conversation: its figures start afresh."""
    first, again = (
        DAY_OF_A_SHOP[1],
        ConversationFacts(
            21,
            at(18, 0),
            human_requested_at=at(18, 0),
            holdings=(Holding(A, at(18, 1)),),
            messages=(consumer(at(18, 0)), agent(at(18, 1, 10), A)),
        ),
    )
    f = shop_figures([first, again], tz=TZ, now=NOW)
    assert (f.human_requests, f.picked_up) == (2, 2)
    assert first_response(again) == timedelta(seconds=10)


def test_data_1_bot_time_is_neither_queue_nor_response_time() -> None:
    botted = ConversationFacts(
        22,
        at(9, 0),
        human_requested_at=at(9, 10),
        holdings=(Holding(A, at(9, 10)),),
        messages=(
            consumer(at(9, 0)),
            Message(at(9, 0, 2), Sender.BOT),
            agent(at(9, 10, 15), A),
        ),
    )
    f = shop_figures([botted], tz=TZ, now=NOW)
    assert f.queue_time_s == 0.0
    assert [r.took for r in replies(botted)] == [timedelta(seconds=15)]


# --- properties ----------------------------------------------------------------------------

MINUTE = timedelta(minutes=1)


@st.composite
def conversations(draw: st.DrawFn, conversation_id: int) -> ConversationFacts:
    start = at(0, 0) + draw(st.integers(0, 36 * 60)) * MINUTE
    requested = start + draw(st.integers(0, 5)) * MINUTE if draw(st.booleans()) else None
    holdings: tuple[Holding, ...] = ()
    offline = None
    if requested is not None:
        fate = draw(st.sampled_from(["assigned", "offline", "waiting"]))
        if fate == "assigned":
            first = requested + draw(st.integers(0, 600)) * MINUTE
            holdings = (Holding(draw(st.sampled_from([A, B, C])), first),)
            if draw(st.booleans()):
                holdings += (Holding(draw(st.sampled_from([A, B, C])), first + 5 * MINUTE),)
        elif fate == "offline":
            offline = draw(st.sampled_from(list(OfflineReason)))
    t = start
    messages = []
    for _ in range(draw(st.integers(0, 8))):
        t += draw(st.integers(0, 240)) * timedelta(seconds=1)
        sender = draw(st.sampled_from(list(Sender)))
        held_by = holdings[-1].agent_id if holdings else None
        if sender is Sender.AGENT and held_by is None:
            sender = Sender.CONSUMER
        messages.append(Message(t, sender, held_by if sender is Sender.AGENT else None))
    stars = draw(st.none() | st.integers(1, 5))
    ratings = {holdings[-1].agent_id: stars} if holdings and stars else {}
    return ConversationFacts(
        conversation_id,
        start,
        human_requested_at=requested,
        holdings=holdings,
        offline_reason=offline,
        messages=tuple(messages),
        ratings=ratings,
    )


days = st.lists(st.integers(0, 10_000), max_size=25, unique=True).flatmap(
    lambda ids: st.tuples(*(conversations(i) for i in ids))
)


@given(days, st.integers(0, 72 * 60))
def test_data_1_pickup_and_abandonment_make_all_settled_requests(
    day: tuple[ConversationFacts, ...], minutes: int
) -> None:
    now = at(0, 0) + minutes * MINUTE
    f = shop_figures(day, tz=TZ, now=now)
    if f.settled:
        assert f.pickup_rate is not None and f.abandonment_rate is not None
        assert f.pickup_rate + f.abandonment_rate == pytest.approx(1.0)
    rates = [f.pickup_rate, f.rate_30s, f.rate_60s, f.satisfaction_rate]
    a = assessment(day, tz=TZ, now=now)
    rates += [a.non_service_rate, a.first_reply_rate_2min, a.human_reply_rate_3min]
    assert all(r is None or 0.0 <= r <= 1.0 for r in rates)
    assert f.replies_within_30s <= f.replies_within_60s <= f.replies


@given(days)
def test_data_2_every_reply_is_credited_to_exactly_one_agent(
    day: tuple[ConversationFacts, ...],
) -> None:
    shop = shop_figures(day, tz=TZ, now=NOW)
    per_agent = [agent_figures(day, agent_id=x, tz=TZ, now=NOW) for x in (A, B, C)]
    assert sum(p.replies for p in per_agent) == shop.replies
    for c in day:
        for r in replies(c):
            assert r.took >= timedelta(0)


@given(days, st.integers(1, 5))
def test_rate_3_a_rating_moves_satisfaction_only_as_its_stars_say(
    day: tuple[ConversationFacts, ...], stars: int
) -> None:
    unrated = [c for c in day if c.holdings and not c.ratings]
    if not unrated:
        return
    target = unrated[0]
    rated = ConversationFacts(
        target.conversation_id,
        target.started_at,
        human_requested_at=target.human_requested_at,
        holdings=target.holdings,
        messages=target.messages,
        ratings={target.holdings[-1].agent_id: stars},
    )
    before = shop_figures(day, tz=TZ, now=NOW)
    after = shop_figures([rated if c is target else c for c in day], tz=TZ, now=NOW)
    assert after.rated == before.rated + 1
    assert after.satisfied == before.satisfied + (1 if stars >= 4 else 0)
