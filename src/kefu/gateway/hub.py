"""This process's sockets by topic. The broker delivers events here; the hub hands each to
the sockets listening on its topic. It subscribes the broker to a topic on first listener."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketState

from kefu.broker.base import Broker, Event

MAX_PENDING_FRAMES = 1000


def dumps(frame: dict[str, Any]) -> str:
    return orjson.dumps(frame, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC).decode()


class Connection:
    """One socket with its own outbound queue, so a slow peer never blocks the others."""

    def __init__(
        self, websocket: WebSocket, *, on_event: Callable[[Connection, Event], bool] | None = None
    ) -> None:
        self.websocket = websocket
        self._outbox: asyncio.Queue[str | None] = asyncio.Queue(MAX_PENDING_FRAMES)
        self._task: asyncio.Task[None] | None = None
        self._on_event = on_event
        self.close_code: int | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._pump())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def push(self, frame: dict[str, Any]) -> None:
        try:
            self._outbox.put_nowait(dumps(frame))
        except asyncio.QueueFull:
            # A peer this far behind resyncs from its last seq after reconnecting (MSG-2).
            self.close(1013)

    def deliver(self, event: Event) -> None:
        if self._on_event is None or self._on_event(self, event):
            self.push(event)

    def close(self, code: int) -> None:
        self.close_code = code
        with contextlib.suppress(asyncio.QueueFull):
            self._outbox.put_nowait(None)

    async def _pump(self) -> None:
        while True:
            text = await self._outbox.get()
            if text is None:
                if self.websocket.application_state == WebSocketState.CONNECTED:
                    with contextlib.suppress(Exception):
                        await self.websocket.close(self.close_code or 1000)
                return
            try:
                await self.websocket.send_text(text)
            except Exception:
                return


class Hub:
    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._listeners: dict[str, set[Connection]] = defaultdict(set)

    async def handle(self, topic: str, event: Event) -> None:
        for connection in list(self._listeners.get(topic, ())):
            connection.deliver(event)

    async def listen(self, connection: Connection, topics: list[str]) -> None:
        for topic in topics:
            first = not self._listeners[topic]
            self._listeners[topic].add(connection)
            if first:
                await self._broker.subscribe(topic)

    async def forget(self, connection: Connection) -> None:
        for topic in [k for k, v in self._listeners.items() if connection in v]:
            self._listeners[topic].discard(connection)
            if not self._listeners[topic]:
                del self._listeners[topic]
                await self._broker.unsubscribe(topic)
