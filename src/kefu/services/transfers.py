"""Transfers (CONV-7): offer a conversation to a named agent, who accepts or declines, or hand
it to a group, where routing picks the agent. The receiver owns its count and rating after.

An offer to an agent who cannot take it (offline, disconnected, suspended, full, without IM
permission) is refused at once; a pending offer expires after KEFU_TRANSFER_TIMEOUT_S (a
durable timer, and checked on every action on it) and its sender may cancel it."""

from __future__ import annotations

from datetime import datetime, timedelta

from kefu import errors
from kefu.domain import notices, routing
from kefu.domain.conversation import ConversationState, ParticipantRole
from kefu.domain.ids import AccountId, GroupId
from kefu.domain.notices import Notice
from kefu.services.access import access_account, access_conversation, access_group
from kefu.services.context import Context, Staff, account_topic, presence_window
from kefu.services.conversations import add_participant, get_view
from kefu.services.routing import announce, assign_waiting
from kefu.services.views import TransferView, transfer_view
from kefu.storage import conversations as conversation_store
from kefu.storage import messages as message_store
from kefu.storage import routing as routing_store
from kefu.storage import timers as timer_store
from kefu.storage import transfers as transfer_store
from kefu.storage.conversations import ConversationRecord
from kefu.storage.db import Connection, UnitOfWork
from kefu.storage.messages import Append, notice_message
from kefu.storage.timers import DueTimer
from kefu.storage.transfers import TransferRecord


async def _assigned_under_lock(
    tx: UnitOfWork, staff: Staff, conversation_id: int
) -> ConversationRecord:
    """Take the shop lock, then the conversation the staff member may speak in, if assigned."""
    await tx.lock_shop(staff.shop_id)
    row = await access_conversation(tx.conn, staff, conversation_id, speak=True, for_update=True)
    if row.state != ConversationState.ASSIGNED:
        raise errors.ConversationClosed(state=row.state)
    return row


TRANSFER_EXPIRY_TIMER = "transfer_expiry"
DISABLED = "disabled"


async def transfer_to_agent(
    ctx: Context, staff: Staff, conversation_id: int, *, to_agent_id: int
) -> TransferView:
    """CONV-7: offer the conversation to a named agent, who must accept within the timeout.

    Refused at once with `agent_unavailable` (params.reason) if the agent cannot take it, and
    with `transfer.pending` while another offer of the conversation is pending.
    """
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        row = await _assigned_under_lock(tx, staff, conversation_id)
        target = await access_account(tx.conn, staff, to_agent_id)
        if target.id == row.agent_id:
            raise errors.Conflict("The conversation is already with that agent.")
        pending = await transfer_store.pending_of(tx.conn, conversation_id)
        if pending is not None and not routing.offer_expired(pending.expires_at, now):
            raise _still_pending(pending)
        if pending is not None:  # lapsed before its timer fired
            await _lapse(ctx, tx, pending, now)
        loads = await routing_store.agent_loads(tx.conn, staff.shop_id, presence_window(ctx, now))
        agent = next((a for a in loads if a.agent_id == target.id), None)
        reason = routing.offer_refused_because(agent) if agent is not None else DISABLED
        if reason is not None:
            raise errors.AgentUnavailable(agent_id=target.id, reason=reason)
        expires_at = now + timedelta(seconds=ctx.settings.transfer_timeout_s)
        record = await transfer_store.create(
            tx.conn,
            shop_id=staff.shop_id,
            conversation_id=conversation_id,
            from_agent_id=staff.account_id,
            to_agent_id=target.id,
            state="pending",
            now=now,
            expires_at=expires_at,
        )
        await timer_store.set_timer(
            tx.conn,
            shop_id=staff.shop_id,
            conversation_id=conversation_id,
            kind=TRANSFER_EXPIRY_TIMER,
            due_at=expires_at,
        )
        view = transfer_view(record)
        tx.on_commit(lambda: _offer(ctx, view))
        await tx.commit()
    return view


def _still_pending(pending: TransferRecord) -> errors.Conflict:
    """What an action that must wait for a pending offer answers: which offer, and until when."""
    return errors.Conflict(
        "A transfer of this conversation is pending; wait for its answer or cancel it.",
        code="transfer.pending",
        transfer_id=pending.id,
        to_agent_id=pending.to_agent_id,
        expires_at=pending.expires_at.isoformat() if pending.expires_at else None,
    )


async def _lapse(ctx: Context, tx: UnitOfWork, pending: TransferRecord, now: datetime) -> None:
    """Mark a pending offer past its deadline expired; both sides are told after commit."""
    view = transfer_view(await transfer_store.decide(tx.conn, pending.id, state="expired", now=now))
    tx.on_commit(lambda: _tell_both(ctx, view))


async def cancel_transfer(ctx: Context, staff: Staff, transfer_id: int) -> TransferView:
    """CONV-7: the sender withdraws a pending offer; the receiver's offer disappears."""
    now = ctx.clock.now()
    await _expire_if_due(ctx, staff.shop_id, transfer_id, now)
    async with ctx.db.uow() as tx:
        await tx.lock_shop(staff.shop_id)
        row = await transfer_store.sent_by(tx.conn, staff.shop_id, transfer_id, staff.account_id)
        if row is None:
            raise errors.NotFound(kind="transfer", id=transfer_id)
        if row.state != "pending" or routing.offer_expired(row.expires_at, now):
            raise _decided("expired" if row.state == "pending" else row.state)
        view = transfer_view(
            await transfer_store.decide(tx.conn, transfer_id, state="cancelled", now=now)
        )
        tx.on_commit(lambda: _tell_both(ctx, view))
        await tx.commit()
    return view


async def _expire_if_due(ctx: Context, shop_id: int, transfer_id: int, now: datetime) -> None:
    """An action on an offer past its deadline, before its timer fired: it expires first (in
    its own transaction, so that the action's refusal does not undo it)."""
    async with ctx.db.uow() as tx:
        await tx.lock_shop(shop_id)
        row = await transfer_store.find(tx.conn, shop_id, transfer_id)
        if (
            row is not None
            and row.state == "pending"
            and routing.offer_expired(row.expires_at, now)
        ):
            await _lapse(ctx, tx, row, now)
            await tx.commit()


def _decided(state: str) -> errors.Conflict:
    if state == "expired":
        return errors.Conflict(
            "The transfer expired before it was answered.", code="transfer.expired", state=state
        )
    return errors.Conflict("This transfer was already decided.", state=state)


async def expire_transfer(ctx: Context, timer: DueTimer) -> bool:
    """CONV-7: a pending offer's deadline came: it expires and both sides are told. Returns
    False if another process claimed the timer first."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        await tx.lock_shop(timer.shop_id)
        if await timer_store.claim(tx.conn, timer.id, now) is None:
            return False
        pending = await transfer_store.pending_of(tx.conn, timer.conversation_id)
        next_due_at = None
        if pending is not None and routing.offer_expired(pending.expires_at, now):
            await _lapse(ctx, tx, pending, now)
        elif pending is not None:
            next_due_at = pending.expires_at
        await timer_store.settle(tx.conn, timer.id, now=now, next_due_at=next_due_at)
        await tx.commit()
    return True


async def _offer(ctx: Context, transfer: TransferView) -> None:
    conversation = await get_view(ctx, transfer.conversation_id)
    assert transfer.to_agent_id is not None
    await ctx.broker.publish(
        account_topic(transfer.to_agent_id),
        {"type": "transfer_request", "transfer": transfer, "conversation": conversation},
    )


async def decide_transfer(
    ctx: Context, staff: Staff, transfer_id: int, *, accept: bool
) -> TransferView:
    """CONV-7: the receiver accepts (if they still have room) or declines; the sender is told."""
    now = ctx.clock.now()
    await _expire_if_due(ctx, staff.shop_id, transfer_id, now)
    async with ctx.db.uow() as tx:
        await tx.lock_shop(staff.shop_id)
        row = await transfer_store.offered_to(tx.conn, staff.shop_id, transfer_id, staff.account_id)
        if row is None:
            raise errors.NotFound(kind="transfer", id=transfer_id)
        if row.state != "pending" or routing.offer_expired(row.expires_at, now):
            raise _decided("expired" if row.state == "pending" else row.state)
        conv = await conversation_store.get(
            tx.conn, staff.shop_id, row.conversation_id, for_update=True
        )
        state = "declined"
        if accept:
            if conv.state != ConversationState.ASSIGNED:
                raise errors.ConversationClosed(state=conv.state)
            await _check_can_receive(ctx, tx.conn, staff.shop_id, AccountId(staff.account_id))
            notice = notices.transferred(
                from_agent=await _name(tx.conn, staff, row.from_agent_id),
                to_agent=await _name(tx.conn, staff, staff.account_id),
            )
            await _reassign(
                tx,
                conv,
                staff.account_id,
                conv.group_id,
                now,
                cause="transfer_agent",
                notice=notice,
            )
            state = "accepted"
        view = transfer_view(
            await transfer_store.decide(tx.conn, transfer_id, state=state, now=now)
        )
        assigned = await assign_waiting(ctx, tx, staff.shop_id, now) if accept else []
        tx.on_commit(lambda: _tell_sender(ctx, view))
        tx.on_commit(lambda: announce(ctx, staff.shop_id, [conv.id, *assigned]))
        await tx.commit()
    return view


async def _tell_both(ctx: Context, transfer: TransferView) -> None:
    """CONV-7: an offer cancelled or expired: the sender is told, and the receiver's offer
    goes away."""
    await _tell_sender(ctx, transfer)
    if transfer.to_agent_id is not None:
        await ctx.broker.publish(
            account_topic(transfer.to_agent_id), {"type": "transfer_result", "transfer": transfer}
        )


async def _tell_sender(ctx: Context, transfer: TransferView) -> None:
    if transfer.from_agent_id is not None:
        await ctx.broker.publish(
            account_topic(transfer.from_agent_id), {"type": "transfer_result", "transfer": transfer}
        )


async def _check_can_receive(
    ctx: Context, conn: Connection, shop_id: int, agent_id: AccountId
) -> None:
    window = presence_window(ctx)
    loads = {a.agent_id: a for a in await routing_store.agent_loads(conn, shop_id, window)}
    agent = loads.get(agent_id)
    reason = routing.unavailable_because(agent) if agent is not None else DISABLED
    if reason is not None:
        raise errors.AgentUnavailable(agent_id=agent_id, reason=reason)


async def _reassign(
    tx: UnitOfWork,
    conv: ConversationRecord,
    agent_id: int,
    group_id: int | None,
    now: datetime,
    *,
    cause: str,
    notice: Notice,
) -> None:
    """CONV-7: the receiver now owns the conversation, its count and its rating."""
    await conversation_store.hand_over(
        tx.conn,
        conv.id,
        agent_id=agent_id,
        group_id=group_id,
        holder_role=ParticipantRole.HOLDER,
        previous_role=ParticipantRole.PREVIOUS,
    )
    await add_participant(tx, conv, agent_id, ParticipantRole.HOLDER, now)
    await conversation_store.record_event(
        tx.conn,
        shop_id=conv.shop_id,
        conversation_id=conv.id,
        kind="transferred",
        cause=cause,
        agent_id=agent_id,
        group_id=group_id,
        at=now,
        data={"from_agent_id": conv.agent_id},
    )
    message = notice_message(notice)
    await message_store.append(tx.conn, [Append(conv.shop_id, conv.id, [message])], now=now)


async def transfer_to_group(
    ctx: Context, staff: Staff, conversation_id: int, *, to_group_id: int
) -> TransferView:
    """CONV-7: routing picks an agent of the group; nobody free is no_agent_available."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        conv = await _assigned_under_lock(tx, staff, conversation_id)
        pending = await transfer_store.pending_of(tx.conn, conversation_id)
        if pending is not None and not routing.offer_expired(pending.expires_at, now):
            raise _still_pending(pending)
        if pending is not None:
            await _lapse(ctx, tx, pending, now)
        group = await access_group(tx.conn, staff, to_group_id)
        agents = await routing_store.agent_loads(tx.conn, staff.shop_id, presence_window(ctx))
        exclude = frozenset({AccountId(conv.agent_id)}) if conv.agent_id else frozenset()
        chosen = routing.choose_agent(agents, GroupId(to_group_id), ctx.rng, exclude=exclude)
        if chosen is None:
            raise errors.NoAgentAvailable(group_id=to_group_id)
        notice = notices.transferred_to_group(
            from_agent=await _name(tx.conn, staff, staff.account_id),
            to_agent=await _name(tx.conn, staff, chosen.agent_id),
            group=str(group.name),
        )
        await _reassign(
            tx, conv, chosen.agent_id, to_group_id, now, cause="transfer_group", notice=notice
        )
        record = await transfer_store.create(
            tx.conn,
            shop_id=staff.shop_id,
            conversation_id=conversation_id,
            from_agent_id=staff.account_id,
            to_agent_id=chosen.agent_id,
            to_group_id=to_group_id,
            state="accepted",
            now=now,
        )
        view = transfer_view(record)
        assigned = await assign_waiting(ctx, tx, staff.shop_id, now)
        tx.on_commit(lambda: announce(ctx, staff.shop_id, [conversation_id, *assigned]))
        await tx.commit()
    return view


async def _name(conn: Connection, staff: Staff, account_id: int | None) -> str:
    if account_id is None:
        return ""
    return str((await access_account(conn, staff, account_id)).display_name)
