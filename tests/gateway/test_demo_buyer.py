"""Issue 10: `kefu demo` signs its demo buyer as a shop's own site signs its signed-in buyers;
any other server signs for nobody."""

from __future__ import annotations

import httpx

from kefu.demo import DEMO_BUYER_NICKNAME, DEMO_BUYER_UID
from support import make_shop, running_server


async def test_acct_1_only_the_demo_signs_its_buyer_and_the_identity_opens_a_session(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        await make_shop(srv.db, clock=srv.clock)
        client = httpx.AsyncClient(base_url=srv.base_url)
        refused = await client.get("/api/demo/buyer-identity")
        await client.aclose()
        assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    async with (
        running_server(db_url, demo_buyer=True, create_schema=False) as srv,
        httpx.AsyncClient(base_url=srv.base_url) as client,
    ):
        identity = (await client.get("/api/demo/buyer-identity")).json()
        assert (identity["uid"], identity["nickname"]) == (DEMO_BUYER_UID, DEMO_BUYER_NICKNAME)
        session = await client.post(
            "/api/consumer/session", json={"shop_id": 1, "identity": identity}
        )
        assert session.status_code == 200, session.text
        assert session.json()["consumer"]["uid"] == DEMO_BUYER_UID
        forged = {**identity, "nickname": "someone else"}
        bad = await client.post("/api/consumer/session", json={"shop_id": 1, "identity": forged})
        assert bad.status_code == 401
