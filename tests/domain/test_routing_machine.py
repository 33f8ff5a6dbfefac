"""ROUTE-1/2 invariants under any sequence of requests, ends, status and limit changes: nobody
over their limit, nothing lost or assigned twice, and nobody waits while someone has room."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from kefu.domain.ids import AccountId, ConversationId, GroupId
from kefu.domain.presence import AgentStatus
from kefu.domain.routing import (
    AgentLoad,
    QueuedRequest,
    QueueOrder,
    is_eligible,
    plan_assignments,
)

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
GROUPS = [GroupId(1), GroupId(2)]


class ShopMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.rng = random.Random(0)
        self.agents = {
            AccountId(i): AgentLoad(
                AccountId(i), GROUPS[i % 2], AgentStatus.ONLINE, False, True, 2, 0
            )
            for i in range(1, 5)
        }
        self.queue: dict[ConversationId, QueuedRequest] = {}
        self.assigned: dict[ConversationId, AccountId] = {}
        self.ended: set[ConversationId] = set()
        self.next_id = 1
        self.order = QueueOrder.FCFS
        self.group_one: set[ConversationId] = set()

    def _drain(self) -> None:
        plan = plan_assignments(
            list(self.queue.values()), list(self.agents.values()), self.order, self.rng
        )
        for a in plan:
            assert a.conversation_id not in self.assigned
            del self.queue[a.conversation_id]
            self.assigned[a.conversation_id] = a.agent_id
            agent = self.agents[a.agent_id]
            assert is_eligible(agent, self.queue_group(a.conversation_id))  # below limit, online
            self.agents[a.agent_id] = replace(agent, current=agent.current + 1)

    def queue_group(self, cid: ConversationId) -> GroupId:
        return GROUPS[0] if cid in self.group_one else GROUPS[1]

    @rule(group=st.sampled_from(GROUPS))
    def request_human(self, group: GroupId) -> None:
        cid = ConversationId(self.next_id)
        self.next_id += 1
        self.queue[cid] = QueuedRequest(cid, group, T0 + timedelta(seconds=cid))
        if group == GROUPS[0]:
            self.group_one.add(cid)
        self._drain()

    @rule(pick=st.integers(0, 1000))
    def end_one(self, pick: int) -> None:
        if not self.assigned:
            return
        cid = sorted(self.assigned)[pick % len(self.assigned)]
        agent_id = self.assigned.pop(cid)
        self.ended.add(cid)
        agent = self.agents[agent_id]
        self.agents[agent_id] = replace(agent, current=agent.current - 1)
        self._drain()

    @rule(agent=st.integers(1, 4), status=st.sampled_from(list(AgentStatus)))
    def set_status(self, agent: int, status: AgentStatus) -> None:
        aid = AccountId(agent)
        self.agents[aid] = replace(self.agents[aid], status=status)
        self._drain()

    @rule(agent=st.integers(1, 4), limit=st.integers(1, 50))
    def set_limit(self, agent: int, limit: int) -> None:
        aid = AccountId(agent)
        self.agents[aid] = replace(self.agents[aid], limit=limit)
        self._drain()

    @rule(order=st.sampled_from(list(QueueOrder)))
    def set_order(self, order: QueueOrder) -> None:
        self.order = order

    @invariant()
    def loads_match_assignments(self) -> None:
        # Assignments are checked against the limit as they happen (see _drain); lowering a
        # limit later never takes chats away, it only stops new ones (PRES-2).
        for agent in self.agents.values():
            assert sum(1 for a in self.assigned.values() if a == agent.agent_id) == agent.current

    @invariant()
    def every_request_is_in_exactly_one_place(self) -> None:
        places = [set(self.queue), set(self.assigned), self.ended]
        assert sum(len(p) for p in places) == self.next_id - 1
        assert not (places[0] & places[1] or places[0] & places[2] or places[1] & places[2])

    @invariant()
    def nobody_waits_while_someone_in_the_group_has_room(self) -> None:
        waiting_groups = {r.group_id for r in self.queue.values()}
        for agent in self.agents.values():
            assert not (agent.group_id in waiting_groups and is_eligible(agent, agent.group_id))


TestShopMachine = ShopMachine.TestCase
