"""Durable timers (CONV-3): deadlines are rows; every process claims due rows, so a restart
loses none and timers due while the server was down fire at start."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from sqlalchemy import select, update

from kefu.domain import notices
from kefu.domain.conversation import (
    AutoEndPolicy,
    ConversationState,
    TimerAction,
    decide_auto_end,
    silence_started_at,
)
from kefu.domain.notices import Notice
from kefu.services.context import Context
from kefu.services.conversations import end_by_timer
from kefu.services.routing import announce, sweep_queues
from kefu.storage import repos
from kefu.storage import tables as t
from kefu.storage.repos import notice_message

log = structlog.get_logger(__name__)
CLAIM_BATCH = 200


class Scheduler:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.tick()
        self._task = asyncio.create_task(self._run(), name="scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._ctx.settings.scheduler_interval_s)
            try:
                await self.tick()
            except Exception:  # the loop must survive one bad timer
                log.exception("scheduler tick failed")

    async def tick(self) -> int:
        """Handle every timer due now; returns how many were handled."""
        now = self._ctx.clock.now()
        tm = t.timers.c
        async with self._ctx.db.read() as tx:
            due = (
                await tx.conn.execute(
                    select(tm.id, tm.shop_id)
                    .where(tm.fired_at.is_(None), tm.due_at <= now)
                    .order_by(tm.due_at)
                    .limit(CLAIM_BATCH)
                )
            ).all()
        handled = 0
        for timer_id, shop_id in due:
            handled += await self._fire(timer_id, shop_id)
        await sweep_queues(self._ctx)  # ROUTE-2: a drain lost with a dead process
        return handled

    async def _fire(self, timer_id: int, shop_id: int) -> int:
        ctx = self._ctx
        now = ctx.clock.now()
        tm = t.timers.c
        async with ctx.db.uow() as tx:
            await tx.lock_shop(shop_id)
            claim = select(t.timers).where(
                tm.id == timer_id, tm.fired_at.is_(None), tm.due_at <= now
            )
            if not tx.is_sqlite:
                claim = claim.with_for_update(skip_locked=True)
            timer = (await tx.conn.execute(claim)).first()
            if timer is None:
                return 0  # another process took it, or it moved
            # The row lock orders this with an agent's end, which takes no shop lock.
            conv = await repos.shop_conversation(
                tx.conn, shop_id, timer.conversation_id, for_update=True
            )
            settings = await repos.shop_settings(tx.conn, shop_id)
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
                await tx.conn.execute(
                    update(t.conversations)
                    .where(t.conversations.c.id == conv.id)
                    .values(auto_end_warned_at=now)
                )
                await repos.append_messages(
                    tx.conn,
                    shop_id=shop_id,
                    conversation_id=conv.id,
                    now=now,
                    items=[notice_message(_warning(policy))],
                )
                changed = [conv.id]
            if decision.next_due_at is None:
                await tx.conn.execute(
                    update(t.timers).where(tm.id == timer_id).values(fired_at=now)
                )
            else:
                await tx.conn.execute(
                    update(t.timers).where(tm.id == timer_id).values(due_at=decision.next_due_at)
                )
            if changed:
                tx.on_commit(lambda: announce(ctx, shop_id, changed))
            await tx.commit()
        return 1


def _warning(policy: AutoEndPolicy) -> Notice:
    """CONV-3: the warning names the time left after it, as the policy sets it."""
    assert policy.warn_after is not None  # only a policy with a warning decides WARN
    return notices.auto_end_warning(ends_within=policy.end_after - policy.warn_after)
