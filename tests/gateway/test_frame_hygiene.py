"""Frames that are not JSON text, on both sockets: a binary frame is `bad_input` (the socket
stays usable once authenticated), a text frame that is not UTF-8 closes the socket with 1007,
and neither leaves a traceback in the server's log."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from support import AgentSpec, Server, consumer_token, make_shop, running_server, server_log

NOT_UTF8 = b'{"type": "ping", "ref": "\xff\xfe"}'


async def _recv(ws: ClientConnection) -> dict[str, object]:
    frame: dict[str, object] = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
    return frame


async def _closed_with(ws: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    return info.value.rcvd.code if info.value.rcvd is not None else None


async def _staff(srv: Server) -> ClientConnection:
    shop = await make_shop(srv.db, agents=[AgentSpec("alice")], clock=srv.clock)
    alice = await srv.staff(shop.shop_id, "alice")
    ws = await connect(
        srv.ws_url + "/ws/staff",
        additional_headers={"Cookie": f"kefu_session={alice.cookies.get('kefu_session')}"},
        origin=Origin(srv.base_url),
    )
    assert (await _recv(ws))["type"] == "ready"
    return ws


async def _consumer(srv: Server) -> ClientConnection:
    shop = await make_shop(srv.db, clock=srv.clock)
    token = await consumer_token(srv.base_url, shop.shop_id)
    ws = await connect(srv.ws_url + "/ws/consumer")
    await ws.send(orjson.dumps({"type": "auth", "shop_id": shop.shop_id, "token": token}).decode())
    assert (await _recv(ws))["type"] == "ready"
    return ws


async def test_ws_a_binary_frame_before_consumer_auth_is_bad_input_then_4401(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        with server_log() as log:
            async with connect(srv.ws_url + "/ws/consumer") as ws:
                await ws.send(b"\x00\x01 not text")
                error = await _recv(ws)
                assert error["type"] == "error" and error["code"] == "bad_input", error
                assert await _closed_with(ws) == 4401
        assert log.problems() == []


@pytest.mark.parametrize("side", ["consumer", "staff"])
async def test_ws_a_binary_frame_is_bad_input_and_the_socket_stays_usable(
    db_url: str, side: str
) -> None:
    async with running_server(db_url) as srv:
        ws = await _consumer(srv) if side == "consumer" else await _staff(srv)
        with server_log() as log:
            for binary in (b'{"type": "ping", "ref": "b1"}', b"\x89PNG\r\n\x1a\n", b""):
                await ws.send(binary)
                await ws.send(orjson.dumps({"type": "ping", "ref": "after"}).decode())
                answers = [await _recv(ws)]
                while answers[-1]["type"] != "pong":
                    answers.append(await _recv(ws))
                errors = [a for a in answers if a["type"] == "error"]
                assert [(e["code"], e["ref"]) for e in errors] == [("bad_input", None)], answers
                assert errors[0]["message"]
                assert answers[-1]["ref"] == "after"
            await ws.close()
        assert log.problems() == []


@pytest.mark.parametrize("side", ["consumer-before-auth", "consumer", "staff"])
async def test_ws_a_text_frame_that_is_not_utf_8_closes_with_1007(db_url: str, side: str) -> None:
    async with running_server(db_url) as srv:
        if side == "consumer-before-auth":
            ws = await connect(srv.ws_url + "/ws/consumer")
        else:
            ws = await _consumer(srv) if side == "consumer" else await _staff(srv)
        with server_log() as log:
            await ws.send(NOT_UTF8, text=True)
            assert await _closed_with(ws) == 1007
        assert log.problems() == []
