"""ACCT-1 to ACCT-4 and PRES-3: sessions, take-over, throttling, consumer identities, stats,
and the WebSocket hygiene that protects them."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from datetime import timedelta

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from kefu.services.accounts import identity_signature
from support import PASSWORD, AgentSpec, Server, make_shop, running_server


async def _login(srv_url: str, shop_id: int, username: str, **extra: object) -> httpx.Response:
    async with httpx.AsyncClient(base_url=srv_url) as client:
        return await client.post(
            "/api/auth/login",
            json={"shop_id": shop_id, "username": username, "password": PASSWORD, **extra},
        )


async def test_acct_4_second_login_refused_until_taken_over(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("a")], clock=srv.clock)
        first = await srv.staff(shop.shop_id, "a")
        first_ws = await srv.staff_socket(first)

        again = await _login(srv.base_url, shop.shop_id, "a")
        assert again.status_code == 409
        assert again.json()["code"] == "account.already_logged_in"

        taken = await _login(srv.base_url, shop.shop_id, "a", take_over=True)
        assert taken.status_code == 200
        new_cookie = taken.cookies.get("kefu_session")
        assert new_cookie and new_cookie != first.cookies.get("kefu_session")  # rotated

        closed = await first_ws.wait_for(lambda f: f["type"] == "session_closed")
        assert closed["reason"] == "taken_over"
        await first_ws.ws.wait_closed()
        assert first_ws.ws.close_code == 4409
        assert (await first.get("/api/me")).status_code == 401


async def test_acct_4_logout_kills_the_session_server_side(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("a")], clock=srv.clock)
        client = await srv.staff(shop.shop_id, "a")
        cookie = client.cookies.get("kefu_session")
        ws = await srv.staff_socket(client)
        assert (await client.post("/api/auth/logout")).status_code == 200
        await ws.wait_for(lambda f: f["type"] == "session_closed")
        async with httpx.AsyncClient(
            base_url=srv.base_url, cookies={"kefu_session": str(cookie)}
        ) as replay:
            assert (await replay.get("/api/me")).status_code == 401
        assert (await _login(srv.base_url, shop.shop_id, "a")).status_code == 200


ATTACKER = "203.0.113.9"
OWNER_AT = "198.51.100.7"


async def _attempt(srv: Server, shop_id: int, username: str, password: str, ip: str) -> Answer:
    """One login from `ip` (uvicorn takes X-Forwarded-For from a proxy on 127.0.0.1); its
    status, code and the wait it was told, if any."""
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        answer = await client.post(
            "/api/auth/login",
            json={"shop_id": shop_id, "username": username, "password": password},
            headers={"X-Forwarded-For": ip},
        )
    body = answer.json()
    wait = body.get("params", {}).get("retry_after_s") if answer.status_code == 429 else None
    if wait is not None:
        assert answer.headers["Retry-After"] == str(wait)
    return answer.status_code, body.get("code"), wait


Answer = tuple[int, str | None, int | None]
WRONG = (401, "auth.invalid_credentials", None)


async def test_acct_4_an_attacker_cannot_lock_the_owner_out(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, clock=srv.clock)
        # 20 wrong passwords, each one waiting as long as it is told, so that all of them count.
        for _ in range(20):
            answer = await _attempt(srv, shop.shop_id, "owner", "wrong-pass", ATTACKER)
            if answer[0] == 429:
                assert answer[2] is not None
                srv.clock.advance(timedelta(seconds=answer[2]))
                answer = await _attempt(srv, shop.shop_id, "owner", "wrong-pass", ATTACKER)
            assert answer == WRONG
        # The owner waits out a short delay, at most a minute, and is in with the right password.
        status, code, wait = await _attempt(srv, shop.shop_id, "owner", PASSWORD, OWNER_AT)
        assert (status, code) == (429, "auth.throttled")
        assert wait is not None and wait <= 60
        srv.clock.advance(timedelta(seconds=wait))
        assert (await _attempt(srv, shop.shop_id, "owner", PASSWORD, OWNER_AT))[0] == 200


async def test_acct_4_login_delays_grow_and_are_capped(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("a")], clock=srv.clock)
        waits = []
        for n in range(14):  # each attempt from another address: only the account's delay
            ip = f"192.0.2.{n + 1}"
            answer = await _attempt(srv, shop.shop_id, "a", "wrong-pass", ip)
            if answer[0] == 429:
                assert answer[2] is not None
                waits.append(answer[2])
                # Hammering meanwhile is refused, uncounted: the wait does not grow.
                srv.clock.advance(timedelta(seconds=answer[2] - 1))
                assert await _attempt(srv, shop.shop_id, "a", PASSWORD, ip) == (
                    429,
                    "auth.throttled",
                    1,
                )
                srv.clock.advance(timedelta(seconds=1))
                answer = await _attempt(srv, shop.shop_id, "a", "wrong-pass", ip)
            assert answer == WRONG
        # Five failures are free; then the wait doubles from 1 s, up to a minute.
        assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]
        srv.clock.advance(timedelta(seconds=60))
        assert (await _attempt(srv, shop.shop_id, "a", PASSWORD, "192.0.2.99"))[0] == 200
        # The success clears the account's failures: the next mistake is free again.
        assert await _attempt(srv, shop.shop_id, "a", "wrong-pass", "192.0.2.99") == WRONG


async def test_acct_4_one_address_trying_many_usernames_is_slowed(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("a")], clock=srv.clock)
        for n in range(20):  # usernames that exist or not: the same answer, the same count
            name = "a" if n % 5 == 0 else f"nobody{n}"
            assert await _attempt(srv, shop.shop_id, name, "wrong-pass", ATTACKER) == WRONG
        assert await _attempt(srv, shop.shop_id, "nobody-else", "wrong-pass", ATTACKER) == (
            429,
            "auth.throttled",
            1,
        )
        # Another address is not held up by this one's failures.
        assert (await _attempt(srv, shop.shop_id, "a", PASSWORD, OWNER_AT))[0] == 200


async def test_acct_4_signed_identity_cannot_be_forged(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("a")], clock=srv.clock)
        ts = int(srv.clock.now().timestamp())
        good = identity_signature(shop.secret, "u-42", "小王", ts)
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            ok = await client.post(
                "/api/consumer/session",
                json={
                    "shop_id": shop.shop_id,
                    "identity": {"uid": "u-42", "nickname": "小王", "ts": ts, "sig": good},
                },
            )
            assert ok.status_code == 200 and ok.json()["consumer"]["uid"] == "u-42"
            forged = await client.post(
                "/api/consumer/session",
                json={
                    "shop_id": shop.shop_id,
                    "identity": {"uid": "u-43", "nickname": "小王", "ts": ts, "sig": good},
                },
            )
            assert forged.status_code == 401
            stale_ts = ts - 3600
            stale = identity_signature(shop.secret, "u-42", "小王", stale_ts)
            old = await client.post(
                "/api/consumer/session",
                json={
                    "shop_id": shop.shop_id,
                    "identity": {"uid": "u-42", "nickname": "小王", "ts": stale_ts, "sig": stale},
                },
            )
            assert old.status_code == 401


async def test_pres_3_online_and_login_time(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(
            srv.db,
            agents=[AgentSpec("a", status="offline"), AgentSpec("b", limit=1)],
            clock=srv.clock,
        )
        a = await srv.staff(shop.shop_id, "a")
        await a.put("/api/me/status", json={"status": "online"})
        srv.clock.advance(timedelta(minutes=40))
        await a.put("/api/me/status", json={"status": "busy"})
        srv.clock.advance(timedelta(minutes=20))
        await a.put("/api/me/status", json={"status": "break"})
        srv.clock.advance(timedelta(minutes=30))
        await a.put("/api/me/status", json={"status": "offline"})
        srv.clock.advance(timedelta(minutes=30))
        for _ in range(3):
            consumer = await srv.consumer(shop.shop_id)
            await consumer.request({"type": "request_human"})
        stats = (await a.get("/api/me/stats")).json()
        assert stats == {"online_seconds": 3600, "login_seconds": 5400, "queue_length": 2}


async def test_acct_1_without_im_permission_an_agent_gets_nothing(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("a")], clock=srv.clock)
        owner = await srv.staff(shop.shop_id, "owner")
        revoked = await owner.put(
            f"/api/agents/{shop.accounts['a']}",
            json={"has_im_permission": False, "display_name": "阿A"},
        )
        assert revoked.json()["account"]["display_name"] == "阿A"
        consumer = await srv.consumer(shop.shop_id)
        answer = await consumer.request({"type": "request_human"})
        assert answer["conversation"]["state"] == "queued"
        renamed = await owner.put(
            f"/api/agents/{shop.accounts['owner']}", json={"display_name": "X"}
        )
        assert renamed.status_code == 422  # ACCT-3: the main account's name is fixed


async def test_ws_consumer_must_authenticate_in_time(db_url: str) -> None:
    async with (
        running_server(db_url, ws_auth_timeout_s=0.3) as srv,
        connect(srv.ws_url + "/ws/consumer") as ws,
    ):
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 4401
        assert time.monotonic() - started < 5


async def test_ws_staff_origin_must_be_allowed(db_url: str) -> None:
    async with running_server(db_url, allowed_origins=["https://desk.example.com"]) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("a")], clock=srv.clock)
        client = await srv.staff(shop.shop_id, "a")
        headers = {"Cookie": f"kefu_session={client.cookies.get('kefu_session')}"}
        async with connect(
            srv.ws_url + "/ws/staff",
            additional_headers=headers,
            origin="https://evil.example",  # type: ignore[arg-type]
        ) as ws:
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            assert info.value.rcvd is not None and info.value.rcvd.code == 4403
        async with connect(
            srv.ws_url + "/ws/staff",
            additional_headers=headers,
            origin="https://desk.example.com",  # type: ignore[arg-type]
        ) as ws:
            ready = await ws.recv()
            assert '"ready"' in str(ready)


async def test_ws_staff_socket_without_origin_is_refused_unless_the_operator_allows_it(
    db_url: str,
) -> None:
    for allowed in (False, True):
        async with running_server(db_url, allow_staff_sockets_without_origin=allowed) as srv:
            shop = await make_shop(srv.db, name=f"allowed={allowed}", clock=srv.clock)
            client = await srv.staff(shop.shop_id, "owner")
            headers = {"Cookie": f"kefu_session={client.cookies.get('kefu_session')}"}
            async with connect(srv.ws_url + "/ws/staff", additional_headers=headers) as ws:
                if allowed:  # API clients, by the operator's choice
                    assert '"ready"' in str(await ws.recv())
                    continue
                with pytest.raises(ConnectionClosed) as info:
                    await ws.recv()
                assert info.value.rcvd is not None and info.value.rcvd.code == 4403


async def test_ws_pings_drop_a_peer_that_stopped_answering(db_url: str) -> None:
    """A peer that completed the handshake and then went silent (no pongs) is dropped."""
    async with running_server(db_url, ws_ping_interval_s=0.2, ws_auth_timeout_s=60) as srv:
        host, port = srv.base_url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            (
                "GET /ws/consumer HTTP/1.1\r\n"
                f"Host: {host}:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        handshake = await reader.readuntil(b"\r\n\r\n")
        assert handshake.startswith(b"HTTP/1.1 101")
        started = time.monotonic()
        # Read whatever the server sends (its pings) without ever answering, until it hangs up.
        while await asyncio.wait_for(reader.read(1024), timeout=10):
            pass
        assert time.monotonic() - started < 5  # far sooner than the 60 s auth timeout
        writer.close()


async def test_pres_1_a_suspended_or_moved_agent_hears_it_at_once(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(
            srv.db, agents=[AgentSpec("a"), AgentSpec("b")], groups=2, clock=srv.clock
        )
        owner = await srv.staff(shop.shop_id, "owner")
        a = await srv.staff(shop.shop_id, "a")
        a_ws = await srv.staff_socket(a)
        a_id = (await a.get("/api/me")).json()["account"]["id"]

        suspended = await owner.post(
            "/api/agents/batch", json={"agent_ids": [a_id], "action": "suspend"}
        )
        assert suspended.status_code == 200
        told = await a_ws.wait_for(lambda f: f["type"] == "account")
        assert told["account"]["id"] == a_id
        assert told["account"]["is_suspended"] is True

        moved = await owner.post(
            "/api/agents/batch",
            json={"agent_ids": [a_id], "action": "move", "group_id": shop.group_ids[1]},
        )
        assert moved.status_code == 200
        told = await a_ws.wait_for(
            lambda f: f["type"] == "account" and f["account"]["group_id"] == shop.group_ids[1]
        )
        assert told["account"]["is_suspended"] is True
