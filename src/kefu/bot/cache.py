"""This process's matchers, one per shop, each tagged with the knowledge-base version it was
built from (BOT-2, BOT-5). The database's version is the truth: a matcher whose version differs
is rebuilt, so several processes stay correct. Matchers are built ahead of need: every shop's at
start-up (`preload`), and again after each change made in this process, applied in place when
the cached matcher is exactly one version behind and rebuilt otherwise (`apply`, `rebuild`); a
consumer's question builds one only when another process changed the base meanwhile and no
build is under way. While a build is under way, questions are answered from the matcher it
replaces, never held up by it. Builds and every use of a matcher run in a worker thread, a use
under the matcher's own lock, so neither blocks the event loop and no use sees a half-applied
edit. It holds no connection and
reads nothing itself: callers pass loaders."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from kefu.bot.matcher import Matcher
from kefu.bot.semantic import Encoder, SemanticMatcher, configured_encoder

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


def build_matcher(snapshot: KbSnapshot, encoder: Encoder | None = None) -> Matcher:
    """BOT-5: a shop's matcher from its snapshot (blocking: call in a thread), re-ranked by
    the semantic extra when it is switched on (kefu.bot.semantic) or an encoder is given."""
    encoder = encoder or configured_encoder()
    if encoder is not None:
        semantic = SemanticMatcher(
            encoder, synonyms=snapshot.synonyms, user_words=snapshot.user_words
        )
        semantic.upsert_many(snapshot.entries)
        return semantic
    matcher = Matcher(synonyms=snapshot.synonyms, user_words=snapshot.user_words)
    for entry_id, questions in snapshot.entries:
        matcher.upsert(entry_id, questions)
    return matcher


class KbCache:
    """Per-process matchers by shop, reloaded when the database's version moves on."""

    def __init__(self) -> None:
        self._slots: dict[int, _Slot] = {}
        self._loading: dict[int, asyncio.Lock] = {}
        # How many matchers were built ahead of need, and how many for a question (BOT-5).
        self.builds_ahead = 0
        self.builds_on_use = 0

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
        if slot is not None and (slot.version >= version or self.building(shop_id)):
            # While a newer matcher is being built, questions are answered from the previous
            # one rather than waiting for the build (BOT-5).
            return slot
        return await self._build(shop_id, load, version, ahead=False)

    def building(self, shop_id: int) -> bool:
        """Whether a matcher for the shop is being built now (BOT-5)."""
        lock = self._loading.get(shop_id)
        return lock is not None and lock.locked()

    async def _build(
        self,
        shop_id: int,
        load: Callable[[], Awaitable[KbSnapshot]],
        version: int | None,
        *,
        ahead: bool,
    ) -> _Slot:
        lock = self._loading.setdefault(shop_id, asyncio.Lock())
        async with lock:
            slot = self._slots.get(shop_id)
            if slot is not None and version is not None and slot.version >= version:
                return slot
            snapshot = await load()
            if slot is not None and slot.version >= snapshot.version:
                return slot
            matcher = await asyncio.to_thread(build_matcher, snapshot)
            slot = _Slot(snapshot.version, matcher)
            self._slots[shop_id] = slot
            if ahead:
                self.builds_ahead += 1
            else:
                self.builds_on_use += 1
            return slot

    async def rebuild(self, shop_id: int, load: Callable[[], Awaitable[KbSnapshot]]) -> None:
        """Build the shop's matcher from what `load` reads now, off the event loop (BOT-5)."""
        await self._build(shop_id, load, None, ahead=True)

    async def apply(
        self,
        shop_id: int,
        new_version: int,
        load: Callable[[], Awaitable[KbSnapshot]],
        upserts: Sequence[tuple[int, Sequence[str]]] = (),
        removals: Sequence[int] = (),
    ) -> None:
        """An edit committed as `new_version`: apply it in place if the cached matcher is the
        version just before, else rebuild the matcher from `load` (BOT-5)."""
        slot = self._slots.get(shop_id)

        def edit() -> bool:
            assert slot is not None
            with slot.lock:
                if slot.version >= new_version:
                    return True
                if slot.version != new_version - 1:
                    return False
                for entry_id in removals:
                    slot.matcher.remove(entry_id)
                for entry_id, questions in upserts:
                    slot.matcher.upsert(entry_id, questions)
                slot.version = new_version
                return True

        if slot is None or not await asyncio.to_thread(edit):
            await self._build(shop_id, load, new_version, ahead=True)

    def forget(self, shop_id: int) -> None:
        self._slots.pop(shop_id, None)
