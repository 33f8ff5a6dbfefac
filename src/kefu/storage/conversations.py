"""Conversations and their participants: the rows the lifecycle (CONV-1 to CONV-9) reads and
writes. A conversation of another shop is NotFound, exactly like a missing one (ACCT-5).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import NullType

from kefu import errors
from kefu.domain.conversation import OPEN_STATES, ConversationState, ParticipantRole
from kefu.domain.shop import ShopSettings
from kefu.storage import rollups as rollup_store
from kefu.storage import tables as t
from kefu.storage import webhooks as webhook_store
from kefu.storage.greetings import Greeting
from kefu.storage.messages import MessageRecord

# The conversation columns the analytics read (DATA-1): changing one marks it for the rollups.
ANALYSED = frozenset({"created_at", "human_requested_at", "ended_at"})


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    id: int
    shop_id: int
    consumer_id: int
    state: str
    group_id: int | None
    agent_id: int | None
    entry: dict[str, Any]
    created_at: datetime
    human_requested_at: datetime | None
    assigned_at: datetime | None
    ended_at: datetime | None
    end_cause: str | None
    last_seq: int
    last_message_at: datetime | None
    last_consumer_message_at: datetime | None
    awaiting_reply_since: datetime | None
    auto_end_warned_at: datetime | None
    is_transferred: bool
    # Whether the account asked about (`participant=`) takes part; False when none was asked.
    is_participant: bool = False
    # Its participant role (CONV-7, CONV-8), if it takes part.
    participant_role: str | None = None


_c = t.conversations.c
_p = t.participants.c
# An array as the driver gives it (asyncpg: a list of ints or strings): SQLAlchemy's ARRAY type
# passes every item through its processor in Python, about a tenth of an agent's end.
_RAW_ARRAY = NullType()
# Built once: each `in_([...])` makes a parameter that refers to itself, garbage that waits for
# the collector, and this one is asked on every consumer socket's `ready`.
_IS_OPEN = _c.state.in_(sorted(s.value for s in OPEN_STATES))


async def get(
    conn: AsyncConnection,
    shop_id: int,
    conversation_id: int,
    *,
    for_update: bool = False,
    participant: int | None = None,
) -> ConversationRecord:
    """A conversation of this shop, row-locked until commit with `for_update` (PostgreSQL;
    SQLite's writer already holds the database). With `participant`, the record says whether
    that account takes part."""
    query = select(t.conversations).where(_c.id == conversation_id, _c.shop_id == shop_id)
    if participant is not None:
        takes_part = select(_p.account_id).where(
            _p.conversation_id == _c.id, _p.account_id == participant
        )
        role = (
            select(_p.role)
            .where(_p.conversation_id == _c.id, _p.account_id == participant)
            .scalar_subquery()
        )
        query = query.add_columns(
            takes_part.exists().label("is_participant"), role.label("participant_role")
        )
    if for_update and conn.dialect.name != "sqlite":
        query = query.with_for_update(of=t.conversations)
    row = (await conn.execute(query)).first()
    if row is None:
        raise errors.NotFound(kind="conversation", id=conversation_id)
    return ConversationRecord(**row._asdict())


@dataclass(frozen=True, slots=True)
class EndingRecord:
    """A conversation about to end (CONV-3), and what its end is decided from, read with it:
    its participants' roles (CONV-7, CONV-8), the shop's settings, its agent's group and
    display name, the closing greetings aimed at that group or that agent (SET-2), and
    whether its summary is written (CONV-10)."""

    conversation: ConversationRecord
    roles: dict[int, str]
    settings: ShopSettings
    agent_group_id: int | None
    agent_name: str
    greetings: list[Greeting]
    is_summarised: bool

    def as_seen_by(self, account_id: int) -> ConversationRecord:
        """The row as `get(…, participant=account_id)` reads it."""
        return replace(
            self.conversation,
            is_participant=account_id in self.roles,
            participant_role=self.roles.get(account_id),
        )


def _endings(*, pg: bool) -> Select[Any]:
    """PostgreSQL: the ids as one array (one statement text whatever their number), the
    participants' roles in the same statement, the rows locked in id order."""
    g = t.greetings.c
    agent = t.accounts.alias("agent")
    summarised = select(t.conversation_summaries.c.conversation_id).where(
        t.conversation_summaries.c.conversation_id == _c.id
    )
    aimed = or_(
        and_(g.target == "group", g.target_id == agent.c.group_id),
        and_(g.target == "agent", g.target_id == _c.agent_id),
    )
    if pg:
        in_ids = _c.id == func.any(bindparam("b_ids", type_=ARRAY(BigInteger)))
    else:
        in_ids = _c.id.in_(bindparam("b_ids", expanding=True))
    query = (
        select(
            t.conversations,
            t.shops.c.settings.label("shop_settings"),
            agent.c.group_id.label("agent_group_id"),
            agent.c.display_name.label("agent_name"),
            summarised.exists().label("is_summarised"),
            g.target.label("g_target"),
            g.target_id.label("g_target_id"),
            g.welcome.label("g_welcome"),
            g.closing.label("g_closing"),
        )
        .join(t.shops, t.shops.c.id == _c.shop_id)
        .outerjoin(agent, agent.c.id == _c.agent_id)
        .outerjoin(t.greetings, and_(g.shop_id == _c.shop_id, aimed))
        .where(in_ids, _c.shop_id == bindparam("b_shop", type_=_c.shop_id.type))
        .order_by(_c.id, g.target, g.target_id)
    )
    if not pg:
        return query
    by_account = [
        select(func.array_agg(aggregate_order_by(column, _p.account_id), type_=_RAW_ARRAY))
        .where(_p.conversation_id == _c.id)
        .scalar_subquery()
        .label(label)
        for column, label in ((_p.account_id, "p_accounts"), (_p.role, "p_roles"))
    ]
    return query.add_columns(*by_account).with_for_update(of=t.conversations)


_ENDINGS = _endings(pg=False)


async def get_endings(
    conn: AsyncConnection, shop_id: int, conversation_ids: Collection[int]
) -> dict[int, EndingRecord]:
    """The shop's conversations among these ids, row-locked until commit (in id order, as
    `messages.lock_send_targets` does; SQLite's writer already holds the database), each with
    what its end decides from. One statement on PostgreSQL, two elsewhere; ids of other shops
    or none are left out."""
    ids = sorted(set(conversation_ids))
    if not ids:
        return {}
    pg = conn.dialect.name == "postgresql"
    result = await conn.execute(_ENDINGS_PG if pg else _ENDINGS, {"b_shop": shop_id, "b_ids": ids})
    keys = tuple(result.keys())
    rows = result.all()
    if pg:
        roles = {r.id: dict(zip(r.p_accounts or (), r.p_roles or (), strict=True)) for r in rows}
    else:
        roles = {}
        found = await conn.execute(
            select(_p.conversation_id, _p.account_id, _p.role).where(_p.conversation_id.in_(ids))
        )
        for conversation_id, account_id, role in found:
            roles.setdefault(conversation_id, {})[account_id] = role
    by_id: dict[int, list[Any]] = {}
    for r in rows:
        by_id.setdefault(r.id, []).append(r)
    if not rows:
        return {}
    settings = ShopSettings.from_json(rows[0].shop_settings)  # one shop: parsed once
    conversation = conversation_values(keys)
    return {
        cid: EndingRecord(
            conversation=ConversationRecord(*conversation(rs[0])),
            roles=roles.get(cid, {}),
            settings=settings,
            agent_group_id=rs[0].agent_group_id,
            agent_name=rs[0].agent_name or "",
            greetings=[
                Greeting(x.g_target, x.g_target_id, x.g_welcome, x.g_closing)
                for x in rs
                if x.g_target is not None
            ],
            is_summarised=bool(rs[0].is_summarised),
        )
        for cid, rs in by_id.items()
    }


async def get_ending(conn: AsyncConnection, shop_id: int, conversation_id: int) -> EndingRecord:
    """`get_endings` of one conversation; NotFound if the shop has no such conversation."""
    found = (await get_endings(conn, shop_id, [conversation_id])).get(conversation_id)
    if found is None:
        raise errors.NotFound(kind="conversation", id=conversation_id)
    return found


async def record_event(
    conn: AsyncConnection,
    *,
    shop_id: int,
    conversation_id: int,
    kind: str,
    at: datetime,
    cause: str | None = None,
    agent_id: int | None = None,
    group_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """CONV-1: every transition is an append-only row with its time and cause."""
    await conn.execute(
        insert(t.conversation_events).values(
            shop_id=shop_id,
            conversation_id=conversation_id,
            kind=kind,
            cause=cause,
            agent_id=agent_id,
            group_id=group_id,
            at=at,
            data=data or {},
        )
    )
    await rollup_store.mark_dirty(conn, shop_id, [conversation_id])  # DATA-1: refold it


async def participant_ids(
    conn: AsyncConnection, ids: Sequence[int], *, roles: Collection[str] | None = None
) -> dict[int, set[int]]:
    """Each conversation's participating accounts, of these roles if given (conversations
    without any are left out)."""
    found: dict[int, set[int]] = {}
    query = select(_p.conversation_id, _p.account_id).where(_p.conversation_id.in_(list(ids)))
    if roles is not None:
        query = query.where(_p.role.in_(sorted(roles)))
    rows = await conn.execute(query)
    for conversation_id, account_id in rows:
        found.setdefault(conversation_id, set()).add(account_id)
    return found


async def consumer_name(conn: AsyncConnection, consumer_id: int) -> str:
    name = await conn.scalar(select(t.consumers.c.nickname).where(t.consumers.c.id == consumer_id))
    return name or ""


async def open_id(conn: AsyncConnection, shop_id: int, consumer_id: int) -> int | None:
    """The consumer's open conversation in the shop, if any (CONV-5: at most one)."""
    return await conn.scalar(
        select(_c.id).where(
            _c.shop_id == shop_id,
            _c.consumer_id == consumer_id,
            _IS_OPEN,
        )
    )


async def create(
    conn: AsyncConnection,
    *,
    shop_id: int,
    consumer_id: int,
    group_id: int | None,
    entry: dict[str, Any],
    now: datetime,
) -> int:
    """A new conversation with the bot (CONV-1), announced as a webhook event (API-2)."""
    conversation_id = await conn.scalar(
        insert(t.conversations)
        .values(
            shop_id=shop_id,
            consumer_id=consumer_id,
            state=ConversationState.BOT,
            group_id=group_id,
            entry=entry,
            created_at=now,
        )
        .returning(_c.id)
    )
    assert conversation_id is not None
    await rollup_store.mark_dirty(conn, shop_id, [int(conversation_id)])  # DATA-1
    await webhook_store.record_event(
        conn,
        shop_id=shop_id,
        event="conversation.created",
        data={
            "conversation_id": int(conversation_id),
            "consumer_id": consumer_id,
            "group_id": group_id,
            "state": ConversationState.BOT.value,
            "created_at": now,
        },
        now=now,
    )
    return int(conversation_id)


async def update_conversation(conn: AsyncConnection, conversation_id: int, **values: Any) -> None:
    query = update(t.conversations).where(_c.id == conversation_id).values(**values)
    if not ANALYSED.intersection(values):
        await conn.execute(query)
        return
    shop_id = await conn.scalar(query.returning(_c.shop_id))
    if shop_id is not None:  # DATA-1: a fact the analytics read changed; refold it
        await rollup_store.mark_dirty(conn, int(shop_id), [conversation_id])


async def add_participant(
    conn: AsyncConnection,
    *,
    shop_id: int,
    conversation_id: int,
    account_id: int,
    role: str,
    now: datetime,
    again_from: Collection[str] = (),
) -> bool:
    """Record a participant once (CONV-8); False if the account already takes part. One who
    was invited back (`again_from`: their role now, e.g. a previous holder) takes `role`."""
    found = await conn.scalar(
        select(_p.role).where(_p.conversation_id == conversation_id, _p.account_id == account_id)
    )
    if found is not None and found in again_from:
        await set_participant_role(conn, conversation_id, account_id, role)
        return True
    if found is not None:
        return False
    await conn.execute(
        insert(t.participants).values(
            conversation_id=conversation_id,
            account_id=account_id,
            shop_id=shop_id,
            role=role,
            joined_at=now,
        )
    )
    return True


async def set_participant_role(
    conn: AsyncConnection, conversation_id: int, account_id: int, role: str
) -> None:
    await conn.execute(
        update(t.participants)
        .where(_p.conversation_id == conversation_id, _p.account_id == account_id)
        .values(role=role)
    )


async def hand_over(
    conn: AsyncConnection,
    conversation_id: int,
    *,
    agent_id: int,
    group_id: int | None,
    holder_role: str,
    previous_role: str,
) -> None:
    """CONV-7: the conversation's holder becomes a previous participant and `agent_id` its
    agent; the new holder's participant row is written by the caller."""
    await update_conversation(
        conn, conversation_id, agent_id=agent_id, group_id=group_id, is_transferred=True
    )
    await conn.execute(
        update(t.participants)
        .where(_p.conversation_id == conversation_id, _p.role == holder_role)
        .values(role=previous_role)
    )
    await conn.execute(
        delete(t.participants).where(
            _p.conversation_id == conversation_id, _p.account_id == agent_id
        )
    )


class ListScope(StrEnum):
    """The workbench's lists (DESK-1)."""

    ALL = "all"
    MINE = "mine"
    COLLEAGUES = "colleagues"
    HISTORY = "history"
    RECENT = "recent"


async def page_ids(
    conn: AsyncConnection,
    *,
    shop_id: int,
    account_id: int,
    scope: ListScope,
    group_id: int | None = None,
    limit: int,
    offset: int,
) -> tuple[list[int], int]:
    """One page of a list's conversation ids, newest activity first (history: latest end
    first), and the list's total. `group_id` narrows colleague sessions to one group;
    recent contacts are each consumer's latest conversation with the account."""
    mine = select(_p.conversation_id).where(_p.account_id == account_id)
    # CONV-8: the workbench lists what the account holds or was invited into.
    serving = mine.where(_p.role.in_([ParticipantRole.HOLDER, ParticipantRole.INVITED]))
    query = select(_c.id).where(_c.shop_id == shop_id)
    if scope is ListScope.MINE:
        query = query.where(_c.id.in_(serving), _c.state == ConversationState.ASSIGNED)
    elif scope is ListScope.COLLEAGUES:
        query = query.where(_c.state == ConversationState.ASSIGNED, _c.agent_id != account_id)
        if group_id is not None:
            query = query.where(_c.group_id == group_id)
    elif scope is ListScope.HISTORY:
        query = query.where(_c.id.in_(mine), _c.state == ConversationState.ENDED)
    elif scope is ListScope.RECENT:
        latest = (
            select(func.max(_c.id))
            .where(_c.shop_id == shop_id, _c.id.in_(mine))
            .group_by(_c.consumer_id)
        )
        query = query.where(_c.id.in_(latest))
    else:
        query = query.where(_c.id.in_(mine))
    total = await conn.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordering = _c.ended_at.desc() if scope is ListScope.HISTORY else _c.last_message_at.desc()
    ids = await conn.scalars(query.order_by(ordering, _c.id.desc()).limit(limit).offset(offset))
    return list(ids), int(total)


@dataclass(frozen=True, slots=True)
class ConversationDetails:
    """A conversation with what its views show: consumer, agent, group, last message and
    participants (DESK-1)."""

    conversation: ConversationRecord
    consumer_uid: str
    consumer_name: str
    consumer_is_vip: bool
    agent_name: str | None
    group_name: str | None
    last_message: MessageRecord | None
    last_sender_name: str | None  # the last message's agent's display name
    participants: list[int]
    best_rating: int | None = None  # RATE-2: the best of its ratings, if rated
    is_summarised: bool = False  # CONV-10: its consultation summary is written


# Built once: an alias made per call costs new column objects and cache keys each time.
_LAST_MESSAGE = t.messages.alias("last_message")
_SENDER = t.accounts.alias("sender")
_AGENT = t.accounts.alias("agent")
_LAST_MESSAGE_COLUMNS = [col.label(f"m_{col.name}") for col in _LAST_MESSAGE.c]
_CONVERSATION_FIELDS = tuple(col.name for col in t.conversations.c)


@functools.cache
def _picker(keys: tuple[str, ...], names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The values of the columns `names`, in that order, of a row whose columns are `keys`
    (`Row._fields`), by position: a row's attribute by name costs about 30 times more, and a
    view reads some 30 of them."""
    getter = operator.itemgetter(*(keys.index(name) for name in names))
    return getter if len(names) > 1 else lambda row: (getter(row),)


def conversation_values(keys: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A row's conversation columns, in `ConversationRecord`'s order, for rows whose columns
    are `keys` (`tuple(result.keys())`, once per result: a row's `_fields` is built anew at
    every call). The record's fields start with the table's columns, in their order
    (tests/services/test_conversation_rows.py)."""
    return _picker(keys, _CONVERSATION_FIELDS)


_ENDINGS_PG = _endings(pg=True)
_PARTICIPANT_ARRAY = (
    select(func.array_agg(_p.account_id, type_=_RAW_ARRAY))
    .where(_p.conversation_id == _c.id)
    .scalar_subquery()
    .label("participant_ids")
)
_LAST_MESSAGE_FIELDS = tuple(f"m_{f.name}" for f in fields(MessageRecord))
# RATE-2 and DESK-2: the best rating and whether the summary is written, for each view.
_RATING_AND_SUMMARY = [
    select(func.max(t.ratings.c.stars))
    .where(t.ratings.c.conversation_id == _c.id)
    .scalar_subquery()
    .label("best_rating"),
    select(t.conversation_summaries.c.conversation_id)
    .where(t.conversation_summaries.c.conversation_id == _c.id)
    .exists()
    .label("is_summarised"),
]


async def details(conn: AsyncConnection, ids: Sequence[int]) -> list[ConversationDetails]:
    """The given conversations, in the same order (missing ids are skipped).

    The conversations with their consumer, agent, group and last message (and that message's
    sender's name), and their participants: on PostgreSQL in the same statement (an array
    per conversation), elsewhere in a second one; whatever the number of ids.
    """
    if not ids:
        return []
    folded = conn.dialect.name == "postgresql"
    result = await conn.execute(_details_query(folded=folded), {"b_ids": list(ids)})
    keys = tuple(result.keys())
    rows = result.all()
    at_id = keys.index("id")
    by_id = {r[at_id]: r for r in rows}
    if folded:
        at_parts = keys.index("participant_ids")
        parts = {r[at_id]: set(r[at_parts] or ()) for r in rows}
    else:
        parts = await participant_ids(conn, ids)
    conversation = conversation_values(keys)
    last_message = _picker(keys, _LAST_MESSAGE_FIELDS)
    return [
        _details(by_id[cid], sorted(parts.get(cid, ())), conversation, last_message)
        for cid in ids
        if cid in by_id
    ]


@functools.cache
def _details_query(*, folded: bool) -> Select[Any]:
    """`details`' statement, built once per dialect: building it cost more than running it."""
    m, sender, agent = _LAST_MESSAGE, _SENDER, _AGENT
    return (
        select(
            *([_PARTICIPANT_ARRAY] if folded else []),
            t.conversations,
            t.consumers.c.uid,
            t.consumers.c.nickname,
            t.consumers.c.is_vip,
            agent.c.display_name.label("agent_name"),
            t.groups.c.name.label("group_name"),
            *_LAST_MESSAGE_COLUMNS,
            sender.c.display_name.label("m_sender_name"),
            *_RATING_AND_SUMMARY,
        )
        .join(t.consumers, t.consumers.c.id == _c.consumer_id)
        .outerjoin(agent, agent.c.id == _c.agent_id)
        .outerjoin(t.groups, t.groups.c.id == _c.group_id)
        .outerjoin(m, and_(m.c.conversation_id == _c.id, m.c.seq == _c.last_seq))
        .outerjoin(sender, and_(sender.c.id == m.c.sender_id, m.c.sender == "agent"))
        .where(
            # On PostgreSQL one text whatever the number of ids, so prepared once per connection.
            _c.id == func.any(bindparam("b_ids", type_=ARRAY(BigInteger)))
            if folded
            else _c.id.in_(bindparam("b_ids", expanding=True))
        )
    )


def _details(
    r: Any,
    participants: list[int],
    conversation: Callable[[Any], tuple[Any, ...]],
    last_message: Callable[[Any], tuple[Any, ...]],
) -> ConversationDetails:
    last = MessageRecord(*last_message(r)) if r.m_id is not None else None
    return ConversationDetails(
        conversation=ConversationRecord(*conversation(r)),
        consumer_uid=r.uid,
        consumer_name=r.nickname,
        consumer_is_vip=r.is_vip,
        agent_name=r.agent_name,
        group_name=r.group_name,
        last_message=last,
        last_sender_name=r.m_sender_name,
        participants=participants,
        best_rating=r.best_rating,
        is_summarised=bool(r.is_summarised),
    )
