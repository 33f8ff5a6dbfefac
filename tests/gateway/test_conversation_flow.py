"""A consumer reaches a shop, asks for a human, chats with an agent, and the conversation ends
(ROUTE-1, CONV-1, CONV-3, MSG-2), through a real server and real WebSocket clients; with the
bot first, the core hands the consumer's messages to whichever responder is wired (BOT-3)."""

from __future__ import annotations

from kefu.domain.shop import ShopSettings
from kefu.services.context import ConsumerActor
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


class NotingResponder:
    """A responder that only notes what it is asked to answer."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, int, str]] = []

    async def reply(
        self, consumer: ConsumerActor, *, conversation_id: int, seq: int, text: str
    ) -> None:
        self.asked.append((conversation_id, seq, text))


async def test_bot_3_messages_go_to_the_wired_responder_or_else_to_a_human(db_url: str) -> None:
    async with running_server(db_url) as srv:
        bot_first = ShopSettings(bot_enabled=True, bot_mode="bot_first")
        shop = await make_shop(
            srv.db, agents=[AgentSpec("alice")], settings=bot_first, clock=srv.clock
        )
        responder = srv.runtime.ctx.responder = NotingResponder()
        first = await srv.consumer(shop.shop_id)
        cid = first.conversation_id  # type: ignore[attr-defined]
        ack = await first.request(
            {"type": "send", "conversation_id": cid, "client_id": "c1", "body": "在吗"}
        )
        assert responder.asked == [(cid, ack["seq"], "在吗")]

        srv.runtime.ctx.responder = None
        second = await srv.consumer(shop.shop_id)
        cid = second.conversation_id  # type: ignore[attr-defined]
        await second.request(
            {"type": "send", "conversation_id": cid, "client_id": "c1", "body": "在吗"}
        )
        await second.wait_for(
            lambda f: f["type"] == "conversation" and f["conversation"]["state"] == "assigned"
        )
        assert len(responder.asked) == 1
