"""The conversation lifecycle: open, human request, leave the queue, end, transfer, invite,
join (CONV-1 to CONV-9). Each use case: access, load, decide (domain), save, publish.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from kefu import errors
from kefu.domain import notices
from kefu.domain.conversation import (
    INVITED_BACK,
    AutoEndPolicy,
    ConversationState,
    EndCause,
    ParticipantRole,
    check_transition,
)
from kefu.domain.notices import Notice
from kefu.domain.presence import Role
from kefu.domain.shop import group_for_entry
from kefu.offline import service as offline
from kefu.services import greetings
from kefu.services.access import (
    access_account,
    access_conversation,
    may_end,
    require_supervising,
    supervises,
)
from kefu.services.context import ConsumerActor, Context, Staff
from kefu.services.routing import (
    announce,
    assign_if_unlocked,
    assign_waiting,
    drain,
    publish_views,
)
from kefu.services.views import ConversationView, conversation_views
from kefu.storage import conversations as conversation_store
from kefu.storage import messages as message_store
from kefu.storage import shops as shop_store
from kefu.storage import timers as timer_store
from kefu.storage.conversations import ConversationRecord, EndingRecord, ListScope
from kefu.storage.db import UnitOfWork
from kefu.storage.messages import Append, Ending, NewMessage, notice_message
from kefu.summaries.domain import check_may_end

AUTO_END_TIMER = "auto_end"
RECENT_CONTACTS = 30  # DESK-1
# A human request is decided from these states (OFFL-1: an offline message may ask again).
_DIVERTED = frozenset({ConversationState.BOT, ConversationState.OFFLINE})


async def open_conversation(
    ctx: Context, consumer: ConsumerActor, *, entry: dict[str, Any]
) -> ConversationView:
    """CONV-1, ENTRY-1: the consumer's open conversation, or a new one with the welcome message."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        await tx.lock_shop(consumer.shop_id)
        conversation_id = await _open_or_create(tx, consumer, entry, now)
        await tx.commit()
    (view,) = await announce(ctx, consumer.shop_id, [conversation_id])
    return view


async def _open_or_create(
    tx: UnitOfWork, consumer: ConsumerActor, entry: dict[str, Any], now: datetime
) -> int:
    existing = await conversation_store.open_id(tx.conn, consumer.shop_id, consumer.consumer_id)
    if existing is not None:
        return existing
    settings = await shop_store.shop_settings(tx.conn, consumer.shop_id)
    group_id = group_for_entry(
        settings,
        str(entry.get("source", "direct")),
        await shop_store.default_group_id(tx.conn, consumer.shop_id),
    )
    conversation_id = await conversation_store.create(
        tx.conn,
        shop_id=consumer.shop_id,
        consumer_id=consumer.consumer_id,
        group_id=group_id,
        entry=entry,
        now=now,
    )
    await conversation_store.record_event(
        tx.conn,
        shop_id=consumer.shop_id,
        conversation_id=conversation_id,
        kind="opened",
        cause=str(entry.get("source", "direct")),
        group_id=group_id,
        at=now,
    )
    welcome = NewMessage("system", None, "system", settings.welcome_message)
    await message_store.append(
        tx.conn, [Append(consumer.shop_id, conversation_id, [welcome])], now=now
    )
    policy = AutoEndPolicy.for_mode(settings.auto_end)
    await timer_store.set_timer(
        tx.conn,
        shop_id=consumer.shop_id,
        conversation_id=conversation_id,
        kind=AUTO_END_TIMER,
        due_at=now + (policy.warn_after or policy.end_after),
    )
    return conversation_id


async def request_human(
    ctx: Context,
    consumer: ConsumerActor,
    *,
    cause: str = "consumer",
    entry: dict[str, Any] | None = None,
) -> ConversationView:
    """ROUTE-1/2: queue the request and assign it at once if an eligible agent has room;
    a blacklisted consumer, a request outside service hours or with nobody online becomes an
    offline message instead (ROUTE-5, ROUTE-6, OFFL-1), and an offline message asked again
    is routed if it now can be.

    Idempotent: asking again while queued or assigned changes nothing (one conversation).
    """
    now = ctx.clock.now()
    changed: list[int] = []
    async with ctx.db.uow() as tx:
        await tx.lock_shop(consumer.shop_id)
        conversation_id = await _open_or_create(tx, consumer, entry or {"source": "direct"}, now)
        row = await conversation_store.get(tx.conn, consumer.shop_id, conversation_id)
        settings = await shop_store.shop_settings(tx.conn, consumer.shop_id)
        if row.state in _DIVERTED and await offline.divert(ctx, tx, row, settings, now):
            changed = [conversation_id] if row.state == ConversationState.BOT else []
        elif row.state in _DIVERTED:
            await conversation_store.update_conversation(
                tx.conn, conversation_id, state=ConversationState.QUEUED, human_requested_at=now
            )
            if row.state == ConversationState.OFFLINE:
                await offline.rearm_auto_end(tx.conn, row.shop_id, row.id, settings, now)
            await conversation_store.record_event(
                tx.conn,
                shop_id=consumer.shop_id,
                conversation_id=conversation_id,
                kind="human_requested",
                cause=cause,
                group_id=row.group_id,
                at=now,
            )
            assigned = await assign_waiting(ctx, tx, consumer.shop_id, now, settings=settings)
            if conversation_id not in assigned:
                await offline.start_wait(tx.conn, row, settings, now)  # OFFL-1
                await conversation_store.record_event(
                    tx.conn,
                    shop_id=consumer.shop_id,
                    conversation_id=conversation_id,
                    kind="queued",
                    cause=cause,
                    group_id=row.group_id,
                    at=now,
                )
            changed = sorted({conversation_id, *assigned})
        await tx.commit()
    if not changed:
        return await get_view(ctx, conversation_id)  # asked again: nothing to announce
    return _view_of(await announce(ctx, consumer.shop_id, changed), conversation_id)


async def leave_queue(ctx: Context, consumer: ConsumerActor) -> ConversationView:
    """ROUTE-4: a queued consumer gives up; the conversation ends with cause left_queue."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        await tx.lock_shop(consumer.shop_id)
        conversation_id = await conversation_store.open_id(
            tx.conn, consumer.shop_id, consumer.consumer_id
        )
        if conversation_id is None:
            raise errors.NotFound(kind="conversation")
        row = await conversation_store.get(tx.conn, consumer.shop_id, conversation_id)
        if row.state != ConversationState.QUEUED:
            raise errors.ConversationClosed("You are not in the queue.", state=row.state)
        await _end(tx, row, EndCause.LEFT_QUEUE, now, notice=notices.left_queue())
        await offline.start_left_queue(tx.conn, row, now)  # OFFL-1
        await tx.commit()
    (view,) = await announce(ctx, consumer.shop_id, [conversation_id])
    return view


async def _end(
    tx: UnitOfWork,
    row: ConversationRecord,
    cause: EndCause,
    now: datetime,
    *,
    notice: Notice,
) -> None:
    """CONV-1, CONV-3: end `row` (`_ends`), reading what its end decides from."""
    ending = await conversation_store.get_ending(tx.conn, row.shop_id, row.id)
    await _ends(tx, [(row, ending)], cause, now, notice=notice)


async def _ends(
    tx: UnitOfWork,
    rows: Sequence[tuple[ConversationRecord, EndingRecord]],
    cause: EndCause,
    now: datetime,
    *,
    notice: Notice,
) -> None:
    """CONV-1, CONV-3: end each row with its closing message (SET-2), the notice and, for a
    shop that forces ratings, the rating card (RATE-1), all in one write."""
    for row, _ in rows:
        check_transition(ConversationState(row.state), ConversationState.ENDED)
    await message_store.append_ends(
        tx.conn,
        [
            Ending(
                row.shop_id,
                row.id,
                [
                    *greetings.closing_messages(
                        ending.greetings, row.agent_id, ending.agent_group_id
                    ),
                    notice_message(notice),
                    *_forced_rating_card(row, ending),
                ],
                cause=cause,
                agent_id=row.agent_id,
                group_id=row.group_id,
            )
            for row, ending in rows
        ],
        now=now,
    )


def _forced_rating_card(row: ConversationRecord, ending: EndingRecord) -> list[NewMessage]:
    """RATE-1: a shop that forces ratings ends each human conversation with the rating card,
    naming the holder (CONV-7)."""
    if row.agent_id is None or not ending.settings.rating_forced:
        return []
    card = notices.rating_forced(agent=ending.agent_name)
    return [notice_message(card, meta={"rating_card": "forced"})]


async def end_conversation(ctx: Context, staff: Staff, conversation_id: int) -> ConversationView:
    """CONV-3: the agent ends it; the freed slot goes to the queue at once (ROUTE-2).

    Ending only lowers a load, so it locks the conversation's row, not the shop: a router that
    read the higher load meanwhile was merely cautious (ROUTE-7). The ends of a shop that come
    while another is being written are written together, in one transaction (group commit),
    each decided on its own: a refused one changes nothing and is told why. If the shop lock
    is free then, the same transaction takes it and fills the freed slots (one commit for the
    ends and their routing pass); if not, after commit the slots go to the shop's coalesced
    drain, which fills them in one pass. If this process dies first, the scheduler's sweep
    drains them.
    """
    view, routed = await ctx.ends.run(
        staff.shop_id, (staff, conversation_id), lambda batch: _end_batch(ctx, staff.shop_id, batch)
    )
    if not routed:
        await drain(ctx, staff.shop_id)  # the batch's callers share a pass; the next batch runs
    return view


async def _end_batch(
    ctx: Context, shop_id: int, batch: list[tuple[Staff, int]]
) -> list[tuple[ConversationView, bool] | errors.KefuError]:
    now = ctx.clock.now()
    outcomes: list[tuple[ConversationView, bool] | errors.KefuError | None] = [None] * len(batch)
    ending: dict[int, tuple[int, ConversationRecord, EndingRecord]] = {}  # id: item, row, facts
    assigned: list[int] | None = None
    async with ctx.db.uow() as tx:
        found = await conversation_store.get_endings(tx.conn, shop_id, [c for _, c in batch])
        for i, (staff, conversation_id) in enumerate(batch):
            try:
                row = may_end(staff, found.get(conversation_id), conversation_id)
                if conversation_id in ending:  # asked twice at once: the first ends it
                    raise errors.ConversationClosed(state=ConversationState.ENDED)
                if row.state != ConversationState.ASSIGNED:
                    raise errors.ConversationClosed(state=row.state)
                if row.participant_role != ParticipantRole.HOLDER:
                    raise errors.Forbidden(
                        "Only the agent holding the conversation ends it.",
                        code="conversation.not_holder",
                    )
                facts = found[conversation_id]
                # CONV-10: a shop may require the consultation summary before the agent ends.
                check_may_end(
                    summary_required=facts.settings.summary_required,
                    summarised=facts.is_summarised,
                )
            except errors.KefuError as exc:
                outcomes[i] = exc
                continue
            ending[conversation_id] = (i, row, facts)
        if ending:
            await _ends(
                tx,
                [(r, f) for _, r, f in ending.values()],
                EndCause.AGENT,
                now,
                notice=notices.ended(),
            )
            views = await conversation_views(tx.conn, list(ending), now=now)
            # ROUTE-2: the slots freed, routed in this transaction if the shop lock is free.
            assigned = await assign_if_unlocked(ctx, tx, shop_id, now)
            await tx.commit()
            for view in views:
                outcomes[ending[view.id][0]] = (view, assigned is not None)
    if ending:
        await publish_views(ctx, shop_id, views)
    if assigned:  # announced beside the next batch, as a drain pass's are
        ctx.drains.beside(announce(ctx, shop_id, assigned))
    return [o if o is not None else errors.NotFound(kind="conversation") for o in outcomes]


async def end_by_timer(
    ctx: Context,
    tx: UnitOfWork,
    row: ConversationRecord,
    now: datetime,
    *,
    policy: AutoEndPolicy,
) -> list[int]:
    """CONV-3: the consumer stayed silent: end, and give the slot to the queue.

    The caller holds the shop lock.
    """
    notice = notices.auto_ended(silent_for=policy.end_after)
    await _end(tx, row, EndCause.TIMEOUT, now, notice=notice)
    if row.state != ConversationState.ASSIGNED:
        return [row.id]
    return [row.id, *await assign_waiting(ctx, tx, row.shop_id, now)]


async def current_conversation(ctx: Context, consumer: ConsumerActor) -> ConversationView | None:
    """CONV-5: the consumer's open conversation in the shop, if any."""
    async with ctx.db.read() as tx:
        found = await conversation_store.open_id(tx.conn, consumer.shop_id, consumer.consumer_id)
        if found is None:
            return None
        (view,) = await conversation_views(tx.conn, [found], now=ctx.clock.now())
    return view


def _view_of(views: list[ConversationView], conversation_id: int) -> ConversationView:
    return next(v for v in views if v.id == conversation_id)


async def get_view(ctx: Context, conversation_id: int) -> ConversationView:
    async with ctx.db.read() as tx:
        (view,) = await conversation_views(tx.conn, [conversation_id], now=ctx.clock.now())
    return view


async def get_conversation(ctx: Context, staff: Staff, conversation_id: int) -> ConversationView:
    async with ctx.db.read() as tx:
        await access_conversation(tx.conn, staff, conversation_id)
        (view,) = await conversation_views(tx.conn, [conversation_id], now=ctx.clock.now())
    return view


async def add_participant(
    tx: UnitOfWork, row: ConversationRecord, account_id: int, role: ParticipantRole, now: datetime
) -> None:
    """CONV-8: each participant is recorded (and credited) once. A previous holder or one who
    left an invitation, invited again, speaks again (CONV-7)."""
    await conversation_store.add_participant(
        tx.conn,
        shop_id=row.shop_id,
        conversation_id=row.id,
        account_id=account_id,
        role=role,
        now=now,
        again_from=INVITED_BACK if role is ParticipantRole.INVITED else (),
    )


async def invite(
    ctx: Context, staff: Staff, conversation_id: int, *, agent_id: int
) -> ConversationView:
    """CONV-8: bring another agent into the conversation; each participant is credited once."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        conv = await access_conversation(tx.conn, staff, conversation_id, speak=True)
        await access_account(tx.conn, staff, agent_id)
        if conv.state != ConversationState.ASSIGNED:
            raise errors.ConversationClosed(state=conv.state)
        await add_participant(tx, conv, agent_id, ParticipantRole.INVITED, now)
        await conversation_store.record_event(
            tx.conn,
            shop_id=staff.shop_id,
            conversation_id=conversation_id,
            kind="invited",
            agent_id=agent_id,
            at=now,
            data={"by": staff.account_id},
        )
        await tx.commit()
    (view,) = await announce(ctx, staff.shop_id, [conversation_id])
    return view


async def leave_invitation(ctx: Context, staff: Staff, conversation_id: int) -> ConversationView:
    """CONV-8: an invited agent leaves the conversation: it leaves their list and they no
    longer write in it; they keep reading it and stay credited. Only an invitation is left
    (the holder transfers or ends)."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        conv = await access_conversation(tx.conn, staff, conversation_id, for_update=True)
        if conv.participant_role != ParticipantRole.INVITED:
            raise errors.Conflict(
                "Only an invited agent leaves a conversation.",
                code="conversation.not_invited",
                role=conv.participant_role,
            )
        await conversation_store.set_participant_role(
            tx.conn, conversation_id, staff.account_id, ParticipantRole.LEFT
        )
        await conversation_store.record_event(
            tx.conn,
            shop_id=staff.shop_id,
            conversation_id=conversation_id,
            kind="left",
            agent_id=staff.account_id,
            at=now,
        )
        await tx.commit()
    (view,) = await announce(ctx, staff.shop_id, [conversation_id])
    return view


async def join(ctx: Context, staff: Staff, conversation_id: int) -> ConversationView:
    """CONV-9: a supervisor or group leader joins a colleague session to speak in it."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        conv = await access_conversation(tx.conn, staff, conversation_id)
        if not supervises(staff, conv.group_id):
            raise errors.Forbidden()
        if conv.state != ConversationState.ASSIGNED:
            raise errors.ConversationClosed(state=conv.state)
        await add_participant(tx, conv, staff.account_id, ParticipantRole.OBSERVER, now)
        await conversation_store.record_event(
            tx.conn,
            shop_id=staff.shop_id,
            conversation_id=conversation_id,
            kind="joined",
            agent_id=staff.account_id,
            at=now,
        )
        await tx.commit()
    (view,) = await announce(ctx, staff.shop_id, [conversation_id])
    return view


async def list_conversations(
    ctx: Context, staff: Staff, *, scope: str, page: int, page_size: int
) -> tuple[list[ConversationView], int]:
    """DESK-1: my conversations, recent contacts (the last 30 consumers, their latest
    conversation each), colleague sessions (supervisors, CONV-9), history."""
    try:
        list_scope = ListScope(scope)
    except ValueError:
        list_scope = ListScope.ALL
    group_id = None
    if list_scope is ListScope.COLLEAGUES:
        require_supervising(staff)
        if staff.role is Role.LEADER:
            group_id = staff.group_id
    if list_scope is ListScope.RECENT:
        page, page_size = 1, min(page_size, RECENT_CONTACTS)
    async with ctx.db.read() as tx:
        ids, total = await conversation_store.page_ids(
            tx.conn,
            shop_id=staff.shop_id,
            account_id=staff.account_id,
            scope=list_scope,
            group_id=group_id,
            limit=page_size,
            offset=(page - 1) * page_size,
        )
        views = await conversation_views(tx.conn, ids, now=ctx.clock.now())
    if list_scope is ListScope.RECENT:
        total = min(total, RECENT_CONTACTS)
    return views, total
