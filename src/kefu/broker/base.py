"""The broker port: fan-out of "something new" between processes. Losing an event is harmless
because clients resynchronise from their last seq (MSG-2); the database stays the truth.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

Event = dict[str, Any]
Handler = Callable[[str, Event], Awaitable[None]]
# Events may have been lost (the fan-out reconnected): every local client must resync.
Resync = Callable[[], Awaitable[None]]


class Broker(Protocol):
    async def start(self, handler: Handler, on_resync: Resync | None = None) -> None: ...
    async def stop(self) -> None: ...
    async def publish(self, topic: str, event: Event) -> None: ...
    async def subscribe(self, topic: str) -> None: ...
    async def unsubscribe(self, topic: str) -> None: ...
    async def ping(self) -> None:
        """Raises when the fan-out cannot reach its server (for readiness)."""
