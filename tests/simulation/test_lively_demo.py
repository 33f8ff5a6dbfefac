"""`kefu demo --lively` (issue 16): the decisions of the demo's simulated traffic, pure and
seeded — who arrives when, what each visit does, how a simulated agent's conversation runs —
played by the simulation model's own rules."""

from __future__ import annotations

import random
from pathlib import Path
from statistics import mean

import pytest
from typer.testing import CliRunner

from kefu import cli
from kefu.analytics.metrics import Sender
from kefu.demo import LIVELY_AGENTS
from kefu.domain.presence import AgentStatus
from kefu.seed import DEMO_PHRASES, DEMO_PRODUCTS
from kefu.simulation import model
from kefu.simulation.driver import (
    DEMO_DAY,
    HUMAN_SHARE,
    PLAN,
    RATE_SHARE,
    SHIFTS,
    SOURCES,
    UNKNOWN_QUESTIONS,
    SimClock,
    Step,
    agent_line,
    human_conversation,
    kb_phrasings,
    next_busy_hour,
    plan_visit,
    played_arrivals,
    shift_status,
)

PRODUCTS = tuple(external_id for external_id, _, _ in DEMO_PRODUCTS)
PHRASES = dict(DEMO_PHRASES)


def test_lively_demo_arrivals_follow_the_days_curve_hour_by_hour() -> None:
    rng = random.Random(4)
    days = 40
    per_hour = [0] * model.HOURS
    for hour in range(days * model.HOURS):
        arrivals = played_arrivals(hour, rng)
        assert all(hour * 3600.0 <= at < (hour + 1) * 3600.0 for at in arrivals)
        per_hour[hour % model.HOURS] += len(arrivals)
    for hour, expected in enumerate(DEMO_DAY):
        assert per_hour[hour] / days == pytest.approx(expected, rel=0.12, abs=0.5)
    # The model's own arrivals: the same draws from the same seed.
    assert played_arrivals(10, random.Random(9)) == model.hour_arrivals(90, 10, random.Random(9))


def test_lively_demo_visits_ask_the_knowledge_base_a_person_and_rate_in_their_shares() -> None:
    known = kb_phrasings()
    rng = random.Random(11)
    visits = [plan_visit(rng, known, PRODUCTS) for _ in range(4000)]
    assert "几天能发货" in known and "发什么快递" in known
    questions = [q for v in visits for q in v.questions]
    unknown = [q for q in questions if q in UNKNOWN_QUESTIONS]
    assert all(q in known or q in UNKNOWN_QUESTIONS for q in questions)
    assert len(unknown) / len(questions) == pytest.approx(0.25, abs=0.03)
    assert mean(v.wants_human for v in visits) == pytest.approx(HUMAN_SHARE, abs=0.03)
    rated = [v.stars for v in visits if v.stars is not None]
    assert len(rated) / len(visits) == pytest.approx(RATE_SHARE, abs=0.03)
    assert set(rated) == {1, 2, 3, 4, 5} and mean(rated) > 4
    by_source = {s: [v for v in visits if v.source == s] for s in SOURCES}
    assert len(by_source["product"]) / len(visits) == pytest.approx(0.5, abs=0.03)
    assert all(v.product in PRODUCTS and not v.order_card for v in by_source["product"])
    orders = by_source["order"] + by_source["after_sale"]
    assert all(v.product is None for v in orders)
    assert mean(v.order_card for v in orders) == pytest.approx(0.5, abs=0.04)
    # Seeded: the same seed, the same visits.
    again = random.Random(11)
    assert [plan_visit(again, known, PRODUCTS) for _ in range(50)] == visits[:50]


def test_lively_demo_agent_conversations_run_on_the_models_reply_and_handle_times() -> None:
    since = 36_000.0
    steps = human_conversation(PLAN, random.Random(5), since)
    rng = random.Random(5)
    talked, ended = model.exchange(PLAN, rng, since, since + model.handle_time(PLAN, rng))
    assert [(s.at, s.step) for s in steps[:-1]] == [
        (at, Step.AGENT_SAYS if sender is Sender.AGENT else Step.CONSUMER_SAYS)
        for at, sender in talked
    ]
    assert steps[-1] == steps[-1].__class__(ended, Step.END)
    assert steps[0].step is Step.AGENT_SAYS and steps[0].at > since
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    # Over many conversations: the first answer after the model's mean reply time, and the
    # conversations last its handle time and the last exchange begun before it ran out.
    rng = random.Random(6)
    played = [human_conversation(PLAN, rng, 0.0) for _ in range(3000)]
    assert mean(p[0].at for p in played) == pytest.approx(PLAN.reply_s, rel=0.1)
    lasted = mean(p[-1].at for p in played)
    assert PLAN.handle_s < lasted < PLAN.handle_s + PLAN.reply_s + PLAN.consumer_gap_s


def test_lively_demo_agents_greet_first_thank_last_and_use_the_shops_quick_phrases() -> None:
    rng = random.Random(2)
    assert agent_line(rng, PHRASES, 0, last=False) == PHRASES["问候"]
    assert agent_line(rng, PHRASES, 3, last=True) == PHRASES["感谢"]
    middle = {agent_line(rng, PHRASES, 1, last=False) for _ in range(200)}
    assert middle == {PHRASES[t] for t in ("稍等", "发货", "退换")}
    assert agent_line(rng, {"x": "只有一句"}, 0, last=True) == "只有一句"


def test_lively_demo_clock_runs_speed_times_faster_and_skips_the_empty_night() -> None:
    clock = SimClock(10.0, real_now=100.0)
    assert clock.now(100.0) == 9 * 3600.0
    assert clock.now(103.5) == 9 * 3600.0 + 35.0
    assert clock.real_wait(9 * 3600.0 + 100.0, 103.5) == pytest.approx(6.5)
    assert clock.real_wait(0.0, 103.5) == 0.0
    assert next_busy_hour(9) == 9
    assert next_busy_hour(24) == 24 + 7  # midnight to 07:00 is empty
    clock.skip_to(31 * 3600.0, 103.5)
    assert clock.now(103.5) == 31 * 3600.0
    assert clock.now(104.5) == 31 * 3600.0 + 10.0


def test_lively_demo_agents_work_shifts_with_a_break_and_the_plan_counts_them() -> None:
    assert [shift_status("agent2", h) for h in (8, 9, 12, 20, 21)] == [
        AgentStatus.OFFLINE,
        AgentStatus.ONLINE,
        AgentStatus.BREAK,
        AgentStatus.ONLINE,
        AgentStatus.OFFLINE,
    ]
    assert shift_status("agent4", 23) is AgentStatus.ONLINE
    assert shift_status("agent4", 24 + 23) is AgentStatus.ONLINE  # every played day alike
    assert shift_status("agent4", 24) is AgentStatus.OFFLINE
    assert set(SHIFTS) == set(LIVELY_AGENTS)
    assert PLAN.agents[9] == 2 and PLAN.agents[14] == 3 and PLAN.agents[12] == 2
    assert PLAN.agents[3] == 0


def test_lively_demo_command_serves_with_the_traffic_at_its_speed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[float | None] = []
    monkeypatch.setattr(cli, "run_server", lambda _settings, lively=None: served.append(lively))
    monkeypatch.setenv("KEFU_SECRET_KEY", "lively-test-secret-key-0123456789")
    runner = CliRunner()
    data = str(tmp_path / "demo")
    busy = runner.invoke(cli.app, ["demo", "--lively", "--speed", "25", "--data-dir", data])
    quiet = runner.invoke(cli.app, ["demo", "--data-dir", data])
    assert quiet.exit_code == 0 and busy.exit_code == 0, (quiet.output, busy.output)
    assert served == [25.0, None]
    assert "(simulated)" not in quiet.output
    assert "agent2, agent3, agent4 are played" in " ".join(busy.output.split())
