"""Offline messages (OFFL-1 to OFFL-4): a human request nobody can serve becomes the consumer's
offline message, grouped per consumer, processed by hand, by being served, or routed by the
shop's auto-assign. Each use case: access, load, decide (domain), save, publish.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from kefu import errors
from kefu.domain import notices
from kefu.domain import routing as routing_rules
from kefu.domain.conversation import (
    AutoEndPolicy,
    ConversationState,
    ParticipantRole,
    check_transition,
)
from kefu.domain.ids import AccountId, ConversationId, GroupId
from kefu.domain.shop import ShopSettings
from kefu.offline import domain
from kefu.offline.domain import OfflineCause, ProcessedCause
from kefu.services.context import ConsumerActor, Context, Staff, presence_window
from kefu.services.routing import announce
from kefu.services.views import MessageView, display_names, message_view
from kefu.storage import conversations as conversation_store
from kefu.storage import messages as message_store
from kefu.storage import offline as store
from kefu.storage import routing as routing_store
from kefu.storage import shops as shop_store
from kefu.storage import timers as timer_store
from kefu.storage.conversations import ConversationRecord
from kefu.storage.db import Connection, UnitOfWork
from kefu.storage.messages import Append, NewMessage, notice_message
from kefu.storage.offline import EntryRecord
from kefu.storage.timers import DueTimer

OFFLINE_WAIT_TIMER = "offline_wait"  # OFFL-1: queued with nobody picking up
LEFT_QUEUE_TIMER = "left_queue"  # OFFL-1: left the queue, not back within 15 minutes
# services.conversations.AUTO_END_TIMER (that module imports this one; a test compares them).
AUTO_END_TIMER = "auto_end"


async def divert(
    ctx: Context, tx: UnitOfWork, row: ConversationRecord, settings: ShopSettings, now: datetime
) -> OfflineCause | None:
    """OFFL-1, ROUTE-5, ROUTE-6: a human request from a blacklisted consumer, outside service
    hours or, if the shop says so, with nobody eligible online becomes an offline message at
    once, and never reaches an agent. Returns why, or None when it is to be routed. The
    caller holds the shop lock."""
    anyone_online = True  # unless the shop asks, nobody online queues (ROUTE-2)
    if settings.offline_when_nobody_online:
        window = presence_window(ctx, now)
        agents = await routing_store.agent_loads(tx.conn, row.shop_id, window)
        anyone_online = any(routing_rules.is_on_duty(a, _group(row.group_id)) for a in agents)
    cause = domain.offline_cause(
        blacklisted=await store.is_blacklisted(tx.conn, row.shop_id, row.consumer_id),
        is_open=settings.hours.is_open(now),
        anyone_online=anyone_online,
    )
    if cause is not None and row.state != ConversationState.OFFLINE:
        await go_offline(tx.conn, row, cause, settings, now)
    return cause


async def go_offline(
    conn: Connection,
    row: ConversationRecord,
    cause: OfflineCause,
    settings: ShopSettings,
    now: datetime,
) -> None:
    """OFFL-1: the conversation becomes the consumer's offline message, where they go on
    writing; their entry (OFFL-2) is unprocessed again. The caller holds the shop lock."""
    check_transition(ConversationState(row.state), ConversationState.OFFLINE)
    said: list[NewMessage] = [notice_message(_notice(cause))]
    if cause is OfflineCause.OUTSIDE_HOURS and settings.offline_message:
        said.append(NewMessage("system", None, "system", settings.offline_message))
    changes = {"state": ConversationState.OFFLINE, "human_requested_at": now}
    await message_store.append(conn, [Append(row.shop_id, row.id, said, also=changes)], now=now)
    await conversation_store.record_event(
        conn,
        shop_id=row.shop_id,
        conversation_id=row.id,
        kind="offline",
        cause=cause,
        group_id=row.group_id,
        at=now,
    )
    await store.add_entry(
        conn, shop_id=row.shop_id, consumer_id=row.consumer_id, cause=cause, now=now
    )


async def rearm_auto_end(
    conn: Connection, shop_id: int, conversation_id: int, settings: ShopSettings, now: datetime
) -> None:
    """CONV-3: an offline message does not end by itself (it waits for the shop); once it is
    queued or served again, or a new conversation starts from it, its auto-end runs again."""
    policy = AutoEndPolicy.for_mode(settings.auto_end)
    await timer_store.set_timer(
        conn,
        shop_id=shop_id,
        conversation_id=conversation_id,
        kind=AUTO_END_TIMER,
        due_at=now + (policy.warn_after or policy.end_after),
    )


def _group(group_id: int | None) -> GroupId | None:
    return GroupId(group_id) if group_id is not None else None


def _notice(cause: OfflineCause) -> notices.Notice:
    """The consumer is told that nobody can answer now and that they may leave a message;
    a blacklisted consumer is told just what one is told when nobody is online (ROUTE-5)."""
    if cause is OfflineCause.OUTSIDE_HOURS:
        return notices.offline_outside_hours()
    if cause is OfflineCause.NO_PICKUP:
        return notices.offline_no_pickup()
    return notices.offline_no_agent()


async def start_wait(
    conn: Connection, row: ConversationRecord, settings: ShopSettings, now: datetime
) -> None:
    """OFFL-1: a queued request becomes an offline message if nobody picks it up within the
    shop's wait (none by default)."""
    if settings.offline_after_s > 0:
        await timer_store.set_timer(
            conn,
            shop_id=row.shop_id,
            conversation_id=row.id,
            kind=OFFLINE_WAIT_TIMER,
            due_at=now + timedelta(seconds=settings.offline_after_s),
        )


async def start_left_queue(conn: Connection, row: ConversationRecord, now: datetime) -> None:
    """OFFL-1: the consumer left the queue; unless they come back within 15 minutes, they
    become an offline message."""
    await timer_store.set_timer(
        conn,
        shop_id=row.shop_id,
        conversation_id=row.id,
        kind=LEFT_QUEUE_TIMER,
        due_at=now + domain.LEFT_QUEUE_GRACE,
    )


async def fire_offline_wait(ctx: Context, timer: DueTimer) -> bool:
    """OFFL-1: still queued after the shop's wait: an offline message."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        await tx.lock_shop(timer.shop_id)
        if await timer_store.claim(tx.conn, timer.id, now) is None:
            return False
        row = await conversation_store.get(tx.conn, timer.shop_id, timer.conversation_id)
        moved = row.state == ConversationState.QUEUED
        if moved:
            settings = await shop_store.shop_settings(tx.conn, timer.shop_id)
            await go_offline(tx.conn, row, OfflineCause.NO_PICKUP, settings, now)
        await timer_store.settle(tx.conn, timer.id, now=now, next_due_at=None)
        if moved:
            tx.on_commit(lambda: announce(ctx, timer.shop_id, [timer.conversation_id]))
        await tx.commit()
    return True


async def fire_left_queue(ctx: Context, timer: DueTimer) -> bool:
    """OFFL-1: 15 minutes after leaving the queue, not back and not served: one entry."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        await tx.lock_shop(timer.shop_id)
        if await timer_store.claim(tx.conn, timer.id, now) is None:
            return False
        row = await conversation_store.get(tx.conn, timer.shop_id, timer.conversation_id)
        left_at = row.ended_at or now
        back = await store.served_since(
            tx.conn, row.shop_id, row.consumer_id, since=left_at, besides=row.id
        )
        if domain.left_queue_is_offline(left_at=left_at, served_since=back, now=now):
            await store.add_entry(
                tx.conn,
                shop_id=row.shop_id,
                consumer_id=row.consumer_id,
                cause=OfflineCause.LEFT_QUEUE,
                now=now,
            )
            await conversation_store.record_event(
                tx.conn,
                shop_id=row.shop_id,
                conversation_id=row.id,
                kind="offline",
                cause=OfflineCause.LEFT_QUEUE,
                group_id=row.group_id,
                at=now,
            )
        await timer_store.settle(tx.conn, timer.id, now=now, next_due_at=None)
        await tx.commit()
    return True


async def consumer_wrote(ctx: Context, consumer: ConsumerActor) -> None:
    """OFFL-2: a message left in an offline conversation keeps the consumer's one entry
    unprocessed and latest."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        await tx.lock_shop(consumer.shop_id)
        found = await store.open_conversation(tx.conn, consumer.shop_id, consumer.consumer_id)
        if found is not None and found[1] is ConversationState.OFFLINE:
            await store.add_entry(
                tx.conn, shop_id=consumer.shop_id, consumer_id=consumer.consumer_id, now=now
            )
        await tx.commit()


# OFFL-2: the offline tab.


@dataclass(frozen=True, slots=True)
class EntryPage:
    items: list[EntryRecord]
    total: int
    unprocessed_7d: int


async def list_entries(
    ctx: Context, staff: Staff, *, status: str, page: int, page_size: int
) -> EntryPage:
    """OFFL-2: the shop's entries, latest first, and the 7-day count of consumers with
    unprocessed messages. Every account of the shop sees the tab (DESK-1)."""
    now = ctx.clock.now()
    unprocessed = {"unprocessed": True, "processed": False}.get(status)
    async with ctx.db.read() as tx:
        items, total = await store.entries_page(
            tx.conn,
            staff.shop_id,
            unprocessed=unprocessed,
            limit=page_size,
            offset=(page - 1) * page_size,
        )
        count = await store.unprocessed_count(tx.conn, staff.shop_id, now - domain.COUNT_WINDOW)
    return EntryPage(items, total, count)


async def unprocessed_count(ctx: Context, staff: Staff) -> int:
    async with ctx.db.read() as tx:
        return await store.unprocessed_count(
            tx.conn, staff.shop_id, ctx.clock.now() - domain.COUNT_WINDOW
        )


async def access_entry(conn: Connection, staff: Staff, entry_id: int) -> EntryRecord:
    """ACCT-5: an entry of the caller's shop."""
    found = await store.entry(conn, staff.shop_id, entry_id)
    if found is None:
        raise errors.NotFound(kind="offline_entry", id=entry_id)
    return found


@dataclass(frozen=True, slots=True)
class HistoryPage:
    entry: EntryRecord
    items: list[MessageView]
    next_before: int | None


async def entry_history(
    ctx: Context, staff: Staff, entry_id: int, *, before: int | None, limit: int
) -> HistoryPage:
    """OFFL-2: the consumer's whole history with the shop, newest page first (`before`: a
    message id from the previous page)."""
    async with ctx.db.read() as tx:
        entry = await access_entry(tx.conn, staff, entry_id)
        records = await store.consumer_history(
            tx.conn, staff.shop_id, entry.consumer_id, before_id=before, limit=limit
        )
        names = await display_names(tx.conn, staff.shop_id)
    items = [message_view(r, names, entry.nickname) for r in records]
    next_before = records[0].id if len(records) == limit else None
    return HistoryPage(entry, items, next_before)


async def _access_entries(conn: Connection, staff: Staff, ids: Sequence[int]) -> list[EntryRecord]:
    found = await store.entries_by_id(conn, staff.shop_id, ids)
    for entry_id in ids:
        if entry_id not in found:
            raise errors.NotFound(kind="offline_entry", id=entry_id)
    return [found[i] for i in dict.fromkeys(ids)]


# OFFL-3: processing.


async def mark_processed(ctx: Context, staff: Staff, entry_ids: Sequence[int]) -> int:
    """OFFL-3: mark one or many entries processed; returns how many were unprocessed."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        await tx.lock_shop(staff.shop_id)
        entries = await _access_entries(tx.conn, staff, entry_ids)
        changed = await store.mark_processed(
            tx.conn,
            staff.shop_id,
            [e.id for e in entries],
            cause=ProcessedCause.MARKED,
            by=staff.account_id,
            now=now,
        )
        await tx.commit()
    return changed


async def start_conversations(ctx: Context, staff: Staff, entry_ids: Sequence[int]) -> list[int]:
    """OFFL-3: the agent starts a conversation with each entry's consumer (their open one,
    or a new one), held by the agent, with a system notice in the chat; the entries are
    processed. A consumer already served by a human is left with their agent. Returns the
    conversations the agent now holds. An agent's own act: their reception limit (a routing
    rule, ROUTE-7) does not refuse it."""
    now = ctx.clock.now()
    held: list[int] = []
    async with ctx.db.uow() as tx:
        await tx.lock_shop(staff.shop_id)
        entries = await _access_entries(tx.conn, staff, entry_ids)
        names = await display_names(tx.conn, staff.shop_id)
        for entry in entries:
            conversation_id = await _start_one(tx, staff, entry, names, now)
            if conversation_id is not None:
                held.append(conversation_id)
        await store.mark_processed(
            tx.conn,
            staff.shop_id,
            [e.id for e in entries],
            cause=ProcessedCause.STARTED,
            by=staff.account_id,
            now=now,
        )
        await tx.commit()
    if held:
        await announce(ctx, staff.shop_id, held)
    return held


async def _start_one(
    tx: UnitOfWork, staff: Staff, entry: EntryRecord, names: dict[int, str], now: datetime
) -> int | None:
    found = await store.open_conversation(tx.conn, staff.shop_id, entry.consumer_id)
    if found is not None and found[1] is ConversationState.ASSIGNED:
        return None
    if found is None:
        conversation_id = await conversation_store.create(
            tx.conn,
            shop_id=staff.shop_id,
            consumer_id=entry.consumer_id,
            group_id=staff.group_id,
            entry={"source": "offline"},
            now=now,
        )
    else:
        conversation_id = found[0]
        check_transition(found[1], ConversationState.ASSIGNED)
    settings = await shop_store.shop_settings(tx.conn, staff.shop_id)
    await rearm_auto_end(tx.conn, staff.shop_id, conversation_id, settings, now)
    await routing_store.assign(
        tx.conn,
        staff.shop_id,
        [routing_rules.Assignment(ConversationId(conversation_id), AccountId(staff.account_id))],
        now,
        holder_role=ParticipantRole.HOLDER,
        cause="offline_start",
    )
    notice = notices.offline_started(agent=names.get(staff.account_id, ""))
    await message_store.append(
        tx.conn, [Append(staff.shop_id, conversation_id, [notice_message(notice)])], now=now
    )
    return conversation_id
