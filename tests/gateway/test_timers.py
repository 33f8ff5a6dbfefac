"""CONV-3 durable timers, CONV-4 history and LIMIT-1 / LIMIT-3 windows, driven by an injected
clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from kefu.domain.conversation import AutoEndMode
from kefu.domain.shop import ShopSettings
from kefu.storage import tables as t
from support import AgentSpec, Server, make_shop, running_server


async def _state(srv: Server, conversation_id: int) -> str:
    async with srv.db.read() as tx:
        state = await tx.conn.scalar(
            select(t.conversations.c.state).where(t.conversations.c.id == conversation_id)
        )
    return str(state)


async def _events(srv: Server, conversation_id: int, kind: str) -> int:
    async with srv.db.read() as tx:
        n = await tx.conn.scalar(
            select(func.count()).where(
                t.conversation_events.c.conversation_id == conversation_id,
                t.conversation_events.c.kind == kind,
            )
        )
    return int(n or 0)


def _is_warning(frame: dict[str, Any]) -> bool:
    notice: dict[str, Any] = frame["message"].get("notice") or {}
    return notice == {"code": "conversation.auto_end_warning", "params": {"minutes": 1}}


async def test_conv_3_fifteen_minutes_of_consumer_silence_ends_it(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("a")], clock=srv.clock)
        a = await srv.staff(shop.shop_id, "a")
        consumer = await srv.consumer(shop.shop_id)
        cid = consumer.conversation_id  # type: ignore[attr-defined]
        await consumer.request(
            {"type": "send", "conversation_id": cid, "client_id": "m1", "body": "hi"}
        )

        srv.clock.advance(timedelta(minutes=10))
        # The agent keeps talking; only the consumer's silence counts.
        await a.post(f"/api/conversations/{cid}/messages", json={"client_id": "x1", "body": "在的"})
        await srv.runtime.scheduler.tick()
        assert await _state(srv, cid) == "assigned"

        srv.clock.advance(timedelta(minutes=4, seconds=59))
        await srv.runtime.scheduler.tick()
        assert await _state(srv, cid) == "assigned"

        srv.clock.advance(timedelta(seconds=1))
        await srv.runtime.scheduler.tick()
        assert await _state(srv, cid) == "ended"
        await srv.runtime.scheduler.tick()
        assert await _events(srv, cid, "ended") == 1


async def test_conv_3_agent_silence_never_ends_a_conversation(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("a")], clock=srv.clock)
        consumer = await srv.consumer(shop.shop_id)
        cid = consumer.conversation_id  # type: ignore[attr-defined]
        for i in range(6):  # the consumer writes every 10 minutes for an hour; the agent never
            await consumer.request(
                {"type": "send", "conversation_id": cid, "client_id": f"m{i}", "body": "还在吗"}
            )
            srv.clock.advance(timedelta(minutes=10))
            await srv.runtime.scheduler.tick()
            assert await _state(srv, cid) == "assigned"


async def test_conv_3_five_minute_variant_warns_at_four(db_url: str) -> None:
    async with running_server(db_url) as srv:
        settings = ShopSettings(auto_end=AutoEndMode.XIXI)
        shop = await make_shop(srv.db, agents=[AgentSpec("a")], settings=settings, clock=srv.clock)
        consumer = await srv.consumer(shop.shop_id)
        cid = consumer.conversation_id  # type: ignore[attr-defined]
        await consumer.request(
            {"type": "send", "conversation_id": cid, "client_id": "m1", "body": "hi"}
        )

        srv.clock.advance(timedelta(minutes=4))
        await srv.runtime.scheduler.tick()
        warning = await consumer.wait_for(lambda f: f["type"] == "message" and _is_warning(f))
        assert warning["message"]["sender"] == "system"
        assert await _state(srv, cid) == "assigned"

        srv.clock.advance(timedelta(minutes=1))
        await srv.runtime.scheduler.tick()
        assert await _state(srv, cid) == "ended"
        warnings = [f for f in consumer.of_type("message") if _is_warning(f)]
        assert len(warnings) == 1


async def test_conv_3_timer_due_during_downtime_fires_once_at_start(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("a")], clock=srv.clock)
        consumer = await srv.consumer(shop.shop_id)
        cid = consumer.conversation_id  # type: ignore[attr-defined]
        await consumer.request(
            {"type": "send", "conversation_id": cid, "client_id": "m1", "body": "hi"}
        )
        clock = srv.clock
    clock.advance(timedelta(hours=2))  # the server is down while the deadline passes
    async with running_server(
        db_url, clock=clock, create_schema=False, run_scheduler=True
    ) as again:
        assert await _state(again, cid) == "ended"
        assert await _events(again, cid, "ended") == 1
    async with running_server(
        db_url, clock=clock, create_schema=False, run_scheduler=True
    ) as third:
        assert await _events(third, cid, "ended") == 1


async def test_conv_4_ended_conversation_goes_to_history_then_turns_read_only(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("a")], clock=srv.clock)
        a = await srv.staff(shop.shop_id, "a")
        consumer = await srv.consumer(shop.shop_id)
        cid = consumer.conversation_id  # type: ignore[attr-defined]
        await consumer.request({"type": "request_human"})
        asked_at = srv.clock.now()
        await consumer.request(
            {"type": "send", "conversation_id": cid, "client_id": "m1", "body": "发票怎么开"}
        )
        srv.clock.advance(timedelta(hours=1))
        ended = await a.post(f"/api/conversations/{cid}/end")
        assert ended.json()["state"] == "ended"

        async def listed(scope: str) -> list[int]:
            page = (await a.get("/api/conversations", params={"scope": scope})).json()
            return [c["id"] for c in page["items"]]

        assert await listed("history") == [cid] and await listed("mine") == []
        window = (await a.get(f"/api/conversations/{cid}")).json()["reply_window"]
        # Ended an hour after the question: the question's 24 hours close first, not 72 hours.
        assert window["open"] is True
        assert datetime.fromisoformat(window["closes_at"]) == asked_at + timedelta(hours=24)
        late = await a.post(
            f"/api/conversations/{cid}/messages", json={"client_id": "r1", "body": "发票已开好"}
        )
        assert late.status_code == 200
        await consumer.wait_for(
            lambda f: f["type"] == "message" and f["message"]["body"] == "发票已开好"
        )

        srv.clock.set(asked_at + timedelta(hours=24))
        a = await srv.staff(shop.shop_id, "a")  # staff sessions last 12 hours
        refused = await a.post(
            f"/api/conversations/{cid}/messages", json={"client_id": "r2", "body": "还在吗"}
        )
        assert refused.status_code == 422 and refused.json()["code"] == "reply_window_closed"
        view = (await a.get(f"/api/conversations/{cid}")).json()
        assert view["state"] == "ended" and view["reply_window"]["open"] is False
        assert await listed("history") == [cid]  # read-only, still in history
        bodies = [
            m["body"] for m in (await a.get(f"/api/conversations/{cid}/messages")).json()["items"]
        ]
        assert "发票怎么开" in bodies and "发票已开好" in bodies and "还在吗" not in bodies


async def test_limit_1_consumer_message_cannot_be_answered_after_24_hours(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("a")], clock=srv.clock)
        a = await srv.staff(shop.shop_id, "a")
        consumer = await srv.consumer(shop.shop_id)
        cid = consumer.conversation_id  # type: ignore[attr-defined]
        await consumer.request(
            {"type": "send", "conversation_id": cid, "client_id": "m1", "body": "hi"}
        )
        srv.clock.advance(timedelta(minutes=20))
        await srv.runtime.scheduler.tick()  # ended by silence
        late = await a.post(
            f"/api/conversations/{cid}/messages", json={"client_id": "r1", "body": "抱歉"}
        )
        assert late.status_code == 200  # ended, but within both windows

        srv.clock.advance(timedelta(hours=24))
        a = await srv.staff(shop.shop_id, "a")  # staff sessions last 12 hours
        refused = await a.post(
            f"/api/conversations/{cid}/messages", json={"client_id": "r2", "body": "抱歉"}
        )
        assert refused.status_code == 422
        assert refused.json()["code"] == "reply_window_closed"
        view = (await a.get(f"/api/conversations/{cid}")).json()
        assert view["reply_window"] == {
            "open": False,
            "closes_at": view["reply_window"]["closes_at"],
            "reason": "reply_window_closed",
        }


async def test_limit_3_ended_conversation_can_be_continued_for_72_hours(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("a")], clock=srv.clock)
        a = await srv.staff(shop.shop_id, "a")
        consumer = await srv.consumer(shop.shop_id)
        cid = consumer.conversation_id  # type: ignore[attr-defined]
        await consumer.request({"type": "request_human"})  # asks, never writes
        await a.post(f"/api/conversations/{cid}/end")
        srv.clock.advance(timedelta(hours=71))
        a = await srv.staff(shop.shop_id, "a")  # staff sessions last 12 hours
        ok = await a.post(
            f"/api/conversations/{cid}/messages", json={"client_id": "r1", "body": "回访"}
        )
        assert ok.status_code == 200
        srv.clock.advance(timedelta(hours=1))
        refused = await a.post(
            f"/api/conversations/{cid}/messages", json={"client_id": "r2", "body": "回访"}
        )
        assert refused.status_code == 422
        assert refused.json()["code"] == "continuation_window_closed"
