"""Issue 9, finding 3, over WebSocket: consumer messages per conversation, conversations per
address and connections per address are rate-limited, in memory and in Redis. A refused frame
gets a `rate_limited` error frame with its ref and `params.retry_after`, and the socket stays
open; a connection over the limit gets the error frame, then close 4429."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import limits
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from kefu.settings import Settings
from support import (
    AgentSpec,
    Frames,
    Server,
    consumer_socket,
    consumer_token,
    make_shop,
    running_server,
)

CLOSE_RATE_LIMITED = 4429


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'kefu.db'}"


def _assert_rate_limited(frame: dict[str, Any], ref: str | None, *, within_s: int) -> None:
    assert frame["type"] == "error", frame
    assert frame["ref"] == ref
    assert frame["code"] == "rate_limited"
    wait = frame["params"]["retry_after"]
    assert isinstance(wait, int)
    assert 1 <= wait <= within_s


async def _still_open(frames: Frames) -> None:
    assert (await frames.request({"type": "ping"}))["type"] == "pong"


def _send(conversation_id: int, n: int) -> dict[str, Any]:
    return {
        "type": "send",
        "conversation_id": conversation_id,
        "client_id": f"c{n}",
        "kind": "text",
        "body": f"message {n}",
    }


async def test_issue_9_consumer_messages_per_conversation_are_limited(
    sqlite_url: str, rate_storage: dict[str, str]
) -> None:
    async with running_server(sqlite_url, rate_consumer_messages="5/minute", **rate_storage) as srv:
        shop = await make_shop(srv.db, clock=srv.clock)
        ann = await srv.consumer(shop.shop_id)
        cid = ann.conversation_id  # type: ignore[attr-defined]
        answers = [await ann.request(_send(cid, n)) for n in range(6)]
        await _still_open(ann)
        ben = await srv.consumer(shop.shop_id)
        other = await ben.request(_send(ben.conversation_id, 0))  # type: ignore[attr-defined]
    assert [a["type"] for a in answers[:5]] == ["ack"] * 5
    _assert_rate_limited(answers[5], answers[5]["ref"], within_s=60)
    assert answers[5]["ref"] is not None
    # Per conversation: another consumer's conversation counts apart.
    assert other["type"] == "ack"


async def test_issue_9_a_flood_of_300_messages_in_3_s_is_refused_after_the_limit(
    db_url: str, rate_storage: dict[str, str]
) -> None:
    """The issue's flood against the documented default: the first messages up to the limit
    are acknowledged and stored, every later one is refused and not stored."""
    default = Settings.model_fields["rate_consumer_messages"].default
    allowed = min(item.amount for item in limits.parse_many(default))
    async with running_server(db_url, rate_consumer_messages=default, **rate_storage) as srv:
        shop = await make_shop(srv.db, clock=srv.clock)
        ann = await srv.consumer(shop.shop_id)
        cid = ann.conversation_id  # type: ignore[attr-defined]
        refs = []
        for n in range(300):
            refs.append(await ann.send(_send(cid, n)))
            await asyncio.sleep(0.01)
        answers = [await ann.wait_for(lambda f, r=ref: f.get("ref") == r) for ref in refs]
        history = await ann.request(
            {"type": "sync", "conversation_id": cid, "since_seq": 0, "limit": 200}
        )
    assert [a["type"] for a in answers[:allowed]] == ["ack"] * allowed
    for answer, ref in zip(answers[allowed:], refs[allowed:], strict=True):
        _assert_rate_limited(answer, ref, within_s=60)
    stored = [m["client_id"] for m in history["items"] if m["sender"] == "consumer"]
    assert stored == [f"c{n}" for n in range(allowed)]


async def test_issue_9_conversations_per_address_are_limited(
    sqlite_url: str, rate_storage: dict[str, str]
) -> None:
    async with running_server(sqlite_url, rate_conversations="2/minute", **rate_storage) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("alice")], clock=srv.clock)
        consumers = [
            await consumer_socket(
                srv.ws_url, shop.shop_id, await consumer_token(srv.base_url, shop.shop_id)
            )
            for _ in range(3)
        ]
        try:
            opened = [await c.request({"type": "open", "entry": {}}) for c in consumers]
            human = await consumers[0].request({"type": "request_human"})
            await _still_open(consumers[2])
        finally:
            for c in consumers:
                await c.close()
    assert [o["type"] for o in opened[:2]] == ["conversation"] * 2
    _assert_rate_limited(opened[2], opened[2]["ref"], within_s=60)
    _assert_rate_limited(human, human["ref"], within_s=60)


async def _refused(ws: ClientConnection) -> tuple[dict[str, Any], int | None]:
    """The frames up to the close: exactly one, and the close code."""
    frames = []
    with pytest.raises(ConnectionClosed) as info:
        while True:
            frames.append(orjson.loads(await asyncio.wait_for(ws.recv(), 5)))
    assert len(frames) == 1, frames
    return frames[0], info.value.rcvd.code if info.value.rcvd is not None else None


async def _staff_connect(srv: Server, cookie: str | None) -> ClientConnection:
    return await connect(
        srv.ws_url + "/ws/staff",
        additional_headers={"Cookie": f"kefu_session={cookie}"},
        origin=Origin(srv.base_url),
    )


async def test_issue_9_connections_per_address_are_limited_before_authentication(
    sqlite_url: str, rate_storage: dict[str, str]
) -> None:
    async with running_server(sqlite_url, rate_sockets="3/minute", **rate_storage) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("alice")], clock=srv.clock)
        alice = await srv.staff(shop.shop_id, "alice")
        # Connections count whether or not they authenticate: two that never do, one that does.
        idle = [await connect(srv.ws_url + "/ws/consumer") for _ in range(2)]
        staff = await srv.staff_socket(alice)
        async with connect(srv.ws_url + "/ws/consumer") as ws:
            consumer_refusal = await _refused(ws)  # refused before its `auth` could be read
        async with await _staff_connect(srv, alice.cookies.get("kefu_session")) as ws:
            staff_refusal = await _refused(ws)
        # The sockets let in stay open.
        await _still_open(staff)
        for ws in idle:
            await ws.close()
    for frame, code in (consumer_refusal, staff_refusal):
        _assert_rate_limited(frame, None, within_s=60)
        assert code == CLOSE_RATE_LIMITED
