"""ACCT-4: one browser logged into several shops at once, one session per shop; a return over
the browser's own live session goes straight in, and only a different session is asked to be
taken over; a signed-out page asks who it is without a 401."""

from __future__ import annotations

import asyncio
import json

import httpx
from websockets.asyncio.client import connect
from websockets.typing import Origin

from support import PASSWORD, AgentSpec, make_shop, running_server, staff_socket

SHOP = "X-Kefu-Shop"


async def _login(client: httpx.AsyncClient, shop_id: int, username: str) -> httpx.Response:
    return await client.post(
        "/api/auth/login",
        json={"shop_id": shop_id, "username": username, "password": PASSWORD},
    )


async def test_acct_4_one_browser_holds_a_session_per_shop(db_url: str) -> None:
    async with running_server(db_url) as srv:
        a = await make_shop(srv.db, name="A", agents=[AgentSpec("mei")], clock=srv.clock)
        b = await make_shop(srv.db, name="B", agents=[AgentSpec("mei")], clock=srv.clock)
        async with httpx.AsyncClient(base_url=srv.base_url) as browser:
            assert (await _login(browser, a.shop_id, "mei")).status_code == 200
            assert (await _login(browser, b.shop_id, "mei")).status_code == 200

            async def me(shop_id: int | None) -> httpx.Response:
                headers = {SHOP: str(shop_id)} if shop_id is not None else {}
                return await browser.get("/api/me", headers=headers)

            assert (await me(a.shop_id)).json()["account"]["id"] == a.accounts["mei"]
            assert (await me(b.shop_id)).json()["account"]["id"] == b.accounts["mei"]
            assert (await me(None)).json()["shop"]["id"] == b.shop_id  # the last login's

            # The staff socket picks its shop's session by `?shop=`.
            cookies = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
            for shop in (a, b):
                async with connect(
                    f"{srv.ws_url}/ws/staff?shop={shop.shop_id}",
                    additional_headers={"Cookie": cookies},
                    origin=Origin(srv.base_url),
                ) as ws:
                    ready = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    assert ready["type"] == "ready"
                    assert ready["account"]["id"] == shop.accounts["mei"]

            # Logging out of B leaves A's session alone.
            out = await browser.post("/api/auth/logout", headers={SHOP: str(b.shop_id)})
            assert out.status_code == 200
            assert (await me(b.shop_id)).status_code == 401
            assert (await me(a.shop_id)).status_code == 200

            # A page naming a shop it holds no session for is signed out there.
            other = await make_shop(srv.db, name="C", agents=[], clock=srv.clock)
            assert (await me(other.shop_id)).status_code == 401
            bad = await browser.get("/api/me", headers={SHOP: "shop-1"})
            assert bad.status_code == 422 and bad.json()["code"] == "bad_input"


async def test_acct_4_a_return_over_the_own_session_goes_straight_in(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("mei")], clock=srv.clock)
        async with (
            httpx.AsyncClient(base_url=srv.base_url) as browser,
            httpx.AsyncClient(base_url=srv.base_url) as elsewhere,
        ):
            first = await _login(browser, shop.shop_id, "mei")
            cookie = first.cookies.get(f"kefu_session_{shop.shop_id}")
            socket = await staff_socket(srv.ws_url, browser)

            again = await _login(browser, shop.shop_id, "mei")  # the same browser, still live
            assert again.status_code == 200, again.text
            assert again.cookies.get(f"kefu_session_{shop.shop_id}") == cookie  # the same one
            assert (await browser.get("/api/me")).status_code == 200
            assert await socket.request({"type": "ping"}) is not None  # not taken over

            refused = await _login(elsewhere, shop.shop_id, "mei")  # a different session
            assert refused.status_code == 409
            assert refused.json()["code"] == "account.already_logged_in"
            await socket.ws.close()


async def test_acct_4_a_signed_out_page_asks_for_its_session_without_a_401(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("mei")], clock=srv.clock)
        async with httpx.AsyncClient(base_url=srv.base_url) as browser:
            out = await browser.get("/api/auth/session")
            assert out.status_code == 200
            assert out.json() == {"account": None, "shop": None, "features": []}
            await _login(browser, shop.shop_id, "mei")
            signed_in = await browser.get("/api/auth/session")
            assert signed_in.status_code == 200
            assert signed_in.json()["account"]["id"] == shop.accounts["mei"]
            assert signed_in.json()["features"] == ["workbench"]
            await browser.post("/api/auth/logout")
            assert (await browser.get("/api/auth/session")).json()["account"] is None
