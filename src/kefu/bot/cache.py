"""This process's matchers, one per shop, each tagged with the knowledge-base version it was
built from (BOT-2, BOT-5). The database's version is the truth: a matcher whose version differs
is rebuilt, so several processes stay correct; edits made in this process are applied in place
when the cached matcher is exactly one version behind. Every use of a matcher runs in a worker
thread under the matcher's own lock, so matching never blocks the event loop and never sees a
half-applied edit. It holds no connection and reads nothing itself: callers pass loaders."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from kefu.bot.matcher import Matcher

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class KbSnapshot:
    """What a matcher is built from: the version, the shop's synonyms and every entry."""

    version: int
    synonyms: Sequence[Sequence[str]]
    user_words: Sequence[str]
    entries: Sequence[tuple[int, Sequence[str]]]


@dataclass
class _Slot:
    version: int
    matcher: Matcher
    lock: threading.Lock = field(default_factory=threading.Lock)


def build_matcher(snapshot: KbSnapshot) -> Matcher:
    """BOT-5: a shop's matcher from its snapshot (blocking: call in a thread)."""
    matcher = Matcher(synonyms=snapshot.synonyms, user_words=snapshot.user_words)
    for entry_id, questions in snapshot.entries:
        matcher.upsert(entry_id, questions)
    return matcher


class KbCache:
    """Per-process matchers by shop, reloaded when the database's version moves on."""

    def __init__(self) -> None:
        self._slots: dict[int, _Slot] = {}
        self._loading: dict[int, asyncio.Lock] = {}

    def cached_version(self, shop_id: int) -> int | None:
        slot = self._slots.get(shop_id)
        return slot.version if slot else None

    async def use(
        self,
        shop_id: int,
        version: int,
        load: Callable[[], Awaitable[KbSnapshot]],
        work: Callable[[Matcher], T],
    ) -> T:
        """Run `work` on the shop's matcher at `version` (or newer), off the event loop."""
        slot = await self._slot(shop_id, version, load)

        def locked() -> T:
            with slot.lock:
                return work(slot.matcher)

        return await asyncio.to_thread(locked)

    async def _slot(
        self, shop_id: int, version: int, load: Callable[[], Awaitable[KbSnapshot]]
    ) -> _Slot:
        slot = self._slots.get(shop_id)
        if slot is not None and slot.version >= version:
            return slot
        lock = self._loading.setdefault(shop_id, asyncio.Lock())
        async with lock:
            slot = self._slots.get(shop_id)
            if slot is not None and slot.version >= version:
                return slot
            snapshot = await load()
            matcher = await asyncio.to_thread(build_matcher, snapshot)
            slot = _Slot(snapshot.version, matcher)
            self._slots[shop_id] = slot
            return slot

    async def apply(
        self,
        shop_id: int,
        new_version: int,
        upserts: Sequence[tuple[int, Sequence[str]]] = (),
        removals: Sequence[int] = (),
    ) -> None:
        """An edit committed as `new_version`: apply it in place if the cached matcher is the
        version just before, else forget the matcher (it is rebuilt on next use)."""
        slot = self._slots.get(shop_id)
        if slot is None:
            return

        def edit() -> None:
            with slot.lock:
                if slot.version != new_version - 1:
                    if self._slots.get(shop_id) is slot:
                        del self._slots[shop_id]
                    return
                for entry_id in removals:
                    slot.matcher.remove(entry_id)
                for entry_id, questions in upserts:
                    slot.matcher.upsert(entry_id, questions)
                slot.version = new_version

        await asyncio.to_thread(edit)

    def forget(self, shop_id: int) -> None:
        self._slots.pop(shop_id, None)
