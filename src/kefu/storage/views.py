"""Read models built from rows: what services return and the edges serialise (never ORM rows)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain.conversation import ConversationState, agent_reply_window
from kefu.domain.notices import Notice
from kefu.storage import tables as t


@dataclass(frozen=True, slots=True)
class AccountView:
    id: int
    shop_id: int
    username: str
    display_name: str
    role: str
    group_id: int | None
    has_im_permission: bool
    status: str
    is_suspended: bool
    reception_limit: int
    current_load: int


@dataclass(frozen=True, slots=True)
class MessageView:
    id: int
    conversation_id: int
    seq: int
    sender: str
    sender_id: int | None
    sender_name: str
    kind: str
    body: str
    client_id: str | None
    created_at: datetime
    meta: dict[str, Any] | None = None
    notice: Notice | None = None  # a system notice's code and params (MSG-1), from `meta`


@dataclass(frozen=True, slots=True)
class ConsumerView:
    id: int
    uid: str
    nickname: str
    is_vip: bool


@dataclass(frozen=True, slots=True)
class ReplyWindowView:
    open: bool
    closes_at: datetime | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class ConversationView:
    id: int
    shop_id: int
    state: str
    consumer: ConsumerView
    agent_id: int | None
    agent_name: str | None
    group_id: int | None
    group_name: str | None
    entry: dict[str, Any]
    created_at: datetime
    human_requested_at: datetime | None
    assigned_at: datetime | None
    ended_at: datetime | None
    end_cause: str | None
    last_seq: int
    last_message: MessageView | None
    last_consumer_message_at: datetime | None
    awaiting_reply_since: datetime | None
    is_transferred: bool
    participants: list[int]
    reply_window: ReplyWindowView


@dataclass(frozen=True, slots=True)
class TransferView:
    id: int
    conversation_id: int
    from_agent_id: int | None
    to_agent_id: int | None
    to_group_id: int | None
    state: str
    created_at: datetime


async def account_views(conn: AsyncConnection, where: Any) -> list[AccountView]:
    load = (
        select(t.conversations.c.agent_id, func.count().label("n"))
        .where(t.conversations.c.state == ConversationState.ASSIGNED)
        .group_by(t.conversations.c.agent_id)
        .subquery()
    )
    a = t.accounts.c
    rows = await conn.execute(
        select(t.accounts, func.coalesce(load.c.n, 0).label("current_load"))
        .outerjoin(load, load.c.agent_id == a.id)
        .where(where)
        .order_by(a.id)
    )
    return [
        AccountView(
            id=r.id,
            shop_id=r.shop_id,
            username=r.username,
            display_name=r.display_name,
            role=r.role,
            group_id=r.group_id,
            has_im_permission=r.has_im_permission,
            status=r.status,
            is_suspended=r.is_suspended,
            reception_limit=r.reception_limit,
            current_load=r.current_load,
        )
        for r in rows
    ]


def sender_name(sender: str, *, consumer_name: str, agent_name: str | None) -> str:
    """The name a message shows: the consumer's nickname or the agent's; none for bot/system."""
    if sender == "consumer":
        return consumer_name
    if sender == "agent":
        return agent_name or ""
    return ""


def message_view(row: Any, names: dict[int, str], consumer_name: str) -> MessageView:
    name = sender_name(row.sender, consumer_name=consumer_name, agent_name=names.get(row.sender_id))
    return MessageView(
        id=row.id,
        conversation_id=row.conversation_id,
        seq=row.seq,
        sender=row.sender,
        sender_id=row.sender_id,
        sender_name=name,
        kind=row.kind,
        body=row.body,
        client_id=row.client_id,
        created_at=row.created_at,
        meta=row.meta,
        notice=Notice.from_meta(row.meta),
    )


async def display_names(conn: AsyncConnection, shop_id: int) -> dict[int, str]:
    rows = await conn.execute(
        select(t.accounts.c.id, t.accounts.c.display_name).where(t.accounts.c.shop_id == shop_id)
    )
    return {r.id: r.display_name for r in rows}


# Built once: an alias made per call costs new column objects and cache keys each time.
_LAST_MESSAGE = t.messages.alias("last_message")
_SENDER = t.accounts.alias("sender")
_AGENT = t.accounts.alias("agent")
_LAST_MESSAGE_COLUMNS = [col.label(f"m_{col.name}") for col in _LAST_MESSAGE.c]


async def conversation_views(
    conn: AsyncConnection, ids: Sequence[int], *, now: datetime
) -> list[ConversationView]:
    """Build views for the given conversation ids, in the same order (missing ids are skipped).

    Two statements whatever the number of ids: the conversations with their consumer, agent,
    group and last message (and that message's sender's name), then the participants.
    """
    if not ids:
        return []
    c = t.conversations.c
    m, sender, agent = _LAST_MESSAGE, _SENDER, _AGENT
    rows = (
        await conn.execute(
            select(
                t.conversations,
                t.consumers.c.uid,
                t.consumers.c.nickname,
                t.consumers.c.is_vip,
                agent.c.display_name.label("agent_name"),
                t.groups.c.name.label("group_name"),
                *_LAST_MESSAGE_COLUMNS,
                sender.c.display_name.label("m_sender_name"),
            )
            .join(t.consumers, t.consumers.c.id == c.consumer_id)
            .outerjoin(agent, agent.c.id == c.agent_id)
            .outerjoin(t.groups, t.groups.c.id == c.group_id)
            .outerjoin(m, and_(m.c.conversation_id == c.id, m.c.seq == c.last_seq))
            .outerjoin(sender, and_(sender.c.id == m.c.sender_id, m.c.sender == "agent"))
            .where(c.id.in_(ids))
        )
    ).all()
    by_id = {r.id: r for r in rows}
    parts: dict[int, list[int]] = {}
    for p in await conn.execute(
        select(t.participants.c.conversation_id, t.participants.c.account_id).where(
            t.participants.c.conversation_id.in_(ids)
        )
    ):
        parts.setdefault(p.conversation_id, []).append(p.account_id)
    views = []
    for cid in ids:
        r = by_id.get(cid)
        if r is None:
            continue
        window = agent_reply_window(
            state=ConversationState(r.state),
            ended_at=r.ended_at,
            last_consumer_message_at=r.last_consumer_message_at,
            now=now,
        )
        views.append(
            ConversationView(
                id=r.id,
                shop_id=r.shop_id,
                state=r.state,
                consumer=ConsumerView(r.consumer_id, r.uid, r.nickname, r.is_vip),
                agent_id=r.agent_id,
                agent_name=r.agent_name,
                group_id=r.group_id,
                group_name=r.group_name,
                entry=r.entry or {},
                created_at=r.created_at,
                human_requested_at=r.human_requested_at,
                assigned_at=r.assigned_at,
                ended_at=r.ended_at,
                end_cause=r.end_cause,
                last_seq=r.last_seq,
                last_message=_last_message(r),
                last_consumer_message_at=r.last_consumer_message_at,
                awaiting_reply_since=r.awaiting_reply_since,
                is_transferred=r.is_transferred,
                participants=sorted(parts.get(cid, [])),
                reply_window=ReplyWindowView(window.is_open, window.closes_at, window.code),
            )
        )
    return views


def _last_message(r: Any) -> MessageView | None:
    """The joined last message of a conversation row, named as `message_view` names it."""
    if r.m_id is None:
        return None
    name = sender_name(r.m_sender, consumer_name=r.nickname, agent_name=r.m_sender_name)
    return MessageView(
        id=r.m_id,
        conversation_id=r.m_conversation_id,
        seq=r.m_seq,
        sender=r.m_sender,
        sender_id=r.m_sender_id,
        sender_name=name,
        kind=r.m_kind,
        body=r.m_body,
        client_id=r.m_client_id,
        created_at=r.m_created_at,
        meta=r.m_meta,
        notice=Notice.from_meta(r.m_meta),
    )


def transfer_view(r: Any) -> TransferView:
    return TransferView(
        id=r.id,
        conversation_id=r.conversation_id,
        from_agent_id=r.from_agent_id,
        to_agent_id=r.to_agent_id,
        to_group_id=r.to_group_id,
        state=r.state,
        created_at=r.created_at,
    )
