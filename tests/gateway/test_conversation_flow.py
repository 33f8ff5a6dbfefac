"""A consumer reaches a shop, asks for a human, chats with an agent, and the conversation ends
(ROUTE-1, CONV-1, CONV-3, MSG-2), through a real server and real WebSocket clients."""

from __future__ import annotations

from support import AgentSpec, make_shop, running_server


async def test_conv_1_consumer_to_agent_and_back_to_history(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("alice")], clock=srv.clock)
        alice = await srv.staff(shop.shop_id, "alice")
        alice_ws = await srv.staff_socket(alice)
        consumer = await srv.consumer(
            shop.shop_id,
            entry={"source": "product", "product": {"id": "p1", "title": "Tea", "price": "9.90"}},
        )
        cid = consumer.conversation_id

        answer = await consumer.request({"type": "request_human"})
        assert answer["conversation"]["state"] == "assigned"
        assert answer["conversation"]["agent_id"] == shop.accounts["alice"]
        pushed = await alice_ws.wait_for(
            lambda f: f["type"] == "conversation" and f["conversation"]["id"] == cid
        )
        assert pushed["conversation"]["entry"]["product"]["title"] == "Tea"

        ack = await consumer.request(
            {"type": "send", "conversation_id": cid, "client_id": "c1", "body": "在吗"}
        )
        assert ack["type"] == "ack" and ack["client_id"] == "c1"
        got = await alice_ws.wait_for(
            lambda f: f["type"] == "message" and f["message"]["client_id"] == "c1"
        )
        assert got["message"]["body"] == "在吗" and got["message"]["seq"] == ack["seq"]

        reply = await alice_ws.request(
            {"type": "send", "conversation_id": cid, "client_id": "a1", "body": "您好"}
        )
        assert reply["seq"] == ack["seq"] + 1
        await consumer.wait_for(lambda f: f["type"] == "message" and f["message"]["body"] == "您好")

        ended = await alice.post(f"/api/conversations/{cid}/end")
        assert ended.status_code == 200 and ended.json()["state"] == "ended"
        history = (await alice.get("/api/conversations", params={"scope": "history"})).json()
        assert [c["id"] for c in history["items"]] == [cid]
        mine = (await alice.get("/api/conversations", params={"scope": "mine"})).json()
        assert mine["items"] == []
        messages = (await alice.get(f"/api/conversations/{cid}/messages")).json()["items"]
        assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))
        assert [m["sender"] for m in messages][-3:] == ["consumer", "agent", "system"]
