"""The hub's writes (issue 16): a frame goes out at once while the peer keeps up; behind a
write that waits (a slow peer) frames queue in order, up to MAX_PENDING_FRAMES, then 1013;
a close goes out after what was pushed before it; an event is encoded once for all sockets."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import orjson
import pytest
from starlette.websockets import WebSocket, WebSocketState

from kefu.broker.memory import MemoryBroker
from kefu.gateway import hub as hub_module
from kefu.gateway.hub import MAX_PENDING_FRAMES, Connection, Hub
from kefu.services.events import ORIGIN


class Peer:
    """A WebSocket whose transport takes every write at once, unless `slow` holds them."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed_with: int | None = None
        self.application_state = WebSocketState.CONNECTED
        self.slow: asyncio.Event | None = None

    async def send_text(self, text: str) -> None:
        if self.slow is not None:
            await self.slow.wait()
        self.sent.append(text)

    async def close(self, code: int = 1000) -> None:
        if self.slow is not None:
            await self.slow.wait()
        self.closed_with = code
        self.application_state = WebSocketState.DISCONNECTED

    def frames(self) -> list[Any]:
        return [orjson.loads(t)["n"] for t in self.sent]


def _connection(peer: Peer, **kwargs: Any) -> Connection:
    return Connection(cast(WebSocket, peer), **kwargs)


async def test_a_frame_to_a_peer_that_keeps_up_goes_out_at_once_without_a_task() -> None:
    peer = Peer()
    connection = _connection(peer)
    tasks = len(asyncio.all_tasks())
    for n in range(3):
        connection.push({"n": n})
        assert peer.frames() == list(range(n + 1))  # written before push returned
    connection.close(1000)
    assert peer.closed_with == 1000
    assert len(asyncio.all_tasks()) == tasks
    await connection.wait_closed()
    connection.push({"n": 9})  # after the close: not sent
    assert peer.frames() == [0, 1, 2]


async def test_frames_behind_a_slow_write_wait_in_order_and_the_close_comes_last() -> None:
    peer = Peer()
    connection = _connection(peer)
    connection.push({"n": 0})
    peer.slow = asyncio.Event()
    for n in range(1, 5):
        connection.push({"n": n})
    connection.close(1012)
    connection.push({"n": 99})
    assert peer.frames() == [0]
    closed = asyncio.create_task(connection.wait_closed())
    await asyncio.sleep(0.01)
    assert not closed.done()
    peer.slow.set()
    await asyncio.wait_for(closed, 1)
    assert peer.frames() == [0, 1, 2, 3, 4]
    assert peer.closed_with == 1012


async def test_after_a_slow_peer_caught_up_frames_go_out_at_once_again() -> None:
    peer = Peer()
    connection = _connection(peer)
    peer.slow = asyncio.Event()
    connection.push({"n": 0})
    connection.push({"n": 1})
    peer.slow.set()
    await asyncio.sleep(0.01)
    assert peer.frames() == [0, 1]
    peer.slow = None
    connection.push({"n": 2})
    assert peer.frames() == [0, 1, 2]
    await connection.stop()


async def test_a_peer_too_far_behind_is_closed_with_1013() -> None:
    peer = Peer()
    connection = _connection(peer)
    peer.slow = asyncio.Event()
    for n in range(MAX_PENDING_FRAMES + 2):  # one being written, the backlog full, one more
        connection.push({"n": n})
    assert connection.close_code == 1013 and not connection.is_open
    peer.slow.set()
    await asyncio.wait_for(connection.wait_closed(), 1)
    assert peer.closed_with == 1013
    assert peer.frames() == [0]  # it resyncs from its last seq after reconnecting


async def test_letting_a_socket_go_ends_a_pending_write_and_wakes_who_waits() -> None:
    peer = Peer()
    connection = _connection(peer)
    peer.slow = asyncio.Event()
    connection.push({"n": 0})
    connection.push({"n": 1})
    waiting = asyncio.create_task(connection.wait_closed())
    await connection.stop()
    await asyncio.wait_for(waiting, 1)
    assert peer.sent == []


async def test_a_shutdown_waits_for_the_answer_being_pushed() -> None:
    peer = Peer()
    connection = _connection(peer)
    with connection.answering():
        connection.shut_down(1012)
        assert not connection.is_open
        assert connection.close_code is None  # not closed before the answer
        closed = asyncio.create_task(connection.wait_closed())
        await asyncio.sleep(0.01)
        assert not closed.done()
        connection.push({"n": 0})
    await asyncio.wait_for(closed, 1)
    assert peer.frames() == [0]
    assert peer.closed_with == 1012


async def test_an_event_is_encoded_once_for_every_socket_and_not_sent_to_its_origin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    encoded: list[dict[str, Any]] = []
    dumps = hub_module.dumps

    def counting(frame: dict[str, Any]) -> str:
        encoded.append(frame)
        return dumps(frame)

    monkeypatch.setattr(hub_module, "dumps", counting)
    hub = Hub(MemoryBroker())
    peers = [Peer() for _ in range(4)]
    refuse = _connection(peers[3], on_event=lambda c, e: False)
    connections = [_connection(p) for p in peers[:3]] + [refuse]
    for connection in connections:
        await hub.listen(connection, ["t"])
    sender = connections[0]
    await hub.handle("t", {"n": 1, ORIGIN: sender.origin})
    assert len(encoded) == 1 and ORIGIN not in encoded[0]
    assert [p.sent for p in peers] == [[], ['{"n":1}'], ['{"n":1}'], []]
    await hub.handle("t", {"n": 2, ORIGIN: "another-process:1"})
    assert [p.frames() for p in peers] == [[2], [1, 2], [1, 2], []]
