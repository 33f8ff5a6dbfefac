"""Live queue positions for waiting consumers (ROUTE-4), coalesced per shop so that a burst
of changes costs one refresh; only consumers whose position or estimate moved are told."""

from __future__ import annotations

import asyncio

import structlog

from kefu.services.context import Context, consumer_topic
from kefu.services.routing import queue_snapshot

log = structlog.get_logger(__name__)


class QueueNotifier:
    def __init__(self, ctx: Context, *, delay_s: float = 0.05) -> None:
        self._ctx = ctx
        self._delay_s = delay_s
        self._pending: dict[int, asyncio.Task[None]] = {}
        self._last: dict[int, tuple[int, int | None]] = {}

    def changed(self, shop_id: int) -> None:
        if shop_id not in self._pending:
            self._pending[shop_id] = asyncio.get_running_loop().create_task(self._refresh(shop_id))

    async def _refresh(self, shop_id: int) -> None:
        try:
            await asyncio.sleep(self._delay_s)
            del self._pending[shop_id]
            for conversation_id, consumer_id, position, wait_s in await queue_snapshot(
                self._ctx, shop_id
            ):
                if self._last.get(conversation_id) == (position, wait_s):
                    continue
                self._last[conversation_id] = (position, wait_s)
                await self._ctx.broker.publish(
                    consumer_topic(consumer_id),
                    {
                        "type": "queue",
                        "conversation_id": conversation_id,
                        "position": position,
                        "estimated_wait_s": wait_s,
                    },
                )
        except Exception:
            log.exception("queue refresh failed", shop_id=shop_id)
            self._pending.pop(shop_id, None)

    async def stop(self) -> None:
        for task in list(self._pending.values()):
            task.cancel()
        self._pending.clear()

    def forget(self, conversation_id: int) -> None:
        self._last.pop(conversation_id, None)
