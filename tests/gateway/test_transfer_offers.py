"""CONV-7: a transfer to a named agent who cannot take it is refused at once with the reason;
a pending offer expires after the timeout (both sides told), can be cancelled by its sender,
and other transfers of the conversation say they wait for it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from support import AgentSpec, Frames, Server, eventually, make_shop, running_server

TIMEOUT = timedelta(seconds=60)


async def _assigned_to(srv: Server, shop_id: int, agent_id: int) -> int:
    consumer = await srv.consumer(shop_id)
    answer = await consumer.request({"type": "request_human"})
    assert answer["conversation"]["agent_id"] == agent_id, answer
    return int(answer["conversation"]["id"])


async def _offer(client: httpx.AsyncClient, cid: int, agent_id: int) -> httpx.Response:
    return await client.post(f"/api/conversations/{cid}/transfer", json={"to_agent_id": agent_id})


def _result(frames: Frames, transfer_id: int, state: str) -> Any:
    return frames.wait_for(
        lambda f: (
            f["type"] == "transfer_result"
            and f["transfer"]["id"] == transfer_id
            and f["transfer"]["state"] == state
        )
    )


async def test_conv_7_transfer_to_an_agent_who_cannot_take_it_is_refused_at_once(
    db_url: str,
) -> None:
    async with running_server(db_url, presence_grace_s=60) as srv:
        shop = await make_shop(
            srv.db,
            agents=[
                AgentSpec("a", status="offline"),
                AgentSpec("off", status="offline"),
                AgentSpec("sus", suspended=True),
                AgentSpec("full", limit=1),
                AgentSpec("gone", status="busy"),
                AgentSpec("pause", status="break"),
            ],
            clock=srv.clock,
        )
        ids = shop.accounts
        await _assigned_to(srv, shop.shop_id, ids["full"])  # now full (1 of 1)
        gone = await srv.staff(shop.shop_id, "gone")
        gone_ws = await srv.staff_socket(gone)
        a = await srv.staff(shop.shop_id, "a")
        await srv.staff_socket(a)
        await a.put("/api/me/status", json={"status": "online"})
        cid = await _assigned_to(srv, shop.shop_id, ids["a"])
        await gone_ws.close()
        await eventually(lambda: ids["gone"] not in srv.runtime.ctx.live.accounts())
        srv.clock.advance(timedelta(seconds=61))  # past the presence grace period

        for name, reason in [
            ("off", "offline"),
            ("sus", "suspended"),
            ("full", "full"),
            ("gone", "disconnected"),
        ]:
            refused = await _offer(a, cid, ids[name])
            assert refused.status_code == 422, (name, refused.text)
            assert refused.json()["code"] == "agent_unavailable"
            assert refused.json()["params"] == {"agent_id": ids[name], "reason": reason}
        # On a break: offered, to accept once back online (the existing rule).
        offered = await _offer(a, cid, ids["pause"])
        assert offered.status_code == 200 and offered.json()["state"] == "pending"


async def test_conv_7_a_pending_transfer_expires_and_both_sides_are_told(db_url: str) -> None:
    async with running_server(db_url, transfer_timeout_s=TIMEOUT.total_seconds()) as srv:
        shop = await make_shop(
            srv.db, agents=[AgentSpec("a"), AgentSpec("b", status="busy")], clock=srv.clock
        )
        ids = shop.accounts
        a, b = await srv.staff(shop.shop_id, "a"), await srv.staff(shop.shop_id, "b")
        a_ws, b_ws = await srv.staff_socket(a), await srv.staff_socket(b)
        cid = await _assigned_to(srv, shop.shop_id, ids["a"])

        offer = (await _offer(a, cid, ids["b"])).json()
        assert offer["state"] == "pending"
        assert offer["expires_at"] == (srv.clock.now() + TIMEOUT).isoformat().replace("+00:00", "Z")
        again = await _offer(a, cid, ids["b"])  # waits, and says for what
        assert again.status_code == 409 and again.json()["code"] == "transfer.pending"
        assert again.json()["params"]["transfer_id"] == offer["id"]
        to_group = await a.post(
            f"/api/conversations/{cid}/transfer", json={"to_group_id": shop.group_ids[0]}
        )
        assert to_group.json()["code"] == "transfer.pending"

        srv.clock.advance(TIMEOUT)
        assert await srv.runtime.scheduler.tick() >= 1  # the durable timer
        await _result(a_ws, offer["id"], "expired")
        await _result(b_ws, offer["id"], "expired")  # the offer leaves b's workbench
        late = await b.post(f"/api/transfers/{offer['id']}/accept")
        assert late.status_code == 409 and late.json()["code"] == "transfer.expired"

        # Past the deadline before the timer fired: the answer is the same, and a is told.
        second = (await _offer(a, cid, ids["b"])).json()
        srv.clock.advance(TIMEOUT + timedelta(seconds=1))
        await b.put("/api/me/status", json={"status": "online"})
        late = await b.post(f"/api/transfers/{second['id']}/accept")
        assert late.json()["code"] == "transfer.expired"
        await _result(a_ws, second["id"], "expired")
        view = (await a.get(f"/api/conversations/{cid}")).json()
        assert view["agent_id"] == ids["a"]  # still a's


async def test_conv_7_the_sender_cancels_a_pending_transfer(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(
            srv.db, agents=[AgentSpec("a"), AgentSpec("b", status="busy")], clock=srv.clock
        )
        ids = shop.accounts
        a, b = await srv.staff(shop.shop_id, "a"), await srv.staff(shop.shop_id, "b")
        b_ws = await srv.staff_socket(b)
        cid = await _assigned_to(srv, shop.shop_id, ids["a"])
        offer = (await _offer(a, cid, ids["b"])).json()
        await b_ws.wait_for(lambda f: f["type"] == "transfer_request")

        assert (await b.post(f"/api/transfers/{offer['id']}/cancel")).status_code == 404
        cancelled = await a.post(f"/api/transfers/{offer['id']}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
        await _result(b_ws, offer["id"], "cancelled")  # the offer leaves b's workbench
        await b.put("/api/me/status", json={"status": "online"})
        late = await b.post(f"/api/transfers/{offer['id']}/accept")
        assert late.status_code == 409 and late.json()["params"] == {"state": "cancelled"}
        assert (await a.post(f"/api/transfers/{offer['id']}/cancel")).status_code == 409
        assert (await _offer(a, cid, ids["b"])).json()["state"] == "pending"


async def _send(client: httpx.AsyncClient, cid: int, client_id: str) -> httpx.Response:
    return await client.post(
        f"/api/conversations/{cid}/messages", json={"client_id": client_id, "body": "在的"}
    )


async def _mine(client: httpx.AsyncClient) -> list[int]:
    page = await client.get("/api/conversations", params={"scope": "mine"})
    return [c["id"] for c in page.json()["items"]]


async def test_conv_7_the_former_agent_reads_but_neither_writes_nor_ends_unless_invited_back(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(
            srv.db, agents=[AgentSpec("a"), AgentSpec("b", status="busy")], clock=srv.clock
        )
        ids = shop.accounts
        a, b = await srv.staff(shop.shop_id, "a"), await srv.staff(shop.shop_id, "b")
        cid = await _assigned_to(srv, shop.shop_id, ids["a"])
        assert (await _send(a, cid, "a1")).status_code == 200
        offer = (await _offer(a, cid, ids["b"])).json()
        await b.put("/api/me/status", json={"status": "online"})
        assert (await b.post(f"/api/transfers/{offer['id']}/accept")).status_code == 200

        page = await a.get(f"/api/conversations/{cid}/messages")
        assert page.status_code == 200 and page.json()["items"]  # a still reads it
        refused = await _send(a, cid, "a2")
        assert refused.status_code == 403 and refused.json()["code"] == "not_participant"
        ended = await a.post(f"/api/conversations/{cid}/end")
        assert ended.status_code == 403 and ended.json()["code"] == "not_participant"
        assert await _mine(a) == []

        invited = await b.post(f"/api/conversations/{cid}/invite", json={"agent_id": ids["a"]})
        assert invited.status_code == 200
        assert (await _send(a, cid, "a3")).status_code == 200  # invited back: speaks again
        not_holder = await a.post(f"/api/conversations/{cid}/end")
        assert not_holder.status_code == 403
        assert not_holder.json()["code"] == "conversation.not_holder"


async def test_conv_8_an_invited_agent_lists_and_speaks_but_only_the_holder_ends(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(
            srv.db, agents=[AgentSpec("a"), AgentSpec("c", status="busy")], clock=srv.clock
        )
        ids = shop.accounts
        a, c = await srv.staff(shop.shop_id, "a"), await srv.staff(shop.shop_id, "c")
        cid = await _assigned_to(srv, shop.shop_id, ids["a"])
        await a.post(f"/api/conversations/{cid}/invite", json={"agent_id": ids["c"]})

        # A reload is a fresh read of the list: the invitation is in it.
        assert await _mine(c) == [cid]
        assert (await _send(c, cid, "c1")).status_code == 200
        refused = await c.post(f"/api/conversations/{cid}/end")
        assert refused.json()["code"] == "conversation.not_holder"

        left = await c.post(f"/api/conversations/{cid}/leave")
        assert left.status_code == 200 and left.json()["agent_id"] == ids["a"]
        assert await _mine(c) == []
        assert (await _send(c, cid, "c2")).json()["code"] == "not_participant"
        assert (await c.get(f"/api/conversations/{cid}/messages")).status_code == 200
        holder_leaves = await a.post(f"/api/conversations/{cid}/leave")
        assert holder_leaves.status_code == 409
        assert holder_leaves.json()["code"] == "conversation.not_invited"
        assert (await a.post(f"/api/conversations/{cid}/end")).status_code == 200
