"""Coalesced work per shop (ROUTE-2): a burst of requests for one shop costs one pass at a time.

The first request starts a pass at once. A request made while a pass runs marks the shop dirty:
one more pass follows, which starts after the request and so sees everything the requester
committed before asking. Each caller awaits the pass that covers its request. A pass covers the
requests made before it started, and those made until it calls `cover` (after taking a lock,
before the reads that decide): so the requests made while it waited for the lock share it. A
failed pass is logged and its callers are released; the scheduler's sweep catches what it left
behind. A pass may leave a follow-up (`beside`) that runs while the next pass starts; its
result goes to one caller that claims it.

`Batcher` is the same idea for work that has one outcome per request (group commit: the
agents' ends, ROUTE-2).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import structlog

from kefu import errors

log = structlog.get_logger(__name__)

T = TypeVar("T")
Cover = Callable[[], None]


@dataclass(frozen=True, slots=True)
class _Waiter(Generic[T]):
    done: asyncio.Future[T | None]
    claims: bool
    work: Callable[[Cover], Awaitable[T]]


class Coalescer(Generic[T]):
    def __init__(self) -> None:
        self._waiting: dict[int, list[_Waiter[T]]] = {}
        self._running: dict[int, asyncio.Task[None]] = {}
        self._covered: dict[int, list[_Waiter[T]]] = {}
        self._beside: set[asyncio.Task[object]] = set()

    async def run(
        self, key: int, work: Callable[[Cover], Awaitable[T]], *, claim: bool = False
    ) -> T | None:
        """Run `work` for `key` once after this call, shared with concurrent callers.

        A pass's result goes to the first caller it served that `claim`s it, so that each
        result is reported once; every other caller gets None, as do all if the pass failed.
        """
        loop = asyncio.get_running_loop()
        waiter: _Waiter[T] = _Waiter(loop.create_future(), claim, work)
        self._waiting.setdefault(key, []).append(waiter)
        if key not in self._running:
            self._running[key] = loop.create_task(self._passes(key))
        return await waiter.done

    def beside(self, follow_up: Coroutine[Any, Any, object]) -> None:
        """Run a pass's follow-up (its announcement) beside the next pass; nobody awaits it."""
        task = asyncio.get_running_loop().create_task(follow_up)
        self._beside.add(task)
        task.add_done_callback(self._follow_up_done)

    async def settled(self) -> None:
        """Wait for the follow-ups running now (a caller that must see them done)."""
        await asyncio.gather(*self._beside, return_exceptions=True)

    def _follow_up_done(self, task: asyncio.Task[object]) -> None:
        self._beside.discard(task)
        if task.cancelled() or (exc := task.exception()) is None:
            return
        if isinstance(exc, errors.Unavailable):
            log.warning("follow-up skipped", error=exc.code, **exc.params)
        else:
            log.error("follow-up failed", exc_info=exc)

    async def _passes(self, key: int) -> None:
        try:
            while self._waiting.get(key):
                await self._pass(key)
        finally:
            del self._running[key]
            _release(self._covered.pop(key, []), None)  # cancelled mid-pass (shutdown)
            _release(self._waiting.pop(key, []), None)

    async def _pass(self, key: int) -> None:
        """Runs the work of the oldest request it serves."""
        covered: list[_Waiter[T]] = []
        self._covered[key] = covered

        def cover() -> None:
            covered.extend(self._waiting.pop(key, []))

        cover()
        result: T | None = None
        try:
            result = await covered[0].work(cover)
        except errors.Unavailable as exc:  # the database is out: the sweep catches up
            log.warning("coalesced pass skipped", key=key, error=exc.code, **exc.params)
        except Exception:
            log.exception("coalesced pass failed", key=key)
        del self._covered[key]
        _release(covered, result)


def _release(waiters: list[_Waiter[T]], result: T | None) -> None:
    for waiter in waiters:
        if not waiter.done.done():
            if waiter.claims and result is not None:
                waiter.done.set_result(result)
                result = None
            else:
                waiter.done.set_result(None)


Item = TypeVar("Item")
Outcome = TypeVar("Outcome")
BatchWork = Callable[[list[Item]], Awaitable[Sequence[Outcome | errors.KefuError]]]
_Queued = tuple[Item, "asyncio.Future[Outcome]", BatchWork[Item, Outcome]]


class Batcher(Generic[Item, Outcome]):
    """Group commit per key: the first item starts a batch at once; items that come while a
    batch of their key runs wait, and the next batch takes them all. A batch's work returns
    one outcome per item, in order (an error goes to its own caller only); a batch that fails
    as a whole fails each of its callers."""

    def __init__(self) -> None:
        self._waiting: dict[int, list[_Queued[Item, Outcome]]] = {}
        self._running: dict[int, asyncio.Task[None]] = {}

    async def run(self, key: int, item: Item, work: BatchWork[Item, Outcome]) -> Outcome:
        """`item`'s outcome, from the batch that takes it (run with the oldest item's work)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Outcome] = loop.create_future()
        self._waiting.setdefault(key, []).append((item, done, work))
        if key not in self._running:
            self._running[key] = loop.create_task(self._batches(key))
        return await done

    async def _batches(self, key: int) -> None:
        try:
            while batch := self._waiting.pop(key, []):
                await self._batch(batch)
        finally:
            del self._running[key]
            for _, done, _work in self._waiting.pop(key, []):  # cancelled (shutdown)
                done.cancel()

    async def _batch(self, batch: list[_Queued[Item, Outcome]]) -> None:
        try:
            outcomes = await batch[0][2]([item for item, _, _ in batch])
        except Exception as exc:
            for _, done, _work in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        except BaseException:  # cancelled (shutdown): nobody waits forever
            for _, done, _work in batch:
                done.cancel()
            raise
        for (_, done, _work), outcome in zip(batch, outcomes, strict=True):
            if done.done():
                continue
            if isinstance(outcome, errors.KefuError):
                done.set_exception(outcome)
            else:
                done.set_result(outcome)
