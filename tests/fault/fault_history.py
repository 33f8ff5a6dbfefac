"""The history checker of the fault suite: what the clients were told, held against what the
database keeps once the faults are over.

- Every acknowledged message is stored exactly once, at the seq its ack gave (MSG-2).
- Each conversation's seqs run 1..last_seq without a gap or a repeat.
- No agent holds more assigned conversations than their reception limit (PRES-2, ROUTE-7).
- Every human request is settled once: an assigned conversation has an agent, a queued one
  none, no conversation was assigned more often than it was handed on (transfers), and no
  consumer has two open conversations (CONV-1).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select

from kefu.storage import tables as t
from kefu.storage.db import Database

OPEN = ("bot", "queued", "assigned")


@dataclass(frozen=True, slots=True)
class Acked:
    """An ack a client received: `sender` is `consumer` or `agent`."""

    conversation_id: int
    client_id: str
    seq: int
    sender: str = "consumer"


async def check_history(database_url: str, acks: list[Acked]) -> list[str]:
    """The broken promises, as sentences; empty when the history is sound."""
    db = Database(database_url)
    try:
        async with db.read() as tx:
            m = t.messages.c
            messages = (
                await tx.conn.execute(select(m.conversation_id, m.seq, m.sender, m.client_id))
            ).all()
            c = t.conversations.c
            conversations = (
                await tx.conn.execute(select(c.id, c.consumer_id, c.state, c.agent_id, c.last_seq))
            ).all()
            e = t.conversation_events.c
            assigned = Counter(
                (await tx.conn.scalars(select(e.conversation_id).where(e.kind == "assigned"))).all()
            )
            handed_on = Counter(
                (await tx.conn.scalars(select(t.transfers.c.conversation_id))).all()
            )
            a = t.accounts.c
            limits = dict((await tx.conn.execute(select(a.id, a.reception_limit))).all())
            loads = dict(
                (
                    await tx.conn.execute(
                        select(c.agent_id, func.count())
                        .where(c.state == "assigned")
                        .group_by(c.agent_id)
                    )
                ).all()
            )
    finally:
        await db.dispose()
    problems: list[str] = []
    stored: dict[tuple[int, str, str], list[int]] = defaultdict(list)
    seqs: dict[int, list[int]] = defaultdict(list)
    for conversation_id, seq, sender, client_id in messages:
        seqs[conversation_id].append(seq)
        if client_id is not None:
            stored[(conversation_id, sender, client_id)].append(seq)
    for ack in acks:
        found = stored.get((ack.conversation_id, ack.sender, ack.client_id), [])
        if found != [ack.seq]:
            problems.append(f"acked {ack} is stored at seqs {found}")
    for key, found in stored.items():
        if len(found) > 1:
            problems.append(f"client id {key} is stored {len(found)} times")
    for conversation_id, _, state, agent_id, last_seq in conversations:
        have = sorted(seqs.get(conversation_id, []))
        if have != list(range(1, last_seq + 1)):
            problems.append(f"conversation {conversation_id}: seqs {have}, last_seq {last_seq}")
        if (state == "assigned") != (agent_id is not None):
            problems.append(f"conversation {conversation_id} is {state} with agent {agent_id}")
        if assigned[conversation_id] > 1 + handed_on[conversation_id]:
            problems.append(
                f"conversation {conversation_id} assigned {assigned[conversation_id]} times"
            )
    for agent_id, load in loads.items():
        if load > limits.get(agent_id, 0):
            problems.append(f"agent {agent_id} holds {load}, over the limit {limits[agent_id]}")
    open_per_consumer = Counter(row.consumer_id for row in conversations if row.state in OPEN)
    problems += [
        f"consumer {consumer} has {n} open conversations"
        for consumer, n in open_per_consumer.items()
        if n > 1
    ]
    return problems
