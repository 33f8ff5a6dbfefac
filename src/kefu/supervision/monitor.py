"""The monitoring pages open on this process (LIVE-1), pushed their view as it changes.

Push design: a page sends `live_watch` on its staff socket. The events a page must follow
already reach the supervisors' sockets (conversations and messages, on the supervisors topic),
and presence changes are announced on the shop's live topic (`live_changed`). Each such event
marks the shop dirty in this process's LiveMonitor, which recomputes the view at most once per
`min_interval_s` per shop, however many events and pages there are, and pushes each page its
narrowed copy. A slow tick also recomputes (the 3-minute windows slide and sockets go away
without an event). Nothing is kept but the last view: the database is the source of truth.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from kefu.services.context import Context, Staff
from kefu.supervision.figures import LiveView
from kefu.supervision.live import (
    DayCache,
    live_frame,
    live_view,
    require_monitoring,
    view_json,
    visible_to,
)

log = structlog.get_logger(__name__)

Push = Callable[[dict[str, Any]], None]


@dataclass
class _Page:
    staff: Staff
    push: Push


@dataclass
class _Shop:
    pages: dict[object, _Page] = field(default_factory=dict)
    dirty: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    last: LiveView | None = None
    last_at: float = 0.0  # the event loop's time of `last`


class LiveMonitor:
    """This process's monitoring pages by shop, each shop recomputed at most once per
    `min_interval_s` while events come, and every `tick_s` regardless (LIVE-1)."""

    def __init__(self, ctx: Context, *, min_interval_s: float = 0.5, tick_s: float = 10.0) -> None:
        self._ctx = ctx
        self.min_interval_s = min_interval_s
        self.tick_s = tick_s
        self._shops: dict[int, _Shop] = {}
        self._days = DayCache()
        self.passes = 0  # recomputations made, for tests and the benchmark

    async def watch(self, key: object, staff: Staff, push: Push) -> dict[str, Any]:
        """Start pushing `live` frames to `push`; returns the current view for the caller."""
        require_monitoring(staff)
        shop = self._shops.setdefault(staff.shop_id, _Shop())
        view = shop.last
        if view is None or asyncio.get_running_loop().time() - shop.last_at > self.min_interval_s:
            view = await self._compute(staff.shop_id, shop)
        shop = self._shops.setdefault(staff.shop_id, shop)  # its loop may have ended meanwhile
        shop.pages[key] = _Page(staff, push)
        if shop.task is None or shop.task.done():
            shop.task = asyncio.create_task(self._run(staff.shop_id, shop))
        return view_json(visible_to(view, staff))

    def unwatch(self, key: object, shop_id: int) -> None:
        shop = self._shops.get(shop_id)
        if shop is not None:
            shop.pages.pop(key, None)
            shop.dirty.set()  # lets the loop see it has no pages left

    def changed(self, shop_id: int) -> None:
        """Something the shop's figures depend on changed (coalesced)."""
        shop = self._shops.get(shop_id)
        if shop is not None and shop.pages:
            shop.dirty.set()

    def watched(self, shop_id: int) -> int:
        shop = self._shops.get(shop_id)
        return len(shop.pages) if shop is not None else 0

    async def stop(self) -> None:
        tasks = [s.task for s in self._shops.values() if s.task is not None]
        self._shops.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _compute(self, shop_id: int, shop: _Shop) -> LiveView:
        self.passes += 1
        view = await live_view(self._ctx, shop_id, now=self._ctx.clock.now(), cache=self._days)
        shop.last, shop.last_at = view, asyncio.get_running_loop().time()
        return view

    async def _run(self, shop_id: int, shop: _Shop) -> None:
        failures = 0
        while shop.pages:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(shop.dirty.wait(), self.tick_s)
            shop.dirty.clear()
            if not shop.pages:
                break
            try:
                view = await self._compute(shop_id, shop)
            except Exception:  # an outage must not end the pushes, nor leave them stale
                failures += 1
                log.warning("live.view_failed", shop_id=shop_id, failures=failures, exc_info=True)
                shop.dirty.set()  # retried after a back-off, not only at the next event or tick
                await asyncio.sleep(retry_after(failures, self.min_interval_s, self.tick_s))
                continue
            failures = 0
            for page in list(shop.pages.values()):
                page.push(live_frame(visible_to(view, page.staff)))
            await asyncio.sleep(self.min_interval_s)
        if self._shops.get(shop_id) is shop and not shop.pages:
            del self._shops[shop_id]


def retry_after(failures: int, min_interval_s: float, tick_s: float) -> float:
    """The back-off after `failures` failed recomputes in a row: twice the minimum interval,
    doubling, at most the tick (the exponent capped, so that a long outage cannot overflow)."""
    return min(tick_s, min_interval_s * float(2 ** min(failures, 32)))
