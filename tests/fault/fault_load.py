"""Clients under load for the fault suite: consumers that keep sending over real sockets,
record every answer (an ack, a retryable `unavailable`, or nothing in time), and resend what
was not acknowledged with the same client ids once the fault is over (MSG-2)."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed

from fault_history import Acked
from support import Frames, consumer_socket, open_consumer

# Lines a process must never log, whatever the fault.
UNHANDLED = ("Traceback", "Exception in ASGI application")


@dataclass
class Answer:
    client_id: str
    kind: str  # ack, unavailable, other, none (no answer in time), closed
    latency_s: float
    frame: dict[str, Any] | None


def stop_all(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()


@dataclass
class LoadClient:
    frames: Frames
    conversation_id: int
    name: str
    token: str
    shop_id: int
    # Bodies are padded to this many characters (2,000 at most).
    body_chars: int = 0
    answers: list[Answer] = field(default_factory=list)
    acked: dict[str, Acked] = field(default_factory=dict)
    unacked: set[str] = field(default_factory=set)
    _numbers: itertools.count[int] = field(default_factory=itertools.count)

    @classmethod
    async def open(cls, base_url: str, ws_url: str, shop_id: int, name: str) -> LoadClient:
        frames = await open_consumer(base_url, ws_url, shop_id, timeout=30)
        conversation_id: int = frames.conversation_id  # type: ignore[attr-defined]
        token: str = frames.token  # type: ignore[attr-defined]
        return cls(frames, conversation_id, name, token, shop_id)

    async def reconnect(self, ws_url: str) -> None:
        """A new socket (to another process, or a restarted one), as the same consumer."""
        await self.frames.close()
        self.frames = await consumer_socket(ws_url, self.shop_id, self.token, timeout=30)

    def body(self, client_id: str) -> str:
        return f"message {client_id} ".ljust(self.body_chars, "x")

    async def send(self, client_id: str, *, answer_within_s: float) -> Answer:
        started = time.monotonic()
        frame = {
            "type": "send",
            "conversation_id": self.conversation_id,
            "client_id": client_id,
            "body": self.body(client_id),
        }
        got: dict[str, Any] | None = None
        kind = ""
        request = asyncio.ensure_future(self.frames.request(frame, answer_within_s))
        closed = asyncio.ensure_future(self.frames.ws.wait_closed())
        try:
            await asyncio.wait({request, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
        if not request.done():  # the socket closed first: the answer may still be in
            await asyncio.wait({request}, timeout=0.2)
            request.cancel()
            await asyncio.wait({request})
        if request.cancelled() or isinstance(request.exception(), ConnectionClosed):
            kind = "closed"
        elif isinstance(request.exception(), TimeoutError):
            kind = "none"
        else:
            got = request.result()
        answer = Answer(client_id, kind or _kind(got), time.monotonic() - started, got)
        self.answers.append(answer)
        if answer.kind == "ack" and got is not None:
            self.acked[client_id] = Acked(got["conversation_id"], client_id, got["seq"])
            self.unacked.discard(client_id)
        else:
            self.unacked.add(client_id)
        return answer

    async def keep_sending(
        self, stop: asyncio.Event, *, answer_within_s: float, pause_s: float = 0.05
    ) -> None:
        """New messages one after another until `stop`; a refused one waits for the resend."""
        while not stop.is_set() and self.is_open:
            answer = await self.send(
                f"{self.name}-{next(self._numbers)}", answer_within_s=answer_within_s
            )
            await asyncio.sleep(pause_s if answer.kind == "ack" else 0.2)

    async def resend_unacked(self, *, within_s: float) -> None:
        """Send each unacknowledged client id again until it is acknowledged (the socket may
        be a new one, after a restart)."""
        deadline = time.monotonic() + within_s
        for client_id in sorted(self.unacked):
            while client_id in self.unacked:
                assert time.monotonic() < deadline, f"{client_id} never acknowledged"
                answer = await self.send(client_id, answer_within_s=10)
                assert answer.kind != "closed", f"{self.name}'s socket closed"
                if answer.kind != "ack":
                    await asyncio.sleep(0.3)

    @property
    def is_open(self) -> bool:
        return self.frames.ws.close_code is None

    @property
    def close_code(self) -> int | None:
        return self.frames.ws.close_code

    def bad_answers(self) -> list[Answer]:
        """Answers that are neither an ack nor a retryable `unavailable`."""
        return [a for a in self.answers if a.kind not in ("ack", "unavailable")]


def _kind(frame: dict[str, Any] | None) -> str:
    if frame is None:
        return "none"
    if frame.get("type") == "ack":
        return "ack"
    params = frame.get("params") or {}
    if frame.get("code") == "unavailable" and params.get("retryable") is True:
        return "unavailable"
    return "other"


def unhandled_lines(*logs: Path) -> list[str]:
    """The lines of the processes' logs that tell of an unhandled exception."""
    return [
        line
        for log in logs
        for line in log.read_text(errors="replace").splitlines()
        if any(marker in line for marker in UNHANDLED)
    ]
