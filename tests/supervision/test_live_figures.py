"""LIVE-1: the live figures as pure functions (supervision/figures.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from kefu.analytics.metrics import ConversationFacts, Holding, Message, Sender, shop_figures
from kefu.supervision.figures import (
    AgentFacts,
    BotFacts,
    FaqClicks,
    LiveFacts,
    OpenConversation,
    agent_groups,
    faq_slot_start,
    for_groups,
    live_view,
    scoped_values,
)

NOW = datetime(2026, 3, 2, 6, 47, tzinfo=UTC)  # 14:47 in Shanghai
TZ = ZoneInfo("Asia/Shanghai")
G1, G2 = 10, 20
ANN, BOB, CAT, DAN = 1, 2, 3, 4


def _agent(agent_id: int, group_id: int | None, **kw: object) -> AgentFacts:
    values: dict[str, object] = {
        "id": agent_id,
        "display_name": f"a{agent_id}",
        "group_id": group_id,
        "role": "agent",
        "status": "online",
        "is_suspended": False,
        "is_connected": True,
        "load": 0,
        "reception_limit": 5,
    }
    values.update(kw)
    return AgentFacts(**values)  # type: ignore[arg-type]


def _assigned(cid: int, agent_id: int, *, waiting: bool, group_id: int = G1) -> OpenConversation:
    since = NOW - timedelta(seconds=30) if waiting else None
    return OpenConversation(cid, "assigned", group_id, agent_id, since)


def _facts(**kw: object) -> LiveFacts:
    values: dict[str, object] = {
        "shop_id": 7,
        "now": NOW,
        "tz": TZ,
        "groups": ((G1, "售前"), (G2, "售后")),
        "agents": (
            _agent(ANN, G1),
            _agent(BOB, G1, is_suspended=True),
            _agent(CAT, G2, is_connected=False),  # socket gone: disconnected
            _agent(DAN, G2, status="offline", is_connected=False),
        ),
        "open_conversations": (),
        "recent": (),
        "credits": (),
        "today_figures": shop_figures((), tz=TZ, now=NOW),
        "yesterday_figures": shop_figures((), tz=TZ, now=NOW),
        "bot": BotFacts(True, "bot_first", 0, 0, faq_slot_start(NOW, TZ)),
    }
    values.update(kw)
    return LiveFacts(**values)  # type: ignore[arg-type]


def test_live_1_pending_per_agent_counts_consumers_awaiting_a_reply() -> None:
    view = live_view(
        _facts(
            open_conversations=(
                _assigned(100, ANN, waiting=True),
                _assigned(101, ANN, waiting=True),
                _assigned(102, ANN, waiting=False),  # answered: not pending
                _assigned(103, BOB, waiting=True),
                _assigned(104, CAT, waiting=True, group_id=G2),
                OpenConversation(105, "queued", G1, None, None),
            )
        )
    )
    agents = {a.id: a for a in view.agents}
    assert (agents[ANN].pending, agents[BOB].pending, agents[CAT].pending) == (2, 1, 1)
    assert view.shop is not None
    # Online: ann and bob (suspended counts as online); cat is disconnected, dan offline.
    assert (view.shop.online, view.shop.suspended, view.shop.pending) == (2, 1, 4)
    assert view.shop.pending_per_agent == 2.0
    assert view.shop.queued == 1
    g1, g2 = view.groups
    assert (g1.pending, g1.online, g1.suspended, g1.queued, g1.pending_per_agent) == (
        3,
        2,
        1,
        1,
        1.5,
    )
    assert (g2.pending, g2.online, g2.pending_per_agent) == (1, 0, None)


def test_live_1_disconnected_when_the_socket_is_gone() -> None:
    agents = {a.id: a for a in live_view(_facts()).agents}
    assert agents[CAT].state == "disconnected" and not agents[CAT].is_online
    assert agents[DAN].state == "offline"  # offline on purpose is not a disconnection
    assert agents[ANN].state == "online" and agents[ANN].is_online


def test_live_1_served_today_counts_each_agent_who_served() -> None:
    credits = (
        (1, ANN),  # ann received conversation 1 and transferred it to bob: both served
        (1, BOB),
        (1, ANN),  # ... and got it back: still one consumer for ann
        (3, ANN),
        (2, CAT),  # cat was invited into conversation 2
    )
    today = shop_figures(
        (ConversationFacts(n, NOW - timedelta(hours=1)) for n in (1, 2, 3)), tz=TZ, now=NOW
    )
    view = live_view(_facts(credits=credits, today_figures=today))
    served = {a.id: a.served_today for a in view.agents}
    assert served == {ANN: 2, BOB: 1, CAT: 1, DAN: 0}
    assert view.shop is not None and view.shop.today.conversations == 3


def _exchange(cid: int, agent_id: int, asked_s: int, replied_s: int) -> ConversationFacts:
    start = NOW - timedelta(minutes=30)
    return ConversationFacts(
        cid,
        start,
        holdings=(Holding(agent_id, start),),
        messages=(
            Message(NOW - timedelta(seconds=asked_s), Sender.CONSUMER),
            Message(NOW - timedelta(seconds=replied_s), Sender.AGENT, agent_id),
        ),
    )


def test_live_1_response_over_last_3_minutes_is_the_mean_of_agent_means() -> None:
    recent = (
        _exchange(1, ANN, 100, 90),  # 10 s
        _exchange(2, ANN, 100, 70),  # 30 s -> ann 20 s
        _exchange(3, BOB, 200, 160),  # 40 s
        _exchange(4, CAT, 400, 300),  # replied 5 minutes ago: outside the window
    )
    view = live_view(_facts(recent=recent))
    agents = {a.id: a for a in view.agents}
    assert agents[ANN].response_3m_s == 20.0
    assert agents[BOB].response_3m_s == 40.0
    assert agents[CAT].response_3m_s is None
    assert view.shop is not None and view.shop.response_3m_s == 30.0
    assert view.groups[0].response_3m_s == 30.0 and view.groups[1].response_3m_s is None


def test_live_1_a_reply_stamped_after_the_views_clock_reading_counts() -> None:
    """The view reads the clock, then the database: a reply committed in between is stamped
    after `now`. It has cleared the conversation's pending, so its response time shows too."""
    late = _exchange(1, ANN, 10, 0)
    late = replace(
        late, messages=(late.messages[0], replace(late.messages[1], at=NOW + timedelta(seconds=1)))
    )
    view = live_view(_facts(recent=(late,)))
    assert {a.id: a.response_3m_s for a in view.agents}[ANN] == 11.0


def test_live_1_bot_handover_rate_and_faq_clicks_of_the_last_half_hour() -> None:
    slot = faq_slot_start(NOW, TZ)
    assert slot == datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # 14:00–14:30 local at 14:47
    bot = BotFacts(
        True, "human_first", 4, 5, slot, (FaqClicks("a", "发货", 3), FaqClicks("b", "退货", 0))
    )
    view = live_view(_facts(bot=bot))
    assert view.bot is not None
    assert view.bot.handover_rate_3m == 1.25  # may pass 100 % (seed 001)
    assert [c.item_id for c in view.bot.faq_clicks] == ["a"]  # zero clicks are not shown


def test_live_1_scoped_values_per_contract() -> None:
    view = live_view(
        _facts(
            open_conversations=(_assigned(100, ANN, waiting=True),),
            recent=(_exchange(1, ANN, 100, 90),),
            bot=BotFacts(True, "bot_first", 2, 1, faq_slot_start(NOW, TZ)),
        )
    )
    values = scoped_values(view)
    assert values[("shop", None)] == {
        "queued": 0.0,
        "online": 2.0,
        "suspended": 1.0,
        "pending_per_agent": 0.5,
        "response_3m_s": 10.0,
        "handover_rate_3m": 0.5,
    }
    assert values[("group", G1)] == {
        "queued": 0.0,
        "online": 2.0,
        "suspended": 1.0,
        "pending": 1.0,
        "pending_per_agent": 0.5,
        "response_3m_s": 10.0,
    }
    # No data, no value: group 2 has nobody online and no reply.
    assert values[("group", G2)] == {"queued": 0.0, "online": 0.0, "suspended": 0.0, "pending": 0.0}
    assert values[("agent", ANN)] == {"pending": 1.0, "response_3m_s": 10.0, "served_today": 0.0}
    assert values[("agent", BOB)] == {"pending": 0.0, "served_today": 0.0}
    assert agent_groups(view)[ANN] == frozenset({G1})


def test_live_1_a_leader_sees_only_their_group() -> None:
    view = for_groups(live_view(_facts()), frozenset({G2}))
    assert view.shop is None and view.bot is None
    assert [g.id for g in view.groups] == [G2]
    assert {a.id for a in view.agents} == {CAT, DAN}
    assert ("shop", None) not in scoped_values(view)
