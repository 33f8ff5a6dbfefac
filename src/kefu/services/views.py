"""Read models: what services return and the edges serialise, built here from storage's
records (never from rows)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kefu.domain.conversation import ConversationState, agent_reply_window
from kefu.domain.notices import Notice
from kefu.domain.presence import PresenceWindow
from kefu.storage import accounts as account_store
from kefu.storage import conversations as conversation_store
from kefu.storage.accounts import LoadedAccount
from kefu.storage.conversations import ConversationDetails
from kefu.storage.db import Connection
from kefu.storage.messages import MessageRecord
from kefu.storage.transfers import TransferRecord
from kefu.summaries.domain import needs_summary


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
    is_disabled: bool = False
    # PRES-1: False once the agent's last staff socket has been gone for the grace period
    # ("agent disconnected"): not routed to, their conversations stay theirs.
    connected: bool = True
    last_seen_at: datetime | None = None


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
    rating: int | None = None  # RATE-2: the best rating, if rated (DESK-4)
    needs_summary: bool = False  # DESK-2, CONV-10: served by a human, not yet summarised


@dataclass(frozen=True, slots=True)
class TransferView:
    id: int
    conversation_id: int
    from_agent_id: int | None
    to_agent_id: int | None
    to_group_id: int | None
    state: str
    created_at: datetime
    expires_at: datetime | None = None


async def account_views(
    conn: Connection,
    window: PresenceWindow,
    *,
    account_ids: Sequence[int] | None = None,
    shop_id: int | None = None,
) -> list[AccountView]:
    """Accounts as the workbench shows them, with their current load (PRES-3) and whether
    they are there as `window` sees it (PRES-1)."""
    loaded = await account_store.loaded_accounts(conn, account_ids=account_ids, shop_id=shop_id)
    return [account_view(a, window) for a in loaded]


async def account_view_of(conn: Connection, account_id: int, window: PresenceWindow) -> AccountView:
    (view,) = await account_views(conn, window, account_ids=[account_id])
    return view


def account_view(loaded: LoadedAccount, window: PresenceWindow) -> AccountView:
    a = loaded.account
    return AccountView(
        id=a.id,
        shop_id=a.shop_id,
        username=a.username,
        display_name=a.display_name,
        role=a.role,
        group_id=a.group_id,
        has_im_permission=a.has_im_permission,
        status=a.status,
        is_suspended=a.is_suspended,
        reception_limit=a.reception_limit,
        current_load=loaded.current_load,
        is_disabled=a.is_disabled,
        connected=window.is_present(a.id, a.last_seen_at),
        last_seen_at=a.last_seen_at,
    )


def sender_name(sender: str, *, consumer_name: str, agent_name: str | None) -> str:
    """The name a message shows: the consumer's nickname or the agent's; none for bot/system."""
    if sender == "consumer":
        return consumer_name
    if sender == "agent":
        return agent_name or ""
    return ""


def message_view(
    record: MessageRecord, names: Mapping[int, str], consumer_name: str
) -> MessageView:
    """MSG-1: a message as clients show it; `names` are the shop's agents' display names."""
    agent_name = names.get(record.sender_id) if record.sender_id is not None else None
    return MessageView(
        id=record.id,
        conversation_id=record.conversation_id,
        seq=record.seq,
        sender=record.sender,
        sender_id=record.sender_id,
        sender_name=sender_name(record.sender, consumer_name=consumer_name, agent_name=agent_name),
        kind=record.kind,
        body=record.body,
        client_id=record.client_id,
        created_at=record.created_at,
        meta=record.meta,
        notice=Notice.from_meta(record.meta),
    )


async def display_names(conn: Connection, shop_id: int) -> dict[int, str]:
    return await account_store.display_names(conn, shop_id)


async def conversation_views(
    conn: Connection, ids: Sequence[int], *, now: datetime
) -> list[ConversationView]:
    """Views of the given conversations, in the same order (missing ids are skipped)."""
    return [conversation_view(d, now=now) for d in await conversation_store.details(conn, ids)]


def conversation_view(details: ConversationDetails, *, now: datetime) -> ConversationView:
    """DESK-1, DESK-2: a conversation as the workbench and the widget show it."""
    c = details.conversation
    window = agent_reply_window(
        state=ConversationState(c.state),
        ended_at=c.ended_at,
        last_consumer_message_at=c.last_consumer_message_at,
        now=now,
    )
    last = details.last_message
    names = {last.sender_id: details.last_sender_name or ""} if last and last.sender_id else {}
    return ConversationView(
        id=c.id,
        shop_id=c.shop_id,
        state=c.state,
        consumer=ConsumerView(
            c.consumer_id, details.consumer_uid, details.consumer_name, details.consumer_is_vip
        ),
        agent_id=c.agent_id,
        agent_name=details.agent_name,
        group_id=c.group_id,
        group_name=details.group_name,
        entry=c.entry or {},
        created_at=c.created_at,
        human_requested_at=c.human_requested_at,
        assigned_at=c.assigned_at,
        ended_at=c.ended_at,
        end_cause=c.end_cause,
        last_seq=c.last_seq,
        last_message=message_view(last, names, details.consumer_name) if last else None,
        last_consumer_message_at=c.last_consumer_message_at,
        awaiting_reply_since=c.awaiting_reply_since,
        is_transferred=c.is_transferred,
        participants=details.participants,
        reply_window=ReplyWindowView(window.is_open, window.closes_at, window.code),
        rating=details.best_rating,
        needs_summary=needs_summary(assigned_at=c.assigned_at, summarised=details.is_summarised),
    )


def transfer_view(record: TransferRecord) -> TransferView:
    return TransferView(
        id=record.id,
        conversation_id=record.conversation_id,
        from_agent_id=record.from_agent_id,
        to_agent_id=record.to_agent_id,
        to_group_id=record.to_group_id,
        state=record.state,
        created_at=record.created_at,
        expires_at=record.expires_at,
    )
