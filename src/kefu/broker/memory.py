"""The in-process broker for a single process: publish hands the event to the handler."""

from __future__ import annotations

from kefu.broker.base import Event, Handler, Resync


class MemoryBroker:
    def __init__(self) -> None:
        self._handler: Handler | None = None
        self._topics: set[str] = set()

    async def start(self, handler: Handler, on_resync: Resync | None = None) -> None:
        """In-process: nothing is ever lost, so `on_resync` is never called."""
        self._handler = handler

    async def stop(self) -> None:
        self._handler = None

    async def publish(self, topic: str, event: Event) -> None:
        if self._handler is not None and topic in self._topics:
            await self._handler(topic, event)

    async def subscribe(self, topic: str) -> None:
        self._topics.add(topic)

    async def unsubscribe(self, topic: str) -> None:
        self._topics.discard(topic)

    async def ping(self) -> None:
        """In-process: always reachable."""
