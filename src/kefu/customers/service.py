"""The customer's side panel (DESK-5) and proactive conversations (CONV-6, LIMIT-2). Any staff
member of the shop may look a consumer up; another shop's consumer is not_found (ACCT-5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kefu import errors
from kefu.customers import domain
from kefu.customers.domain import PageView, VisitedPage
from kefu.domain import notices, routing
from kefu.domain.conversation import AutoEndPolicy, ConversationState, ParticipantRole
from kefu.domain.ids import AccountId, ConversationId
from kefu.services.access import access_conversation, access_own_conversation
from kefu.services.context import ConsumerActor, Context, Staff, presence_window
from kefu.services.conversations import AUTO_END_TIMER
from kefu.services.routing import announce
from kefu.services.views import (
    ConversationView,
    MessageView,
    conversation_views,
    display_names,
    message_view,
)
from kefu.storage import conversations as conversation_store
from kefu.storage import customers as store
from kefu.storage import messages as message_store
from kefu.storage import routing as routing_store
from kefu.storage import shops as shop_store
from kefu.storage import timers as timer_store
from kefu.storage.customers import (
    ConsumerRecord,
    FoundConsumer,
    OrderRecord,
    PageViewRecord,
    ProfileRecord,
)
from kefu.storage.db import Connection
from kefu.storage.messages import Append, notice_message

MAX_PAGE_SIZE = 100
MAX_PAGE = 10_000


@dataclass(frozen=True, slots=True)
class Trail:
    """DESK-5: where the consumer came from and the shop's pages they visited."""

    source: str
    ip: str
    region: str
    page_url: str
    pages: list[VisitedPage]


@dataclass(frozen=True, slots=True)
class Panel:
    consumer: ConsumerRecord
    profile: ProfileRecord
    recent_conversations: list[ConversationView]
    trail: Trail


@dataclass(frozen=True, slots=True)
class FoundConsumerView:
    id: int
    uid: str
    nickname: str
    is_vip: bool
    last_ordered_at: datetime | None
    # CONV-6: whether a proactive conversation may be started now.
    may_start: bool


async def access_consumer(conn: Connection, staff: Staff, consumer_id: int) -> ConsumerRecord:
    """ACCT-5: a consumer of the caller's shop."""
    return await store.shop_consumer(conn, staff.shop_id, consumer_id)


async def load_panel(ctx: Context, staff: Staff, conversation_id: int) -> Panel:
    """DESK-5: the side panel of a conversation the staff member may read (CONV-9)."""
    now = ctx.clock.now()
    async with ctx.db.read() as tx:
        conv = await access_conversation(tx.conn, staff, conversation_id)
        consumer = await access_consumer(tx.conn, staff, conv.consumer_id)
        profile = await store.profile(tx.conn, staff.shop_id, consumer.id)
        ids = await store.recent_conversation_ids(
            tx.conn, staff.shop_id, consumer.id, limit=domain.RECENT_CONVERSATIONS + 1
        )
        others = [i for i in ids if i != conversation_id][: domain.RECENT_CONVERSATIONS]
        recent = await conversation_views(tx.conn, others, now=now)
        views = await store.page_views(tx.conn, conversation_id)
    return Panel(consumer, profile, recent, _trail(conv.entry or {}, views))


def _trail(entry: dict[str, Any], views: list[PageViewRecord]) -> Trail:
    return Trail(
        source=str(entry.get("source", "direct")),
        ip=str(entry.get("ip", "")),
        region=str(entry.get("region", "")),
        page_url=str(entry.get("page_url", "")),
        pages=domain.time_on_pages([PageView(v.url, v.title, v.at) for v in views]),
    )


async def consumer_orders(
    ctx: Context, staff: Staff, consumer_id: int, *, page: int, page_size: int
) -> tuple[list[OrderRecord], int]:
    """DESK-5: the consumer's orders in this shop, newest first."""
    _check_page(page, page_size)
    async with ctx.db.read() as tx:
        await access_consumer(tx.conn, staff, consumer_id)
        return await store.orders_page(
            tx.conn, staff.shop_id, consumer_id, page=page, page_size=page_size
        )


async def save_profile(
    ctx: Context, staff: Staff, consumer_id: int, *, notes: str, tags: list[str], phone: str
) -> ProfileRecord:
    """DESK-5: the shop's notes, tags and phone of a consumer; any staff member may edit."""
    draft = domain.check_profile(notes, tags, phone)
    async with ctx.db.uow() as tx:
        await tx.lock_shop(staff.shop_id)
        await access_consumer(tx.conn, staff, consumer_id)
        await store.save_profile(
            tx.conn,
            staff.shop_id,
            consumer_id,
            notes=draft.notes,
            tags=draft.tags,
            phone=draft.phone,
            updated_by=staff.account_id,
            now=ctx.clock.now(),
        )
        saved = await store.profile(tx.conn, staff.shop_id, consumer_id)
        await tx.commit()
    return saved


async def past_conversation(
    ctx: Context,
    staff: Staff,
    consumer_id: int,
    conversation_id: int,
    *,
    since_seq: int,
    limit: int,
) -> tuple[ConversationView, list[MessageView], bool]:
    """DESK-5: one of the consumer's conversations with the shop, read-only, with a page of
    its messages; any staff member of the shop may read it from the side panel."""
    async with ctx.db.read() as tx:
        consumer = await access_consumer(tx.conn, staff, consumer_id)
        row = await conversation_store.get(tx.conn, staff.shop_id, conversation_id)
        if row.consumer_id != consumer.id:
            raise errors.NotFound(kind="conversation", id=conversation_id)
        (view,) = await conversation_views(tx.conn, [conversation_id], now=ctx.clock.now())
        records = await message_store.page(
            tx.conn, conversation_id, since_seq=since_seq, limit=limit + 1
        )
        names = await display_names(tx.conn, staff.shop_id)
    has_more = len(records) > limit
    return view, [message_view(r, names, consumer.nickname) for r in records[:limit]], has_more


async def record_page_view(
    ctx: Context,
    consumer: ConsumerActor,
    conversation_id: int,
    *,
    url: str,
    title: str,
    at: datetime | None = None,
) -> bool:
    """DESK-5: a page of the shop's site the consumer viewed, at the time the page reported
    (kept within the last day) or now. False (and nothing stored) once the conversation has
    its 200 page views."""
    async with ctx.db.uow() as tx:
        row = await access_own_conversation(tx.conn, consumer, conversation_id)
        if await store.page_view_count(tx.conn, conversation_id) >= domain.MAX_PAGE_VIEWS:
            return False
        when = domain.page_view_time(at, ctx.clock.now())
        view = PageViewRecord(url, title[: domain.MAX_PAGE_TITLE_CHARS], when)
        await store.add_page_view(tx.conn, row.shop_id, conversation_id, view)
        await tx.commit()
    return True


async def search_consumers(
    ctx: Context, staff: Staff, *, text: str, page: int, page_size: int
) -> tuple[list[FoundConsumerView], int]:
    """CONV-6: the shop's consumers by nickname (contains) or order number (exact)."""
    _check_page(page, page_size)
    text = text.strip()
    if not text or "\x00" in text or len(text) > domain.MAX_SEARCH_CHARS:
        raise errors.BadInput(
            "Search text empty or too long.", field="q", max_chars=domain.MAX_SEARCH_CHARS
        )
    now = ctx.clock.now()
    async with ctx.db.read() as tx:
        found, total = await store.search_consumers(
            tx.conn, staff.shop_id, text, page=page, page_size=page_size
        )
    return [_found(f, now) for f in found], total


def _found(f: FoundConsumer, now: datetime) -> FoundConsumerView:
    may = domain.may_start_proactive(f.last_ordered_at, now)
    return FoundConsumerView(f.id, f.uid, f.nickname, f.is_vip, f.last_ordered_at, may)


def _check_page(page: int, page_size: int) -> None:
    if not 1 <= page <= MAX_PAGE or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise errors.BadInput("page or page_size out of range.", max_items=MAX_PAGE_SIZE)


async def start_proactive(ctx: Context, staff: Staff, consumer_id: int) -> ConversationView:
    """CONV-6, LIMIT-2: the agent starts a conversation with a consumer who ordered within 30
    days; it is assigned to the agent at once, counts against their reception limit and
    opens with a system notice. A consumer with an open conversation: that conversation if
    the caller already holds it, else `proactive.conversation_open`."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        await tx.lock_shop(staff.shop_id)
        consumer = await access_consumer(tx.conn, staff, consumer_id)
        existing = await conversation_store.open_id(tx.conn, staff.shop_id, consumer.id)
        if existing is not None:
            row = await conversation_store.get(tx.conn, staff.shop_id, existing)
            if row.agent_id != staff.account_id or row.state != ConversationState.ASSIGNED:
                raise errors.ConsumerHasOpenConversation(conversation_id=existing, state=row.state)
            conversation_id = existing
        else:
            last = await store.last_ordered_at(tx.conn, staff.shop_id, consumer.id)
            if not domain.may_start_proactive(last, now):
                raise errors.ProactiveNotAllowed(
                    last_ordered_at=last.isoformat() if last else None,
                    within_days=domain.PROACTIVE_WITHIN.days,
                )
            await _check_room(ctx, tx.conn, staff, now)
            conversation_id = await _create(tx.conn, staff, consumer.id, now)
            await tx.commit()
    (view,) = await announce(ctx, staff.shop_id, [conversation_id])
    return view


async def _check_room(ctx: Context, conn: Connection, staff: Staff, now: datetime) -> None:
    """LIMIT-2: the proactive conversation counts against the agent's reception limit; an agent
    who is full, suspended or without IM permission gets `agent_unavailable` (params.reason).
    Busy, on a break or with no socket open, an agent may still reach out on their own."""
    loads = await routing_store.agent_loads(conn, staff.shop_id, presence_window(ctx, now))
    agent = next((a for a in loads if a.agent_id == staff.account_id), None)
    reason: str | None
    if agent is None:
        reason = "disabled"
    elif not agent.has_im_permission:
        reason = routing.NO_IM_PERMISSION
    elif agent.is_suspended:
        reason = routing.SUSPENDED
    elif agent.current >= agent.limit:
        reason = routing.FULL
    else:
        reason = None
    if reason is not None:
        raise errors.AgentUnavailable(agent_id=staff.account_id, reason=reason)


async def _create(conn: Connection, staff: Staff, consumer_id: int, now: datetime) -> int:
    """The new conversation, assigned to the agent, with its notice. The caller holds the
    shop lock and checked the agent's room."""
    conversation_id = await conversation_store.create(
        conn,
        shop_id=staff.shop_id,
        consumer_id=consumer_id,
        group_id=staff.group_id,
        entry={"source": "proactive"},
        now=now,
    )
    await conversation_store.record_event(
        conn,
        shop_id=staff.shop_id,
        conversation_id=conversation_id,
        kind="opened",
        cause="proactive",
        agent_id=staff.account_id,
        group_id=staff.group_id,
        at=now,
    )
    plan = [routing.Assignment(ConversationId(conversation_id), AccountId(staff.account_id))]
    await routing_store.assign(
        conn, staff.shop_id, plan, now, holder_role=ParticipantRole.HOLDER, cause="proactive"
    )
    # Nobody waits for an answer: the agent speaks first.
    await conversation_store.update_conversation(conn, conversation_id, awaiting_reply_since=None)
    names = await display_names(conn, staff.shop_id)
    notice = notices.proactive_started(agent=names.get(staff.account_id, ""))
    await message_store.append(
        conn, [Append(staff.shop_id, conversation_id, [notice_message(notice)])], now=now
    )
    settings = await shop_store.shop_settings(conn, staff.shop_id)
    policy = AutoEndPolicy.for_mode(settings.auto_end)
    await timer_store.set_timer(
        conn,
        shop_id=staff.shop_id,
        conversation_id=conversation_id,
        kind=AUTO_END_TIMER,
        due_at=now + (policy.warn_after or policy.end_after),
    )
    return conversation_id
