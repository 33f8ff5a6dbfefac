"""This process's sockets by topic. The broker delivers events here; the hub hands each to
the sockets listening on its topic. It subscribes the broker to a topic on first listener."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
from collections import defaultdict, deque
from collections.abc import Callable, Coroutine, Iterator
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

# A frame's text, or None for the close.
_Item = str | None


def dumps(frame: dict[str, Any]) -> str:
    return orjson.dumps(frame, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC).decode()


class Connection:
    """One socket. A frame is written at once while the peer keeps up; only behind a write
    that could not complete (the transport is backed up) do further frames wait, in order, in
    a backlog that a task writes out, so a slow peer never blocks the others. An idle socket
    holds no task and no queue."""

    __slots__ = (
        "_backlog",
        "_ended",
        "_is_answering",
        "_on_event",
        "_origin",
        "_shutdown_code",
        "_waiter",
        "_writer",
        "close_code",
        "websocket",
    )

    def __init__(
        self, websocket: WebSocket, *, on_event: Callable[[Connection, Event], bool] | None = None
    ) -> None:
        self.websocket = websocket
        self._on_event = on_event
        self.close_code: int | None = None
        self._is_answering = False
        self._shutdown_code: int | None = None
        self._origin: str | None = None
        # While a write is pending: the task finishing it, and what waits behind it.
        self._writer: asyncio.Task[None] | None = None
        self._backlog: deque[_Item] | None = None
        # Nothing more goes out: the close did, a write failed, or the socket was let go.
        self._ended = False
        self._waiter: asyncio.Future[None] | None = None  # for wait_closed, made on demand

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

    async def stop(self) -> None:
        """Let the socket go: at once, unless a close is pending, whose frames go out first."""
        writer = self._writer
        if writer is not None:
            if self.close_code is not None:
                await asyncio.wait({writer}, timeout=CLOSE_FLUSH_S)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        self._end()

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
        while not self._ended:
            if self._writer is not None:
                await asyncio.wait({self._writer})
                continue
            if self._waiter is None:
                self._waiter = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._waiter)

    def push(self, frame: dict[str, Any]) -> None:
        self.push_text(dumps(frame))

    def push_text(self, text: str) -> None:
        """A frame already encoded (an event fanned out to many sockets is encoded once)."""
        if self.close_code is not None or self._ended:
            return  # a frame pushed after the close is not sent
        self._put(text)

    def wants(self, event: Event) -> bool:
        """Whether this socket gets the event (its own filter may act on it instead)."""
        return self._on_event is None or self._on_event(self, event)

    def deliver(self, event: Event) -> None:
        if self.wants(event):
            self.push(event)

    def close(self, code: int) -> None:
        """Close after the frames pushed so far; the first reason given is the one sent."""
        if self.close_code is not None:
            return
        self.close_code = code
        if not self._ended:
            self._put(None)

    def _put(self, item: _Item) -> None:
        backlog = self._backlog
        if backlog is None:
            self._write_now(item)
        elif item is not None and len(backlog) >= MAX_PENDING_FRAMES:
            # A peer this far behind resyncs from its last seq after reconnecting (MSG-2):
            # what waits for it is dropped, and the close goes out after the pending write.
            backlog.clear()
            self.close(1013)
        else:
            backlog.append(item)

    def _write_now(self, item: _Item) -> None:
        """Run the write until it would wait: done there and then while the transport takes
        it; otherwise the rest of it, and the backlog that forms meanwhile, go to a task."""
        write = self._write(item)
        try:
            blocked_on = write.send(None)
        except StopIteration:
            return
        except BaseException:
            self._end()
            return
        self._backlog = deque()
        self._writer = asyncio.create_task(self._write_backlog(write, blocked_on))

    async def _write(self, item: _Item) -> None:
        if item is not None:
            try:
                await self.websocket.send_text(item)
            except Exception:
                self._end()  # the peer left: nothing more goes out
            return
        if self.websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await self.websocket.close(self.close_code or 1000)
        self._end()

    async def _write_backlog(self, write: Coroutine[Any, Any, None], blocked_on: Any) -> None:
        try:
            await _finish(write, blocked_on)
            while self._backlog and not self._ended:
                await self._write(self._backlog.popleft())
        finally:
            self._writer = None
            self._backlog = None

    def _end(self) -> None:
        self._ended = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


async def _finish(write: Coroutine[Any, Any, None], blocked_on: Any) -> None:
    """Drive a coroutine that was started by hand, and is waiting on `blocked_on` (a future,
    or None for a bare yield), to its end, as the task running it would."""
    try:
        while True:
            if blocked_on is None:
                await asyncio.sleep(0)
            else:
                blocked_on._asyncio_future_blocking = False
                await asyncio.wait({blocked_on})  # its outcome is the write's to take
            blocked_on = write.send(None)
    except StopIteration:
        return
    except BaseException:  # cancelled: so is what the write waits on
        if blocked_on is not None:
            blocked_on.cancel()
        raise
    finally:
        write.close()


class Hub:
    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._listeners: dict[str, set[Connection]] = defaultdict(set)
        self._shutdown_code: int | None = None

    async def handle(self, topic: str, event: Event) -> None:
        """Each listener that wants the event gets it, encoded once for all of them; a message
        is not pushed back to the socket that sent it (its ack carried it, MSG-2)."""
        listeners = self._listeners.get(topic)
        if not listeners:
            return
        origin = event.get(ORIGIN)
        if origin is not None:
            event = {k: v for k, v in event.items() if k != ORIGIN}
        text: str | None = None
        for connection in list(listeners):
            if origin is not None and connection._origin == origin:
                continue
            if connection.wants(event):
                if text is None:
                    text = dumps(event)
                connection.push_text(text)

    async def resync(self) -> None:
        """The fan-out may have lost events (it reconnected to Redis): every socket of this
        process is told to catch up from its last seq, as after a reconnect of its own."""
        text = dumps(RESYNC_FRAME)
        for connection in self._connections():
            if connection.is_open:
                connection.push_text(text)

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
