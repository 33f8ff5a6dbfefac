"""Live queue positions for waiting consumers (ROUTE-4), coalesced per shop so that a burst
of changes costs one refresh; only consumers whose position or estimate moved are told."""

from __future__ import annotations

import asyncio

import structlog

from kefu import errors
from kefu.services.context import Context, consumer_topic
from kefu.services.routing import QueuePlace, queue_snapshot

log = structlog.get_logger(__name__)

# What a queued conversation was last told: (position, estimated wait in seconds, whether an
# agent of its group is online).
_Told = tuple[int, int | None, bool]


class QueueNotifier:
    def __init__(self, ctx: Context, *, delay_s: float = 0.05) -> None:
        self._ctx = ctx
        self._delay_s = delay_s
        self._pending: dict[int, asyncio.Task[None]] = {}
        self._told: dict[int, dict[int, _Told]] = {}

    def changed(self, shop_id: int) -> None:
        if shop_id not in self._pending:
            self._pending[shop_id] = asyncio.get_running_loop().create_task(self._refresh(shop_id))

    def retell(self, shop_id: int, conversation_id: int) -> None:
        """ROUTE-4: a consumer who reconnects while queued hears its place again at the next
        refresh, even if it has not moved."""
        self._told.get(shop_id, {}).pop(conversation_id, None)
        self.changed(shop_id)

    async def _refresh(self, shop_id: int) -> None:
        try:
            await asyncio.sleep(self._delay_s)
            self._done(shop_id)  # a change from now on schedules the next refresh
            snapshot = await queue_snapshot(self._ctx, shop_id)
            told = self._told.pop(shop_id, {})
            # Only the conversations queued now are kept: one that left the queue (assigned,
            # left, ended) is forgotten here, so memory follows the queue, not its history.
            queued: dict[int, _Told] = {
                p.conversation_id: (p.position, p.wait_s, p.agents_online) for p in snapshot
            }
            if queued:
                self._told[shop_id] = queued
            for place in snapshot:
                if told.get(place.conversation_id) != queued[place.conversation_id]:
                    await self._tell(place)
        except Exception as exc:
            if isinstance(exc, errors.Unavailable):
                log.warning("queue refresh skipped", shop_id=shop_id, error=exc.code, **exc.params)
            else:
                log.exception("queue refresh failed", shop_id=shop_id)
            self._done(shop_id)
            self._told.pop(shop_id, None)  # whoever was not told is told on the next refresh

    def _done(self, shop_id: int) -> None:
        """Forgets this refresh as the shop's pending one, never a later one scheduled while it
        ran (whose own end would otherwise find nothing to forget)."""
        if self._pending.get(shop_id) is asyncio.current_task():
            del self._pending[shop_id]

    async def _tell(self, place: QueuePlace) -> None:
        await self._ctx.broker.publish(
            consumer_topic(place.consumer_id),
            {
                "type": "queue",
                "conversation_id": place.conversation_id,
                "position": place.position,
                "estimated_wait_s": place.wait_s,
                "agents_online": place.agents_online,
            },
        )

    async def stop(self) -> None:
        for task in list(self._pending.values()):
            task.cancel()
        self._pending.clear()

    def remembered(self) -> set[int]:
        """The conversations whose last told position is kept: those queued at the last refresh."""
        return {c for told in self._told.values() for c in told}
