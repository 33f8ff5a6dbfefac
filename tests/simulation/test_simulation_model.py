"""`kefu simulate` (issue 16): a day of human requests against a staffing plan, judged by the
analytics' own formulas (DATA-1, DATA-3, DATA-4's pickup target)."""

from __future__ import annotations

import json
import random
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from kefu.cli import app
from kefu.simulation.model import HOURS, DayPlan, agents_needed, hourly, simulate

TZ = ZoneInfo("Asia/Shanghai")
# A shop's day: quiet nights, a morning rise, busy afternoon and evening.
CURVE = (0, 0, 0, 0, 0, 0, 0, 2, 20, 60, 90, 100, 80, 70, 90, 100, 90, 80, 70, 80, 100, 90, 50, 10)


def _plan(agents: int | tuple[int, ...], **changes: float) -> DayPlan:
    staffed = hourly([agents]) if isinstance(agents, int) else agents
    return DayPlan(
        arrivals=tuple(float(a) for a in CURVE),
        agents=tuple(int(n) for n in staffed),
        **changes,  # type: ignore[arg-type]
    )


def test_data_1_simulated_pickup_and_abandonment_are_the_whole_of_the_requests() -> None:
    figures = simulate(_plan(2), random.Random(3), days=3, tz=TZ).day
    assert figures.human_requests == figures.settled > 900
    assert figures.pickup_rate is not None and figures.abandonment_rate is not None
    assert figures.pickup_rate + figures.abandonment_rate == pytest.approx(1.0)


def test_data_1_more_agents_pick_up_more_and_nobody_picks_up_without_agents() -> None:
    nobody = simulate(_plan(0), random.Random(1), days=2, tz=TZ).day
    short = simulate(_plan(1), random.Random(1), days=2, tz=TZ).day
    staffed = simulate(_plan(10), random.Random(1), days=2, tz=TZ).day
    assert nobody.pickup_rate == 0 and nobody.assigned == 0
    assert short.pickup_rate is not None and short.pickup_rate < 0.6
    assert staffed.pickup_rate is not None and staffed.pickup_rate > 0.99
    assert staffed.queue_time_s is not None and short.queue_time_s is not None
    assert staffed.queue_time_s < short.queue_time_s


def test_data_3_replies_follow_the_agents_reply_time() -> None:
    fast = simulate(_plan(10, reply_s=10.0), random.Random(2), days=2, tz=TZ)
    slow = simulate(_plan(10, reply_s=150.0), random.Random(2), days=2, tz=TZ)
    assert fast.day.response_s == pytest.approx(10.0, rel=0.25)
    assert slow.day.response_s == pytest.approx(150.0, rel=0.25)
    assert fast.assessment.first_reply_rate_2min is not None
    assert slow.assessment.first_reply_rate_2min is not None
    assert fast.assessment.first_reply_rate_2min > 0.95 > slow.assessment.first_reply_rate_2min


def test_data_4_agents_needed_reach_the_pickup_target_hour_by_hour() -> None:
    plan = _plan(0)
    needed = agents_needed(plan, target=0.8, seed=5, days=4, tz=TZ)
    assert len(needed) == HOURS
    assert all(n == 0 for a, n in zip(CURVE, needed, strict=True) if a == 0)
    assert max(needed) >= 2  # 100 requests an hour of 8 minutes each need more than one agent
    staffed = simulate(
        DayPlan(arrivals=plan.arrivals, agents=needed), random.Random(5), days=4, tz=TZ
    )
    for hour in staffed.hours:
        if hour.arrivals > 0:
            assert hour.figures.pickup_rate is not None
            assert hour.figures.pickup_rate >= 0.75, hour  # the target, within replay noise
    fewer = tuple(max(n - 1, 0) for n in needed)
    short = simulate(DayPlan(arrivals=plan.arrivals, agents=fewer), random.Random(5), days=4, tz=TZ)
    assert short.day.pickup_rate is not None and short.day.pickup_rate < 0.8


def test_a_plan_names_24_sensible_hours() -> None:
    with pytest.raises(ValueError):
        DayPlan(arrivals=(1.0,) * 23, agents=(1,) * 24)
    with pytest.raises(ValueError):
        DayPlan(arrivals=(-1.0,) * 24, agents=(1,) * 24)
    with pytest.raises(ValueError):
        DayPlan(arrivals=(1.0,) * 24, agents=(1,) * 24, reception_limit=0)
    assert hourly([3]) == (3,) * 24


def test_kefu_simulate_prints_the_day_and_the_agents_it_needs() -> None:
    runner = CliRunner()
    arrivals = ",".join(str(a) for a in CURVE)
    done = runner.invoke(
        app, ["simulate", "--arrivals", arrivals, "--agents", "2", "--days", "2", "--json"]
    )
    assert done.exit_code == 0, done.output
    assert "agent_hours_needed" in done.output and "15:00" in done.output
    figures = json.loads(done.output.strip().splitlines()[-1])
    assert figures["agent_hours"] == 48
    assert len(figures["agents_needed"]) == 24
    assert 0 < figures["pickup_rate"] < 1
    assert figures["pickup_rate"] + figures["abandonment_rate"] == pytest.approx(1.0)


def test_kefu_simulate_refuses_a_plan_it_cannot_read() -> None:
    runner = CliRunner()
    bad_hours = runner.invoke(app, ["simulate", "--arrivals", "1,2,3", "--agents", "1"])
    bad_zone = runner.invoke(
        app, ["simulate", "--arrivals", "5", "--agents", "1", "--tz", "Mars/Olympus"]
    )
    assert bad_hours.exit_code == bad_zone.exit_code == 2
    assert "24" in bad_hours.output and "Mars/Olympus" in bad_zone.output
