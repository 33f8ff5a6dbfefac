"""What a due deadline does (CONV-3): the auto-end warning and the auto-end itself. The
scheduler finds due timers and calls these; each claims its timer in its own transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from kefu.domain import notices
from kefu.domain.conversation import (
    AutoEndPolicy,
    ConversationState,
    TimerAction,
    decide_auto_end,
    silence_started_at,
)
from kefu.offline import service as offline
from kefu.services.context import Context
from kefu.services.conversations import AUTO_END_TIMER, end_by_timer
from kefu.services.routing import announce
from kefu.services.transfers import TRANSFER_EXPIRY_TIMER, expire_transfer
from kefu.storage import conversations as conversation_store
from kefu.storage import messages as message_store
from kefu.storage import shops as shop_store
from kefu.storage import timers as timer_store
from kefu.storage.messages import Append, notice_message
from kefu.storage.timers import DueTimer


async def due_timers(ctx: Context, *, limit: int) -> list[DueTimer]:
    """CONV-3: timers due now, earliest first (each handler claims its own before acting)."""
    async with ctx.db.read() as tx:
        return await timer_store.due(tx.conn, ctx.clock.now(), limit=limit)


async def fire_auto_end(ctx: Context, timer: DueTimer) -> bool:
    """CONV-3: warn a silent consumer, or end the conversation and give its slot to the queue.

    Returns False if another process claimed the timer first, or it moved.
    """
    now = ctx.clock.now()
    shop_id = timer.shop_id
    async with ctx.db.uow() as tx:
        await tx.lock_shop(shop_id)
        if await timer_store.claim(tx.conn, timer.id, now) is None:
            return False
        # The row lock orders this with an agent's end, which takes no shop lock.
        conv = await conversation_store.get(
            tx.conn, shop_id, timer.conversation_id, for_update=True
        )
        settings = await shop_store.shop_settings(tx.conn, shop_id)
        policy = AutoEndPolicy.for_mode(settings.auto_end)
        decision = decide_auto_end(
            state=ConversationState(conv.state),
            silence_since=silence_started_at(
                created_at=conv.created_at,
                assigned_at=conv.assigned_at,
                last_consumer_message_at=conv.last_consumer_message_at,
            ),
            warned_at=conv.auto_end_warned_at,
            policy=policy,
            now=now,
        )
        changed: list[int] = []
        if decision.action is TimerAction.END:
            changed = await end_by_timer(ctx, tx, conv, now, policy=policy)
        elif decision.action is TimerAction.WARN:
            warning = notice_message(_warning(policy))
            marked = {"auto_end_warned_at": now}
            await message_store.append(
                tx.conn, [Append(shop_id, conv.id, [warning], also=marked)], now=now
            )
            changed = [conv.id]
        await timer_store.settle(tx.conn, timer.id, now=now, next_due_at=decision.next_due_at)
        if changed:
            tx.on_commit(lambda: announce(ctx, shop_id, changed))
        await tx.commit()
    return True


def _warning(policy: AutoEndPolicy) -> notices.Notice:
    """CONV-3: the warning names the time left after it, as the policy sets it."""
    assert policy.warn_after is not None  # only a policy with a warning decides WARN
    return notices.auto_end_warning(ends_within=policy.end_after - policy.warn_after)


TimerHandler = Callable[[Context, DueTimer], Awaitable[bool]]
HANDLERS: dict[str, TimerHandler] = {
    AUTO_END_TIMER: fire_auto_end,
    TRANSFER_EXPIRY_TIMER: expire_transfer,  # CONV-7
    offline.OFFLINE_WAIT_TIMER: offline.fire_offline_wait,  # OFFL-1
    offline.LEFT_QUEUE_TIMER: offline.fire_left_queue,  # OFFL-1
}
