"""A consumer reaches a shop, asks for a human, chats with an agent, and the conversation ends
(ROUTE-1, CONV-1, CONV-2, CONV-3, MSG-2), through a real server and real WebSocket clients; with the
bot first, the core hands the consumer's messages to whichever responder is wired (BOT-3)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

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


async def _waiting_since(agent: httpx.AsyncClient, conversation_id: int) -> datetime | None:
    """The reply timer's start as the agent's list of conversations shows it."""
    mine = (await agent.get("/api/conversations", params={"scope": "mine"})).json()
    (item,) = [c for c in mine["items"] if c["id"] == conversation_id]
    since: str | None = item["awaiting_reply_since"]
    return datetime.fromisoformat(since) if since is not None else None


async def test_conv_2_reply_timer_runs_until_the_agent_replies(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("alice")], clock=srv.clock)
        alice = await srv.staff(shop.shop_id, "alice")
        alice_ws = await srv.staff_socket(alice)
        consumer = await srv.consumer(shop.shop_id)
        cid = consumer.conversation_id  # type: ignore[attr-defined]

        def send(body: str, n: int) -> dict[str, Any]:
            return {"type": "send", "conversation_id": cid, "client_id": f"m{n}", "body": body}

        srv.clock.advance(timedelta(seconds=30))
        assigned_at = srv.clock.now()
        answer = await consumer.request({"type": "request_human"})
        assert answer["conversation"]["state"] == "assigned"
        assert await _waiting_since(alice, cid) == assigned_at  # starts at assignment

        srv.clock.advance(timedelta(minutes=1))
        await consumer.request(send("在吗", 1))
        assert await _waiting_since(alice, cid) == assigned_at  # still unanswered since then

        srv.clock.advance(timedelta(minutes=1))
        reply = await alice_ws.request(send("您好", 2))
        assert reply["type"] == "ack"
        assert await _waiting_since(alice, cid) is None  # the agent's reply stops it

        srv.clock.advance(timedelta(minutes=3))
        asked_again = srv.clock.now()
        await consumer.request(send("还有个问题", 3))
        assert await _waiting_since(alice, cid) == asked_again  # a new message starts it again
        srv.clock.advance(timedelta(minutes=1))
        await consumer.request(send("能便宜点吗", 4))
        assert await _waiting_since(alice, cid) == asked_again


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
