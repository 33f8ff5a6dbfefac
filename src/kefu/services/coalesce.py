"""Coalesced work per shop (ROUTE-2): a burst of requests for one shop costs one pass at a time.

The first request starts a pass at once. A request made while a pass runs marks the shop dirty:
one more pass follows, which starts after the request and so sees everything the requester
committed before asking. Each caller awaits the pass that covers its request. A pass covers the
requests made before it started, and those made until it calls `cover` (after taking a lock,
before the reads that decide): so the requests made while it waited for the lock share it. A
failed pass is logged and its callers are released; the scheduler's sweep catches what it left
behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)

Cover = Callable[[], None]
Work = Callable[[Cover], Awaitable[object]]


class Coalescer:
    def __init__(self) -> None:
        self._waiting: dict[int, list[asyncio.Future[None]]] = {}
        self._running: dict[int, asyncio.Task[None]] = {}
        self._covered: dict[int, list[asyncio.Future[None]]] = {}

    async def run(self, key: int, work: Work) -> None:
        """Run `work` for `key` once after this call, shared with concurrent callers."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._waiting.setdefault(key, []).append(done)
        if key not in self._running:
            self._running[key] = loop.create_task(self._passes(key, work))
        await done

    async def _passes(self, key: int, work: Work) -> None:
        try:
            while self._waiting.get(key):
                await self._pass(key, work)
        finally:
            del self._running[key]
            _release(self._covered.pop(key, []))  # cancelled mid-pass (shutdown)
            _release(self._waiting.pop(key, []))

    async def _pass(self, key: int, work: Work) -> None:
        covered = self._covered[key] = []

        def cover() -> None:
            covered.extend(self._waiting.pop(key, []))

        cover()
        try:
            await work(cover)
        except Exception:
            log.exception("coalesced pass failed", key=key)
        del self._covered[key]
        _release(covered)


def _release(waiters: list[asyncio.Future[None]]) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)
