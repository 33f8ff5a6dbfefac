"""Coalesced work per shop (ROUTE-2): a burst of requests for one shop costs one pass at a time.

The first request starts a pass at once. A request made while a pass runs marks the shop dirty:
one more pass follows, which starts after the request and so sees everything the requester
committed before asking. Each caller awaits the pass that covers its request. A failed pass is
logged and its callers are released; the scheduler's sweep catches what it left behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)

Work = Callable[[], Awaitable[object]]


class Coalescer:
    def __init__(self) -> None:
        self._waiting: dict[int, list[asyncio.Future[None]]] = {}
        self._running: dict[int, asyncio.Task[None]] = {}

    async def run(self, key: int, work: Work) -> None:
        """Run `work` for `key` once after this call, shared with concurrent callers."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._waiting.setdefault(key, []).append(done)
        if key not in self._running:
            self._running[key] = loop.create_task(self._passes(key, work))
        await done

    async def _passes(self, key: int, work: Work) -> None:
        waiters: list[asyncio.Future[None]] = []
        try:
            while waiters := self._waiting.pop(key, []):
                try:
                    await work()
                except Exception:
                    log.exception("coalesced pass failed", key=key)
                _release(waiters)
        finally:
            del self._running[key]
            _release(waiters)  # cancelled mid-pass (shutdown): nobody waits forever
            _release(self._waiting.pop(key, []))


def _release(waiters: list[asyncio.Future[None]]) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)
