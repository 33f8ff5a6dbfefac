"""This process's sockets by topic. The broker delivers events here; the hub hands each to
the sockets listening on its topic. It subscribes the broker to a topic on first listener."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketState

from kefu.broker.base import Broker, Event
from kefu.services.events import ORIGIN

MAX_PENDING_FRAMES = 1000
# How long a socket closing on our side gets to send what it was told before the close.
CLOSE_FLUSH_S = 5.0
RESYNC_FRAME = {"type": "resync"}
# Names a socket as the origin of a message across processes (this process's part, a count).
_PROCESS = secrets.token_hex(6)
_COUNT = itertools.count(1)


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
        self._is_answering = False
        self._shutdown_code: int | None = None
        self._origin: str | None = None

    @property
    def origin(self) -> str:
        """This socket as the origin of a send: its message is not pushed back to it (MSG-2)."""
        if self._origin is None:
            self._origin = f"{_PROCESS}:{next(_COUNT)}"
        return self._origin

    @property
    def is_open(self) -> bool:
        """Taking frames: not closed, and not asked to shut down."""
        return self.close_code is None and self._shutdown_code is None

    def start(self) -> None:
        self._task = asyncio.create_task(self._pump())

    async def stop(self) -> None:
        """End the pump: at once, unless a close is pending, whose frames go out first."""
        if self._task is None:
            return
        if self.close_code is not None:
            await asyncio.wait({self._task}, timeout=CLOSE_FLUSH_S)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """While a frame is handled and its answer pushed: a shutdown waits for the answer."""
        self._is_answering = True
        try:
            yield
        finally:
            self._is_answering = False
            if self._shutdown_code is not None:
                self.close(self._shutdown_code)

    def shut_down(self, code: int) -> None:
        """Take no more frames, and close once the frame being handled, if any, is answered."""
        if self.close_code is not None:
            return
        self._shutdown_code = code
        if not self._is_answering:
            self.close(code)

    async def wait_closed(self) -> None:
        """Until what was pushed before the close, and the close, went out (or the peer left)."""
        if self._task is not None:
            await asyncio.wait({self._task})

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
        """Close after the frames pushed so far; the first reason given is the one sent."""
        if self.close_code is not None:
            return
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
        self._shutdown_code: int | None = None

    async def handle(self, topic: str, event: Event) -> None:
        """A message is not pushed back to the socket that sent it (its ack carried it)."""
        origin = event.get(ORIGIN)
        if origin is not None:
            event = {k: v for k, v in event.items() if k != ORIGIN}
        for connection in list(self._listeners.get(topic, ())):
            if origin is None or connection._origin != origin:
                connection.deliver(event)

    async def resync(self) -> None:
        """The fan-out may have lost events (it reconnected to Redis): every socket of this
        process is told to catch up from its last seq, as after a reconnect of its own."""
        for connection in self._connections():
            if connection.is_open:
                connection.push(RESYNC_FRAME)

    async def shut_down(self, code: int) -> None:
        """A server shutdown: every socket, and any that arrives meanwhile, closes with `code`
        once its current frame is answered; returns when every close went out."""
        self._shutdown_code = code
        told: set[Connection] = set()
        while pending := self._connections() - told:
            for connection in pending:
                connection.shut_down(code)
            told |= pending
            await asyncio.gather(*(c.wait_closed() for c in pending))

    def _connections(self) -> set[Connection]:
        return set().union(*self._listeners.values())

    async def listen(self, connection: Connection, topics: list[str]) -> None:
        if self._shutdown_code is not None:
            connection.shut_down(self._shutdown_code)
        for topic in topics:
            first = not self._listeners[topic]
            self._listeners[topic].add(connection)
            if first:
                await self._broker.subscribe(topic)

    async def unlisten(self, connection: Connection, topics: list[str]) -> None:
        for topic in topics:
            listeners = self._listeners.get(topic)
            if listeners is None or connection not in listeners:
                continue
            listeners.discard(connection)
            if not listeners:
                del self._listeners[topic]
                await self._broker.unsubscribe(topic)

    async def forget(self, connection: Connection) -> None:
        for topic in [k for k, v in self._listeners.items() if connection in v]:
            self._listeners[topic].discard(connection)
            if not self._listeners[topic]:
                del self._listeners[topic]
                await self._broker.unsubscribe(topic)
