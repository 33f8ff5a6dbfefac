"""Who gets a human request (ROUTE-1), in what order the queue drains (ROUTE-2/3), and the
estimated wait shown to a queued consumer (ROUTE-4). Pure: loads come in, decisions go out.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from kefu.domain.ids import AccountId, ConversationId, GroupId
from kefu.domain.presence import AgentStatus


class QueueOrder(StrEnum):
    FCFS = "fcfs"
    LCFS = "lcfs"


@dataclass(frozen=True, slots=True)
class AgentLoad:
    agent_id: AccountId
    group_id: GroupId | None
    status: AgentStatus
    is_suspended: bool
    has_im_permission: bool
    limit: int
    current: int
    # PRES-1: a staff socket of the agent's is open or went away within the grace period.
    is_present: bool = True

    @property
    def idle_rate(self) -> float:
        return (self.limit - self.current) / self.limit if self.limit > 0 else 0.0


@dataclass(frozen=True, slots=True)
class QueuedRequest:
    conversation_id: ConversationId
    group_id: GroupId | None
    human_requested_at: datetime


def is_eligible(agent: AgentLoad, group_id: GroupId | None) -> bool:
    """ROUTE-1: IM permission, online and present (PRES-1), not suspended, below the limit,
    in the entry's group."""
    return (
        agent.has_im_permission
        and agent.status is AgentStatus.ONLINE
        and agent.is_present
        and not agent.is_suspended
        and agent.current < agent.limit
        and (group_id is None or agent.group_id == group_id)
    )


# CONV-7: why an agent cannot take a conversation now, most lasting first.
NO_IM_PERMISSION = "no_im_permission"
SUSPENDED = "suspended"
OFFLINE = "offline"
DISCONNECTED = "disconnected"
FULL = "full"
# A busy agent or one on a break may be offered a transfer, to accept once back online.
OFFER_WAITS_FOR = frozenset({AgentStatus.BUSY.value, AgentStatus.BREAK.value})


def unavailable_because(agent: AgentLoad) -> str | None:
    """CONV-7: the reason `agent` is not eligible (ROUTE-1, any group), or None if they are:
    no_im_permission, suspended, offline, disconnected, full, busy or break."""
    if not agent.has_im_permission:
        return NO_IM_PERMISSION
    if agent.is_suspended:
        return SUSPENDED
    if agent.status is AgentStatus.OFFLINE:
        return OFFLINE
    if not agent.is_present:
        return DISCONNECTED
    if agent.current >= agent.limit:
        return FULL
    if agent.status is not AgentStatus.ONLINE:
        return agent.status.value
    return None


def offer_refused_because(agent: AgentLoad) -> str | None:
    """CONV-7: why a transfer may not even be offered to `agent` (refused at once), or None.
    Busy or on a break may be offered: the agent accepts once online."""
    reason = unavailable_because(agent)
    return None if reason in OFFER_WAITS_FOR else reason


def choose_agent(
    agents: Sequence[AgentLoad],
    group_id: GroupId | None,
    rng: random.Random,
    *,
    exclude: frozenset[AccountId] = frozenset(),
) -> AgentLoad | None:
    """ROUTE-1: the eligible agent with the highest idle rate; ties broken at random."""
    eligible = [a for a in agents if a.agent_id not in exclude and is_eligible(a, group_id)]
    if not eligible:
        return None
    best = max(a.idle_rate for a in eligible)
    # Compare through the same integers as the rates so that 1/3 and 2/6 tie exactly.
    tied = [a for a in eligible if _same_rate(a, best)]
    return rng.choice(tied)


def _same_rate(agent: AgentLoad, best: float) -> bool:
    return abs(agent.idle_rate - best) < 1e-12


def queue_sorted(requests: Sequence[QueuedRequest], order: QueueOrder) -> list[QueuedRequest]:
    """ROUTE-3: first-come-first-served (default) or last-come-first-served."""
    newest_first = order is QueueOrder.LCFS
    return sorted(
        requests,
        key=lambda r: (r.human_requested_at, r.conversation_id),
        reverse=newest_first,
    )


@dataclass(frozen=True, slots=True)
class Assignment:
    conversation_id: ConversationId
    agent_id: AccountId


def plan_assignments(
    queue: Sequence[QueuedRequest],
    agents: Sequence[AgentLoad],
    order: QueueOrder,
    rng: random.Random,
) -> list[Assignment]:
    """ROUTE-2: drain the queue in order while some eligible agent has room.

    A request whose group has no room waits without blocking requests of other groups. Each
    request gets what `choose_agent` would give it against the loads planned so far (the same
    draws from `rng`), found through per-group pools by idle rate instead of a scan of every
    agent, so that a drain of thousands of requests stays fast.
    """
    loads = list(agents)
    pools: dict[GroupId | None, _Pool] = {}
    planned: list[Assignment] = []
    for request in queue_sorted(queue, order):
        group_id = request.group_id
        pool = pools.get(group_id)
        if pool is None:
            pool = pools[group_id] = _Pool(loads, group_id)
        chosen = pool.choose(rng)
        if chosen is None:
            continue
        agent = loads[chosen]
        loads[chosen] = replace(agent, current=agent.current + 1)
        for other in pools.values():
            other.moved(chosen, agent, loads[chosen])
        planned.append(Assignment(request.conversation_id, agent.agent_id))
    return planned


class _Pool:
    """The agents eligible for one group, by idle rate; each rate's agents in input order.

    Equal rates of integer ratios are equal floats, so a rate is its own key (`_same_rate`).
    """

    def __init__(self, loads: Sequence[AgentLoad], group_id: GroupId | None) -> None:
        self._group_id = group_id
        self._by_rate: dict[float, list[int]] = {}
        for i, agent in enumerate(loads):
            if is_eligible(agent, group_id):
                self._by_rate.setdefault(agent.idle_rate, []).append(i)

    def choose(self, rng: random.Random) -> int | None:
        if not self._by_rate:
            return None
        return rng.choice(self._by_rate[max(self._by_rate)])

    def moved(self, i: int, before: AgentLoad, after: AgentLoad) -> None:
        if not is_eligible(before, self._group_id):
            return
        tied = self._by_rate[before.idle_rate]
        tied.remove(i)
        if not tied:
            del self._by_rate[before.idle_rate]
        if is_eligible(after, self._group_id):
            bisect.insort(self._by_rate.setdefault(after.idle_rate, []), i)


def queue_positions(queue: Sequence[QueuedRequest], order: QueueOrder) -> dict[ConversationId, int]:
    """ROUTE-4: 1-based position of each request within its group's queue."""
    positions: dict[ConversationId, int] = {}
    seen: dict[GroupId | None, int] = {}
    for request in queue_sorted(queue, order):
        seen[request.group_id] = seen.get(request.group_id, 0) + 1
        positions[request.conversation_id] = seen[request.group_id]
    return positions


THROUGHPUT_WINDOW = timedelta(minutes=30)


def is_on_duty(agent: AgentLoad, group_id: GroupId | None) -> bool:
    """ROUTE-4: an agent who will take the group's queue as room frees: eligible (ROUTE-1)
    but for their load."""
    return is_eligible(replace(agent, current=0, limit=max(agent.limit, 1)), group_id)


def estimate_wait(
    position: int,
    recent_assignments: int,
    window: timedelta = THROUGHPUT_WINDOW,
    *,
    on_duty: bool = True,
) -> timedelta | None:
    """ROUTE-4: the wait at the group's recent pace; None while there is no pace yet, and
    while no agent of the group is on duty (no invented minutes: nobody may come)."""
    if recent_assignments <= 0 or not on_duty:
        return None
    per_assignment = window / recent_assignments
    return per_assignment * position


def offer_expired(expires_at: datetime | None, now: datetime) -> bool:
    """CONV-7: a pending transfer offer lapses at its deadline (None: it has none)."""
    return expires_at is not None and now >= expires_at
