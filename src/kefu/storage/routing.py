"""What routing reads and writes (ROUTE-1 to ROUTE-4, ROUTE-7): agents' loads as the database
says them now, the queue in its order, and assignments. Callers that decide hold the shop lock.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    Select,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain import routing
from kefu.domain.conversation import ConversationState
from kefu.domain.ids import AccountId, ConversationId, GroupId
from kefu.domain.permissions import Feature
from kefu.domain.presence import AgentStatus, PresenceWindow
from kefu.storage import offline as offline_store
from kefu.storage import rollups as rollup_store
from kefu.storage import tables as t

_c = t.conversations.c
_a = t.accounts.c
_g = t.permission_grants.c


def _loads(*, with_room: bool) -> Select[Any]:
    # The counts are computed once, as a materialised CTE joined to the accounts. Neither a
    # plain joined subquery (PostgreSQL re-aggregated it once per account whenever its estimate
    # of assigned rows was stale, a burst of routing: 0.4 s a call) nor a correlated count per
    # account (7 times slower than one aggregate at 50 agents × 32).
    shop = bindparam("b_shop", type_=_a.shop_id.type)
    counts = (
        select(_c.agent_id, func.count().label("n"))
        .where(_c.shop_id == shop, _c.state == ConversationState.ASSIGNED)
        .group_by(_c.agent_id)
        .cte("counts")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    # ACCT-6: every role has the workbench by default, so only the owner's revocation takes it
    # away; an account without it is not routed to, like one without the IM permission.
    without_workbench = exists().where(
        _g.account_id == _a.id, _g.feature == str(Feature.WORKBENCH), _g.is_granted.is_(False)
    )
    current = func.coalesce(counts.c.n, 0)
    loads = (
        select(
            _a.id,
            _a.group_id,
            _a.status,
            _a.is_suspended,
            and_(_a.has_im_permission, not_(without_workbench)).label("has_im_permission"),
            _a.reception_limit,
            _a.last_seen_at,
            current.label("current"),
        )
        .outerjoin(counts, counts.c.agent_id == _a.id)
        .where(_a.shop_id == shop, _a.is_disabled.is_(False))
    )
    if with_room:
        # What routing.is_eligible asks of the row (presence is the process's to judge).
        loads = loads.where(
            _a.status == AgentStatus.ONLINE,
            _a.is_suspended.is_(False),
            _a.has_im_permission,
            not_(without_workbench),
            current < _a.reception_limit,
        )
    return loads


# Routing's statements are built once: building them (their CTEs' and subqueries' columns)
# cost more Python under the shop lock than executing them.
_LOADS = _loads(with_room=False)
_LOADS_WITH_ROOM = _loads(with_room=True)


async def agent_loads(
    conn: AsyncConnection, shop_id: int, window: PresenceWindow, *, with_room: bool = False
) -> list[routing.AgentLoad]:
    """Each agent's load as the database says it now (ROUTE-7), and whether they are there
    as `window` sees it (PRES-1). One statement.

    `with_room`: only the agents routing may give a conversation to now, as far as their row
    says (`routing.is_eligible` but for presence): in a busy shop, a few of its agents."""
    rows = await conn.execute(_LOADS_WITH_ROOM if with_room else _LOADS, {"b_shop": shop_id})
    # Unpacked by position (_LOADS' columns, in order): by name cost more than the statement.
    return [
        routing.AgentLoad(
            agent_id=AccountId(agent_id),
            group_id=GroupId(group_id) if group_id is not None else None,
            status=AgentStatus(status),
            is_suspended=is_suspended,
            has_im_permission=has_im_permission,
            limit=limit,
            current=current,
            is_present=window.is_present(agent_id, last_seen_at),
        )
        for (
            agent_id,
            group_id,
            status,
            is_suspended,
            has_im_permission,
            limit,
            last_seen_at,
            current,
        ) in rows
    ]


@functools.cache
def _heads(order: routing.QueueOrder, *, with_none: bool) -> Select[Any]:
    # The same order as the domain's queue_sorted, so that the numbering keeps the right heads.
    if order is routing.QueueOrder.LCFS:
        ordering = (_c.human_requested_at.desc(), _c.id.desc())
    else:
        ordering = (_c.human_requested_at.asc(), _c.id.asc())
    in_groups = _c.group_id.in_(bindparam("b_groups", expanding=True))
    numbered = (
        select(
            _c.id,
            _c.group_id,
            _c.human_requested_at,
            func.row_number().over(partition_by=_c.group_id, order_by=ordering).label("n"),
        )
        .where(
            _c.shop_id == bindparam("b_shop", type_=_c.shop_id.type),
            _c.state == ConversationState.QUEUED,
            or_(in_groups, _c.group_id.is_(None)) if with_none else in_groups,
        )
        .subquery()
    )
    return select(numbered).where(numbered.c.n <= bindparam("b_most", type_=Integer))


async def queue_heads(
    conn: AsyncConnection,
    shop_id: int,
    rooms: Mapping[GroupId | None, int],
    order: routing.QueueOrder,
) -> list[routing.QueuedRequest]:
    """The first `rooms[g]` queued requests of each group g, in the queue's order, in one
    statement: a window function numbers each group's queue."""
    rooms = {g: n for g, n in rooms.items() if n > 0}
    if not rooms:
        return []
    groups = [g for g in rooms if g is not None]
    rows = await conn.execute(
        _heads(order, with_none=None in rooms),
        {"b_shop": shop_id, "b_groups": groups, "b_most": max(rooms.values())},
    )
    return [
        routing.QueuedRequest(ConversationId(cid), group_id, requested_at)
        for cid, group_id, requested_at, n in rows  # _heads' columns, in order
        if n <= rooms[group_id]
    ]


@dataclass(frozen=True, slots=True)
class Waiting:
    """A queued request with the consumer it is for (ROUTE-4)."""

    request: routing.QueuedRequest
    consumer_id: int


async def queued(conn: AsyncConnection, shop_id: int) -> list[Waiting]:
    rows = await conn.execute(
        select(_c.id, _c.consumer_id, _c.group_id, _c.human_requested_at).where(
            _c.shop_id == shop_id, _c.state == ConversationState.QUEUED
        )
    )
    return [
        Waiting(
            routing.QueuedRequest(ConversationId(r.id), r.group_id, r.human_requested_at),
            r.consumer_id,
        )
        for r in rows
    ]


async def queue_lengths(conn: AsyncConnection) -> dict[int, int]:
    """Consumers waiting per shop, for the shops where someone waits (one probe of the
    (shop, state) index per shop, never a scan of all conversations)."""
    waiting = (
        select(func.count())
        .where(_c.shop_id == t.shops.c.id, _c.state == ConversationState.QUEUED)
        .scalar_subquery()
    )
    rows = await conn.execute(select(t.shops.c.id, waiting))
    return {int(shop_id): int(count) for shop_id, count in rows if count}


async def shops_with_queue(conn: AsyncConnection) -> list[int]:
    queued = select(_c.id).where(_c.shop_id == t.shops.c.id, _c.state == ConversationState.QUEUED)
    return list((await conn.scalars(select(t.shops.c.id).where(queued.exists()))).all())


async def queued_groups(conn: AsyncConnection, shop_id: int) -> list[GroupId | None]:
    rows = await conn.scalars(
        select(_c.group_id)
        .where(_c.shop_id == shop_id, _c.state == ConversationState.QUEUED)
        .distinct()
    )
    return [GroupId(g) if g is not None else None for g in rows]


async def recent_assignments(
    conn: AsyncConnection, shop_id: int, since: datetime
) -> dict[int | None, int]:
    """How many conversations each group had assigned since `since` (ROUTE-4's pace)."""
    rows = await conn.execute(
        select(_c.group_id, func.count())
        .where(_c.shop_id == shop_id, _c.assigned_at > since)
        .group_by(_c.group_id)
    )
    return {r[0]: r[1] for r in rows}


async def assign(
    conn: AsyncConnection,
    shop_id: int,
    plan: Sequence[routing.Assignment],
    now: datetime,
    *,
    holder_role: str,
    cause: str,
) -> None:
    """Write planned assignments: the conversations' agents, their holders as participants,
    and one `assigned` event each. The caller holds the shop lock and planned from its loads."""
    if not plan:
        return
    await conn.execute(
        update(t.conversations)
        .where(_c.id == bindparam("b_id"))
        .values(
            state=ConversationState.ASSIGNED,
            agent_id=bindparam("b_agent"),
            assigned_at=now,
            awaiting_reply_since=now,
        ),
        [{"b_id": a.conversation_id, "b_agent": a.agent_id} for a in plan],
    )
    await conn.execute(
        insert(t.participants),
        [
            {
                "conversation_id": a.conversation_id,
                "account_id": a.agent_id,
                "shop_id": shop_id,
                "role": holder_role,
                "joined_at": now,
            }
            for a in plan
        ],
    )
    await conn.execute(
        insert(t.conversation_events),
        [
            {
                "shop_id": shop_id,
                "conversation_id": a.conversation_id,
                "kind": "assigned",
                "cause": cause,
                "agent_id": a.agent_id,
                "group_id": None,
                "at": now,
                "data": {},
            }
            for a in plan
        ],
    )
    await rollup_store.mark_dirty(conn, shop_id, [a.conversation_id for a in plan])  # DATA-1


async def assign_queued(
    conn: AsyncConnection,
    shop_id: int,
    plan: Sequence[routing.Assignment],
    now: datetime,
    *,
    holder_role: str,
    cause: str,
) -> None:
    """Write a routing pass's assignments (`assign`, their analytics marked dirty: DATA-1) and
    mark their consumers' offline entries served (OFFL-3). On PostgreSQL one statement
    (data-modifying CTEs over the plan's arrays), so that the shop lock is held for one round
    trip of writes whatever the plan's size."""
    if not plan:
        return
    if conn.dialect.name != "postgresql":
        await assign(conn, shop_id, plan, now, holder_role=holder_role, cause=cause)
        await offline_store.mark_served(conn, shop_id, [a.conversation_id for a in plan], now)
        return
    await conn.execute(
        _ASSIGN_QUEUED,
        {
            "b_conversations": [a.conversation_id for a in plan],
            "b_agents": [a.agent_id for a in plan],
            "b_shop": shop_id,
            "b_role": holder_role,
            "b_cause": cause,
            "b_now": now,
        },
    )


def _assign_queued() -> Select[Any]:
    """PostgreSQL's one statement for `assign_queued`."""
    ids = ARRAY(BigInteger)
    e = t.conversation_events.c
    shop = bindparam("b_shop", type_=e.shop_id.type)
    now = bindparam("b_now", type_=e.at.type)
    pairs = (
        func.unnest(bindparam("b_conversations", type_=ids), bindparam("b_agents", type_=ids))
        .table_valued("conversation_id", "agent_id", with_ordinality="n")
        .render_derived()
    )
    planned = select(pairs).cte("planned")
    assigned = (
        update(t.conversations)
        .where(_c.id == planned.c.conversation_id)
        .values(
            state=ConversationState.ASSIGNED,
            agent_id=planned.c.agent_id,
            assigned_at=now,
            awaiting_reply_since=now,
        )
        .returning(_c.consumer_id)
        .cte("assigned")
    )
    holders = insert(t.participants).from_select(
        ["conversation_id", "account_id", "shop_id", "role", "joined_at"],
        select(
            planned.c.conversation_id,
            planned.c.agent_id,
            shop,
            bindparam("b_role", type_=t.participants.c.role.type),
            now,
        ),
    )
    logged = insert(t.conversation_events).from_select(
        ["shop_id", "conversation_id", "kind", "cause", "agent_id", "at", "data"],
        select(
            shop,
            planned.c.conversation_id,
            literal("assigned", e.kind.type),
            bindparam("b_cause", type_=e.cause.type),
            planned.c.agent_id,
            now,
            literal({}, e.data.type),
        ).order_by(planned.c.n),
    )
    served = offline_store.served(shop, select(assigned.c.consumer_id), now)
    dirty = rollup_store.dirty_from(select(planned.c.conversation_id, shop))  # DATA-1
    return (
        select(func.count())
        .select_from(assigned)
        .add_cte(
            holders.cte("holders"),
            logged.cte("logged"),
            served.cte("served"),
            dirty.cte("dirty"),
        )
    )


_ASSIGN_QUEUED = _assign_queued()
