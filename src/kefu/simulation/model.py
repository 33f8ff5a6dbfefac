"""A shop's day of human requests, simulated: how many consumers are picked up, how long they
wait, and how many agents each hour needs to reach a pickup target (Feige: 80 %, DATA-4).

Pure: a random generator comes in, figures go out. The simulation writes each conversation as
the analytics' ConversationFacts, and every figure comes from kefu.analytics.metrics — the same
formulas the dashboard uses, so a plan is judged by the rules the shop is judged by.

The model, in words (each number is a DayPlan field):
- Human requests (what the bot did not answer) arrive as a Poisson process whose rate is the
  hour's figure in `arrivals` (requests in that local hour).
- `agents[h]` agents are online in hour h, each taking at most `reception_limit` conversations
  at once (ROUTE-1). A request goes to the least-loaded online agent with room; otherwise it
  waits in one first-come-first-served queue (ROUTE-2).
- A consumer waits in the queue for an exponentially distributed patience (mean
  `patience_s`), then leaves (abandoned). An agent going off shift keeps their conversations
  but takes no new ones.
- A conversation lasts a log-normal time (mean `handle_s`, spread `handle_spread`) from its
  assignment; the consumer writes when it starts and then every `consumer_gap_s` on average;
  the agent answers each after an exponential time (mean `reply_s`).
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from kefu.analytics.metrics import (
    Assessment,
    ConversationFacts,
    Holding,
    Message,
    Sender,
    ServiceFigures,
    assessment,
    shop_figures,
)

HOURS = 24
MAX_AGENTS = 500  # per hour: the search for a target stops there
# The simulated day: a Monday in UTC (the plan's hours are local hours of `tz`).
DAY = datetime(2026, 1, 5, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DayPlan:
    arrivals: tuple[float, ...]  # human requests expected in each local hour (24)
    agents: tuple[int, ...]  # agents online in each local hour (24)
    reception_limit: int = 5
    handle_s: float = 480.0
    handle_spread: float = 0.6
    patience_s: float = 180.0
    reply_s: float = 25.0
    consumer_gap_s: float = 90.0

    def __post_init__(self) -> None:
        if len(self.arrivals) != HOURS or len(self.agents) != HOURS:
            raise ValueError("a plan names 24 hours of arrivals and of agents")
        if any(a < 0 for a in self.arrivals) or any(n < 0 for n in self.agents):
            raise ValueError("arrivals and agents are never negative")
        if self.reception_limit < 1:
            raise ValueError("the reception limit is at least 1")
        if min(self.handle_s, self.patience_s, self.reply_s, self.consumer_gap_s) <= 0:
            raise ValueError("times are positive")


@dataclass(frozen=True, slots=True)
class HourFigures:
    hour: int
    arrivals: float
    agents: int
    figures: ServiceFigures


@dataclass(frozen=True, slots=True)
class DayFigures:
    day: ServiceFigures
    assessment: Assessment
    hours: tuple[HourFigures, ...]


def simulate(plan: DayPlan, rng: random.Random, *, days: int = 1, tz: ZoneInfo) -> DayFigures:
    """`days` independent days of `plan`, their figures pooled (more days, steadier figures)."""
    facts: list[ConversationFacts] = []
    for d in range(days):
        facts += _one_day(plan, rng, start=DAY + timedelta(days=d), tz=tz, first_id=len(facts))
    now = DAY + timedelta(days=days + 1)  # every request is settled
    by_hour: list[list[ConversationFacts]] = [[] for _ in range(HOURS)]
    for c in facts:
        assert c.human_requested_at is not None
        by_hour[c.human_requested_at.astimezone(tz).hour].append(c)
    hours = tuple(
        HourFigures(h, plan.arrivals[h], plan.agents[h], shop_figures(by_hour[h], tz=tz, now=now))
        for h in range(HOURS)
    )
    return DayFigures(
        day=shop_figures(facts, tz=tz, now=now),
        assessment=assessment(facts, tz=tz, now=now),
        hours=hours,
    )


def agents_needed(
    plan: DayPlan, *, target: float, seed: int, days: int, tz: ZoneInfo
) -> tuple[int, ...]:
    """The fewest agents per hour, hour by hour from midnight, at which every hour with requests
    reaches `target` pickup. Agents of an hour also serve the queue the hour before left, so
    earlier hours are settled first; while an hour is searched, later hours have no agents (a
    request late in the hour is not rescued by the next shift: the answer errs on the safe
    side) and no requests (first come, first served: they never change an earlier request's
    fate). Each trial replays the same random days (`seed`)."""
    agents = [0] * HOURS
    for hour in range(HOURS):
        if plan.arrivals[hour] <= 0:
            continue
        upto = plan.arrivals[: hour + 1] + (0.0,) * (HOURS - hour - 1)
        while agents[hour] < MAX_AGENTS:
            trial = replace(plan, arrivals=upto, agents=tuple(agents))
            pickup = _pickup_in(trial, hour, seed=seed, days=days, tz=tz)
            if pickup is None or pickup >= target:
                break
            agents[hour] = _next_try(agents[hour], pickup, target)
    return tuple(agents)


def _pickup_in(plan: DayPlan, hour: int, *, seed: int, days: int, tz: ZoneInfo) -> float | None:
    rng = random.Random(seed)
    facts = [
        c
        for d in range(days)
        for c in _one_day(plan, rng, start=DAY + timedelta(days=d), tz=tz, first_id=0, talk=False)
        if c.human_requested_at is not None and c.human_requested_at.astimezone(tz).hour == hour
    ]
    now = DAY + timedelta(days=days + 1)
    return shop_figures(facts, tz=tz, now=now).pickup_rate


def _next_try(agents: int, pickup: float, target: float) -> int:
    """One more agent, or a bigger step while far from the target (the search stays short)."""
    if agents == 0 or pickup <= 0:
        return agents + 1
    return agents + max(1, math.floor(agents * (target / pickup - 1) / 2))


# --- one day ------------------------------------------------------------------------------

_ARRIVE, _FREE, _GIVE_UP, _SHIFT = 0, 1, 2, 3


def _one_day(
    plan: DayPlan,
    rng: random.Random,
    *,
    start: datetime,
    tz: ZoneInfo,
    first_id: int,
    talk: bool = True,
) -> list[ConversationFacts]:
    """The day's conversations; without `talk`, only their requests and assignments (all that
    pickup needs)."""
    local_midnight = start.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    origin = local_midnight.astimezone(UTC)
    events: list[tuple[float, int, int, int]] = []  # (seconds, kind, sequence, subject)
    sequence = 0

    def push(at: float, kind: int, subject: int) -> None:
        nonlocal sequence
        sequence += 1
        heapq.heappush(events, (at, kind, sequence, subject))

    for hour in range(HOURS):
        push(hour * 3600.0, _SHIFT, hour)
        for at in hour_arrivals(plan.arrivals[hour], hour, rng):
            push(at, _ARRIVE, 0)

    online = 0
    loads = [0] * max(max(plan.agents), 1)
    queue: list[int] = []  # request numbers, first come first
    requested: list[float] = []
    assigned: dict[int, tuple[int, float, float]] = {}  # request: agent, since, until
    gave_up: dict[int, float] = {}

    def assign(request: int, at: float) -> bool:
        candidates = [a for a in range(online) if loads[a] < plan.reception_limit]
        if not candidates:
            return False
        agent = min(candidates, key=lambda a: (loads[a], a))
        loads[agent] += 1
        until = at + handle_time(plan, rng)
        assigned[request] = (agent, at, until)
        push(until, _FREE, agent)
        return True

    while events:
        at, kind, _, subject = heapq.heappop(events)
        if kind == _SHIFT:
            online = plan.agents[subject]
        elif kind == _ARRIVE:
            request = len(requested)
            requested.append(at)
            if not assign(request, at):
                queue.append(request)
                push(at + patience(plan, rng), _GIVE_UP, request)
        elif kind == _GIVE_UP:
            if subject in queue:
                queue.remove(subject)
                gave_up[subject] = at
            continue
        else:
            loads[subject] -= 1
        while queue and assign(queue[0], at):
            queue.pop(0)

    return [
        _facts(
            plan, rng, origin, first_id + n, requested[n], assigned.get(n), gave_up.get(n),
            talk=talk,
        )
        for n in range(len(requested))
    ]  # fmt: skip


# --- the rules of one consumer and one agent (the demo's traffic, simulation/lively.py, plays
# them too) -----------------------------------------------------------------------------------


def hour_arrivals(per_hour: float, hour: int, rng: random.Random) -> list[float]:
    """The arrivals of local hour `hour` (a Poisson process of `per_hour` an hour), in seconds
    from midnight."""
    times: list[float] = []
    rate = per_hour / 3600.0
    at = hour * 3600.0
    while rate > 0:
        at += rng.expovariate(rate)
        if at >= (hour + 1) * 3600.0:
            break
        times.append(at)
    return times


def handle_time(plan: DayPlan, rng: random.Random) -> float:
    """How long a conversation lasts from its assignment (log-normal, mean `handle_s`)."""
    sigma = plan.handle_spread
    return rng.lognormvariate(math.log(plan.handle_s) - sigma * sigma / 2, sigma)


def patience(plan: DayPlan, rng: random.Random) -> float:
    """How long a queued consumer waits before leaving (exponential, mean `patience_s`)."""
    return rng.expovariate(1 / plan.patience_s)


def reply_time(plan: DayPlan, rng: random.Random) -> float:
    """How long an agent takes to answer a consumer's message (exponential, mean `reply_s`)."""
    return rng.expovariate(1 / plan.reply_s)


def consumer_gap(plan: DayPlan, rng: random.Random) -> float:
    """How long a consumer takes to write again after an answer (exponential)."""
    return rng.expovariate(1 / plan.consumer_gap_s)


def exchange(
    plan: DayPlan, rng: random.Random, since: float, until: float
) -> tuple[list[tuple[float, Sender]], float]:
    """A human conversation assigned at `since` that lasts until `until`: the agent answers the
    opening message after a reply time, the consumer writes again after a gap, and so on while
    the conversation lasts. The messages after the opening one, and when it ends (the last
    answer may come after `until`)."""
    messages: list[tuple[float, Sender]] = []
    asked = since
    while asked < until:
        answered = asked + reply_time(plan, rng)
        messages.append((answered, Sender.AGENT))
        asked = answered + consumer_gap(plan, rng)
        if asked < until:
            messages.append((asked, Sender.CONSUMER))
    return messages, max(until, asked)


def _facts(
    plan: DayPlan,
    rng: random.Random,
    origin: datetime,
    conversation_id: int,
    requested_s: float,
    assigned: tuple[int, float, float] | None,
    gave_up_s: float | None,
    *,
    talk: bool,
) -> ConversationFacts:
    def t(seconds: float) -> datetime:
        return origin + timedelta(seconds=seconds)

    messages = [Message(t(requested_s), Sender.CONSUMER)]
    if assigned is None:
        ended = gave_up_s if gave_up_s is not None else requested_s
        return ConversationFacts(
            conversation_id, t(requested_s), t(requested_s), ended_at=t(ended),
            messages=tuple(messages),
        )  # fmt: skip
    agent, since, end = assigned
    if talk:
        talked, end = exchange(plan, rng, since, end)
        messages += [
            Message(t(at), sender, agent if sender is Sender.AGENT else None)
            for at, sender in talked
        ]
    return ConversationFacts(
        conversation_id,
        t(requested_s),
        t(requested_s),
        holdings=(Holding(agent, t(since)),),
        ended_at=t(end),
        messages=tuple(sorted(messages, key=lambda m: m.at)),
    )


def hourly(values: Sequence[float]) -> tuple[float, ...]:
    """24 values from 24, or one value for every hour."""
    if len(values) == 1:
        return tuple(values) * HOURS
    if len(values) != HOURS:
        raise ValueError(f"give 1 or 24 values, not {len(values)}")
    return tuple(values)
