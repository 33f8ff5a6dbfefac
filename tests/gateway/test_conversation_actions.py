"""CONV-5, CONV-7 to CONV-9, MSG-2 idempotency and MSG-3 typing preview, through the service."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select

from kefu.storage import tables as t
from support import AgentSpec, Frames, Server, consumer_socket, make_shop, running_server


async def _assigned(srv: Server, shop_id: int) -> tuple[Frames, int]:
    consumer = await srv.consumer(shop_id)
    answer = await consumer.request({"type": "request_human"})
    assert answer["conversation"]["state"] == "assigned"
    return consumer, int(answer["conversation"]["id"])


async def _roles(srv: Server, conversation_id: int) -> dict[int, str]:
    p = t.participants.c
    async with srv.db.read() as tx:
        rows = await tx.conn.execute(
            select(p.account_id, p.role).where(p.conversation_id == conversation_id)
        )
        return {r.account_id: r.role for r in rows}


async def test_conv_7_transfer_to_an_agent_who_accepts_or_declines(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(
            srv.db, agents=[AgentSpec("a", limit=5), AgentSpec("b", limit=1)], clock=srv.clock
        )
        a, b = await srv.staff(shop.shop_id, "a"), await srv.staff(shop.shop_id, "b")
        await b.put("/api/me/status", json={"status": "busy"})  # b gets nothing by routing
        a_ws, b_ws = await srv.staff_socket(a), await srv.staff_socket(b)
        _, cid = await _assigned(srv, shop.shop_id)
        assert await _roles(srv, cid) == {shop.accounts["a"]: "holder"}

        offer = await a.post(
            f"/api/conversations/{cid}/transfer", json={"to_agent_id": shop.accounts["b"]}
        )
        assert offer.json()["state"] == "pending"
        request = await b_ws.wait_for(lambda f: f["type"] == "transfer_request")
        declined = await b.post(f"/api/transfers/{request['transfer']['id']}/decline")
        assert declined.json()["state"] == "declined"
        told = await a_ws.wait_for(lambda f: f["type"] == "transfer_result")
        assert told["transfer"]["state"] == "declined"

        second = await a.post(
            f"/api/conversations/{cid}/transfer", json={"to_agent_id": shop.accounts["b"]}
        )
        busy = await b.post(f"/api/transfers/{second.json()['id']}/accept")
        assert busy.status_code == 422 and busy.json()["code"] == "agent_unavailable"
        await b.put("/api/me/status", json={"status": "online"})
        accepted = await b.post(f"/api/transfers/{second.json()['id']}/accept")
        assert accepted.json()["state"] == "accepted"
        view = (await b.get(f"/api/conversations/{cid}")).json()
        assert view["agent_id"] == shop.accounts["b"] and view["is_transferred"] is True
        roles = await _roles(srv, cid)
        assert roles == {shop.accounts["a"]: "previous", shop.accounts["b"]: "holder"}
        assert (await a.get("/api/conversations")).json()["total"] == 0
        assert (await b.get("/api/conversations")).json()["total"] == 1


async def test_conv_7_transfer_to_a_group(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(
            srv.db,
            groups=2,
            agents=[AgentSpec("a", group=0), AgentSpec("c", group=1, status="offline")],
            clock=srv.clock,
        )
        a, c = await srv.staff(shop.shop_id, "a"), await srv.staff(shop.shop_id, "c")
        _, cid = await _assigned(srv, shop.shop_id)
        path = f"/api/conversations/{cid}/transfer"
        nobody = await a.post(path, json={"to_group_id": shop.group_ids[1]})
        assert nobody.status_code == 503 and nobody.json()["code"] == "no_agent_available"
        await c.put("/api/me/status", json={"status": "online"})
        done = await a.post(path, json={"to_group_id": shop.group_ids[1]})
        assert (
            done.json()["state"] == "accepted" and done.json()["to_agent_id"] == shop.accounts["c"]
        )
        view = (await c.get(f"/api/conversations/{cid}")).json()
        assert view["group_id"] == shop.group_ids[1]


async def test_conv_8_and_9_invite_and_colleague_sessions(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(
            srv.db,
            agents=[
                AgentSpec("a"),
                AgentSpec("b", status="busy"),
                AgentSpec("boss", role="supervisor", status="busy"),
            ],
            clock=srv.clock,
        )
        a = await srv.staff(shop.shop_id, "a")
        b = await srv.staff(shop.shop_id, "b")
        boss = await srv.staff(shop.shop_id, "boss")
        consumer, cid = await _assigned(srv, shop.shop_id)

        refused = await b.post(
            f"/api/conversations/{cid}/messages", json={"client_id": "b0", "body": "hi"}
        )
        assert refused.status_code == 403 and refused.json()["code"] == "not_participant"
        assert (
            await b.get("/api/conversations", params={"scope": "colleagues"})
        ).status_code == 403

        invited = await a.post(
            f"/api/conversations/{cid}/invite", json={"agent_id": shop.accounts["b"]}
        )
        assert shop.accounts["b"] in invited.json()["participants"]
        ok = await b.post(
            f"/api/conversations/{cid}/messages", json={"client_id": "b1", "body": "我来补充"}
        )
        assert ok.status_code == 200

        colleagues = (await boss.get("/api/conversations", params={"scope": "colleagues"})).json()
        assert [c["id"] for c in colleagues["items"]] == [cid]
        silent = await boss.post(
            f"/api/conversations/{cid}/messages", json={"client_id": "s0", "body": "x"}
        )
        assert silent.json()["code"] == "not_participant"
        assert (await boss.post(f"/api/conversations/{cid}/join")).status_code == 200
        spoke = await boss.post(
            f"/api/conversations/{cid}/messages", json={"client_id": "s1", "body": "主管介入"}
        )
        assert spoke.status_code == 200
        await consumer.wait_for(
            lambda f: f["type"] == "message" and f["message"]["body"] == "主管介入"
        )


async def test_conv_9_group_leader_sees_and_joins_only_their_group_live_sessions(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(
            srv.db,
            groups=2,
            agents=[
                AgentSpec("a", group=0),
                AgentSpec("peer", group=0, status="busy"),
                AgentSpec("lead", group=0, role="leader", status="busy"),
                AgentSpec("other_lead", group=1, role="leader", status="busy"),
            ],
            clock=srv.clock,
        )
        a = await srv.staff(shop.shop_id, "a")
        peer = await srv.staff(shop.shop_id, "peer")
        lead = await srv.staff(shop.shop_id, "lead")
        other_lead = await srv.staff(shop.shop_id, "other_lead")
        consumer, cid = await _assigned(srv, shop.shop_id)
        await consumer.request(
            {"type": "send", "conversation_id": cid, "client_id": "c1", "body": "什么时候发货"}
        )

        async def colleagues(client: httpx.AsyncClient) -> list[int]:
            page = await client.get("/api/conversations", params={"scope": "colleagues"})
            assert page.status_code == 200, page.text
            return [c["id"] for c in page.json()["items"]]

        assert await colleagues(lead) == [cid]
        assert await colleagues(other_lead) == []  # another group's leader sees nothing of it
        denied = await peer.get("/api/conversations", params={"scope": "colleagues"})
        assert denied.status_code == 403  # plain agents have no colleague sessions
        assert (await other_lead.post(f"/api/conversations/{cid}/join")).status_code == 403

        read = (await lead.get(f"/api/conversations/{cid}/messages")).json()["items"]
        assert "什么时候发货" in [m["body"] for m in read]
        silent = await lead.post(
            f"/api/conversations/{cid}/messages", json={"client_id": "l0", "body": "x"}
        )
        assert silent.json()["code"] == "not_participant"  # reading is not speaking
        assert (await lead.post(f"/api/conversations/{cid}/join")).status_code == 200
        spoke = await lead.post(
            f"/api/conversations/{cid}/messages", json={"client_id": "l1", "body": "今天发"}
        )
        assert spoke.status_code == 200
        await consumer.wait_for(
            lambda f: f["type"] == "message" and f["message"]["body"] == "今天发"
        )

        await a.post(f"/api/conversations/{cid}/end")
        assert await colleagues(lead) == []  # only live conversations are colleague sessions


async def test_msg_2_resent_client_id_returns_the_original_ack(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("a")], clock=srv.clock)
        consumer, cid = await _assigned(srv, shop.shop_id)
        frame = {"type": "send", "conversation_id": cid, "client_id": "same", "body": "一次"}
        first = await consumer.request(dict(frame))
        again = await consumer.request(dict(frame))
        assert (again["type"], again["seq"]) == ("ack", first["seq"])
        changed = await consumer.request({**frame, "body": "两次"})
        assert changed["type"] == "error" and changed["code"] == "client_id_reused"
        page = await consumer.request({"type": "sync", "conversation_id": cid, "since_seq": 0})
        assert [m["body"] for m in page["items"] if m["client_id"] == "same"] == ["一次"]


async def test_msg_2_ack_carries_message_and_other_tabs_get_it(db_url: str) -> None:
    """Two frames per message: the sending socket has its message from the ack only; the
    sender's other sockets (a consumer's other tab, the agent's other device) and the other
    side get it as a `message` frame; a resend's ack carries the message stored first."""
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("a")], clock=srv.clock)
        a = await srv.staff(shop.shop_id, "a")
        desk, phone = await srv.staff_socket(a), await srv.staff_socket(a)
        tab, cid = await _assigned(srv, shop.shop_id)
        other_tab = await consumer_socket(srv.ws_url, shop.shop_id, tab.token)  # type: ignore[attr-defined]
        srv._sockets.append(other_tab)

        frame = {"type": "send", "conversation_id": cid, "client_id": "c-1", "body": "在吗"}
        ack = await tab.request(dict(frame))
        assert set(ack) == {"type", "ref", "conversation_id", "seq", "client_id", "created_at",
                            "message"}  # fmt: skip
        mine = ack["message"]
        assert (mine["seq"], mine["client_id"], mine["body"]) == (ack["seq"], "c-1", "在吗")
        assert (mine["sender"], mine["created_at"]) == ("consumer", ack["created_at"])
        for socket in (other_tab, desk, phone):
            pushed = await socket.wait_for(
                lambda f: f["type"] == "message" and f["message"]["client_id"] == "c-1"
            )
            assert pushed["message"] == mine

        reply = {"type": "send", "conversation_id": cid, "client_id": "a-1", "body": "在的"}
        agent_ack = await desk.request(dict(reply))
        assert agent_ack["message"]["sender_name"] == "A"
        for socket in (phone, tab, other_tab):
            pushed = await socket.wait_for(
                lambda f: f["type"] == "message" and f["message"]["client_id"] == "a-1"
            )
            assert pushed["message"] == agent_ack["message"]

        again = await tab.request(dict(frame))
        assert (again["seq"], again["message"]["body"]) == (ack["seq"], "在吗")
        agent_again = await desk.request(dict(reply))
        assert agent_again["message"]["sender_name"] == "A"
        await phone.request({"type": "ping"})  # every push to the sockets came before this
        await tab.request({"type": "ping"})
        await desk.request({"type": "ping"})
        assert not [f for f in tab.of_type("message") if f["message"]["client_id"] == "c-1"]
        assert not [f for f in desk.of_type("message") if f["message"]["client_id"] == "a-1"]
        sent = [f["message"]["client_id"] for f in phone.of_type("message")]
        assert [c for c in sent if c is not None] == ["c-1", "a-1"]  # a resend pushes nothing


async def test_msg_2_identical_sends_at_once_all_get_the_original_ack(db_url: str) -> None:
    """Several tabs of one consumer send the same message at once: one row, and every one of
    them is answered with its ack (they met in one batch or in several)."""
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("a")], clock=srv.clock)
        first, cid = await _assigned(srv, shop.shop_id)
        token: str = first.token  # type: ignore[attr-defined]
        tabs = [first]
        for _ in range(4):
            tabs.append(await consumer_socket(srv.ws_url, shop.shop_id, token))
            srv._sockets.append(tabs[-1])
        for round_ in range(6):
            frame = {
                "type": "send",
                "conversation_id": cid,
                "client_id": f"tabs-{round_}",
                "body": f"在吗 {round_}",
            }
            answers = await asyncio.gather(*(tabs[i % 5].request(dict(frame)) for i in range(10)))
            assert [a["type"] for a in answers] == ["ack"] * 10, answers
            assert len({(a["seq"], a["created_at"]) for a in answers}) == 1, answers
        m = t.messages.c
        async with srv.db.read() as tx:
            stored = (
                await tx.conn.scalars(
                    select(m.client_id).where(m.conversation_id == cid, m.client_id.like("tabs-%"))
                )
            ).all()
        assert sorted(stored) == [f"tabs-{r}" for r in range(6)]


async def test_msg_3_agent_sees_what_the_consumer_is_typing(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("a")], clock=srv.clock)
        a_ws = await srv.staff_socket(await srv.staff(shop.shop_id, "a"))
        consumer, cid = await _assigned(srv, shop.shop_id)
        await consumer.send({"type": "typing", "conversation_id": cid, "text": "我想问一下退"})
        seen = await a_ws.wait_for(lambda f: f["type"] == "typing")
        assert seen == {"type": "typing", "conversation_id": cid, "text": "我想问一下退"}


async def test_conv_5_message_after_the_end_opens_a_new_routed_conversation(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("a")], clock=srv.clock)
        a = await srv.staff(shop.shop_id, "a")
        consumer, cid = await _assigned(srv, shop.shop_id)
        await a.post(f"/api/conversations/{cid}/end")
        ack = await consumer.request(
            {"type": "send", "conversation_id": cid, "client_id": "after", "body": "还有个问题"}
        )
        assert ack["type"] == "ack" and ack["conversation_id"] != cid
        new = await consumer.wait_for(
            lambda f: (
                f["type"] == "conversation"
                and f["conversation"]["id"] == ack["conversation_id"]
                and f["conversation"]["state"] == "assigned"
            )
        )
        assert new["conversation"]["agent_id"] == shop.accounts["a"]


async def test_desk_1_recent_contacts_list_each_consumer_once(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("a")], clock=srv.clock)
        a = await srv.staff(shop.shop_id, "a")
        first, first_cid = await _assigned(srv, shop.shop_id)
        await a.post(f"/api/conversations/{first_cid}/end")
        again = await first.request(
            {"type": "send", "conversation_id": first_cid, "client_id": "back", "body": "又来了"}
        )
        _, other_cid = await _assigned(srv, shop.shop_id)
        recent = (await a.get("/api/conversations", params={"scope": "recent"})).json()
        assert recent["total"] == 2
        assert sorted(c["id"] for c in recent["items"]) == sorted(
            [again["conversation_id"], other_cid]
        )
