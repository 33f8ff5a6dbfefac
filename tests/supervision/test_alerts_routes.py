"""LIVE-2 through a real server: the rules' routes and their role checks, the recipients'
limit as a clear error, and the `alert` frame reaching a recipient's real WebSocket when the
scheduler evaluates the shop."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from kefu.clock import FakeClock
from support import AgentSpec, ShopIds, make_shop, running_server

RULES = "/api/supervision/alerts/rules"
AGENTS = [
    AgentSpec("alice"),
    AgentSpec("bob", group=1, status="offline"),
    AgentSpec("sue", group=None, role="supervisor", status="offline"),
]


def _rule(shop: ShopIds, **changes: Any) -> dict[str, Any]:
    """Group 1 has nobody online: fewer than 1 alerts."""
    return {
        "scope": "group",
        "group_id": shop.group_ids[1],
        "metric": "online",
        "comparison": "lt",
        "threshold": 1,
        "recipient_ids": [shop.accounts["sue"]],
    } | changes


async def test_live_2_routes_owner_writes_supervisor_reads_agent_refused(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, groups=2, agents=AGENTS, clock=srv.clock)
        owner = await srv.staff(shop.shop_id, "owner")
        sue = await srv.staff(shop.shop_id, "sue")
        alice = await srv.staff(shop.shop_id, "alice")
        made = await owner.post(RULES, json=_rule(shop))
        assert made.status_code == 201, made.text
        rule = made.json()
        assert rule | {"id": 0} == _rule(shop) | {"id": 0, "enabled": True, "threshold": 1.0}

        listed = await sue.get(RULES)
        assert listed.status_code == 200
        assert [r["id"] for r in listed.json()["items"]] == [rule["id"]]
        assert listed.json()["interval_s"] == 180 and listed.json()["max_recipients"] == 10
        refused = await sue.put(f"{RULES}/{rule['id']}", json=_rule(shop, enabled=False))
        assert refused.status_code == 403 and refused.json()["params"]["feature"] == "settings"
        for response in (
            await alice.get(RULES),
            await alice.get("/api/supervision/alerts"),
            await alice.post(RULES, json=_rule(shop)),
            await alice.delete(f"{RULES}/{rule['id']}"),
        ):
            assert response.status_code == 403, response.text

        off = await owner.put(f"{RULES}/{rule['id']}", json=_rule(shop, enabled=False))
        assert off.status_code == 200 and off.json()["enabled"] is False
        assert (await owner.delete(f"{RULES}/{rule['id']}")).json() == {"ok": True}
        assert (await owner.get(RULES)).json()["items"] == []


async def test_live_2_routes_refuse_an_eleventh_recipient_clearly(db_url: str) -> None:
    async with running_server(db_url) as srv:
        many = [*AGENTS, *(AgentSpec(f"agent{i}", status="offline") for i in range(11))]
        shop = await make_shop(srv.db, groups=2, agents=many, clock=srv.clock)
        owner = await srv.staff(shop.shop_id, "owner")
        everyone = [shop.accounts[f"agent{i}"] for i in range(11)]
        refused = await owner.post(RULES, json=_rule(shop, recipient_ids=everyone))
        assert refused.status_code == 422
        assert refused.json()["code"] == "alerts.too_many_recipients"
        assert refused.json()["params"] == {"field": "recipients", "max": 10, "count": 11}
        ten = await owner.post(RULES, json=_rule(shop, recipient_ids=everyone[:10]))
        assert ten.status_code == 201, ten.text
        wrong = await owner.post(RULES, json=_rule(shop, scope="shop"))
        assert wrong.json()["code"] == "alerts.group_not_allowed"


async def test_live_2_alert_frame_reaches_the_recipients_socket(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, groups=2, agents=AGENTS, clock=srv.clock)
        owner = await srv.staff(shop.shop_id, "owner")
        sue = await srv.staff(shop.shop_id, "sue")
        alice = await srv.staff(shop.shop_id, "alice")
        sue_ws, alice_ws = await srv.staff_socket(sue), await srv.staff_socket(alice)
        made = await owner.post(RULES, json=_rule(shop, threshold=1.5))
        assert made.status_code == 201, made.text

        await srv.runtime.scheduler.tick()
        frame = await sue_ws.wait_for(lambda f: f["type"] == "alert")
        alert = frame["alert"]
        assert alert["rule_id"] == made.json()["id"]
        assert alert["metric"] == "online" and alert["threshold"] == 1.5
        assert alert["hits"] == [{"scope": "group", "id": shop.group_ids[1], "value": 0.0}]

        await srv.runtime.scheduler.tick()  # the same period: nothing more
        srv.clock.advance(timedelta(minutes=3))
        await srv.runtime.scheduler.tick()
        await sue_ws.request({"type": "ping"})  # a barrier: frames pushed before arrive first
        await alice_ws.request({"type": "ping"})
        assert len(sue_ws.of_type("alert")) == 2
        assert alice_ws.of_type("alert") == []  # not a recipient
        history = (await owner.get("/api/supervision/alerts")).json()
        assert history["total"] == 2
        assert history["items"][0]["recipient_ids"] == [shop.accounts["sue"]]


async def test_live_2_two_app_instances_on_one_database_evaluate_once(db_url: str) -> None:
    clock = FakeClock()
    async with (
        running_server(db_url, clock=clock) as one,
        running_server(db_url, clock=clock, create_schema=False) as two,
    ):
        shop = await make_shop(one.db, groups=2, agents=AGENTS, clock=clock)
        owner = await one.staff(shop.shop_id, "owner")
        sue = await two.staff(shop.shop_id, "sue")
        # Each instance has its own in-process fan-out: a recipient's socket on each sees what
        # that instance sends, so both together see each alert once.
        owner_ws, sue_ws = await one.staff_socket(owner), await two.staff_socket(sue)
        recipients = [shop.accounts["owner"], shop.accounts["sue"]]
        made = await owner.post(RULES, json=_rule(shop, recipient_ids=recipients))
        assert made.status_code == 201, made.text

        async def ticks() -> list[dict[str, Any]]:
            for _ in range(3):
                await asyncio.gather(one.runtime.scheduler.tick(), two.runtime.scheduler.tick())
            for ws in (owner_ws, sue_ws):
                await ws.request({"type": "ping"})  # a barrier for pushed frames
            return owner_ws.of_type("alert") + sue_ws.of_type("alert")

        # One instance evaluated, so its own recipient's socket has the one alert.
        assert [f["alert"]["id"] for f in await ticks()] == [1]
        clock.advance(timedelta(minutes=3))
        assert len(await ticks()) == 2
        history = (await owner.get("/api/supervision/alerts")).json()
        assert history["total"] == 2


async def test_live_2_agent_rule_alerts_on_a_consumer_awaiting_reply(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, groups=2, agents=AGENTS, clock=srv.clock)
        owner = await srv.staff(shop.shop_id, "owner")
        owner_ws = await srv.staff_socket(owner)
        rule = _rule(
            shop,
            scope="agent",
            group_id=shop.group_ids[0],
            metric="pending",
            comparison="ge",
            threshold=2,
            recipient_ids=[shop.accounts["owner"]],
        )
        assert (await owner.post(RULES, json=rule)).status_code == 201
        # Pending counts the consumers awaiting a reply (seed 001, 待回复人数), as LIVE-1 does.
        first = await srv.consumer(shop.shop_id)
        answer = await first.request({"type": "request_human"})
        assert answer["conversation"]["agent_id"] == shop.accounts["alice"]
        await srv.runtime.scheduler.tick()  # one consumer awaiting a reply: below 2
        second = await srv.consumer(shop.shop_id)
        answer = await second.request({"type": "request_human"})
        assert answer["conversation"]["agent_id"] == shop.accounts["alice"]
        for n, consumer in enumerate((first, second)):
            cid = consumer.conversation_id  # type: ignore[attr-defined]
            frame = {"type": "send", "conversation_id": cid, "client_id": f"c{n}", "body": "在吗"}
            assert (await consumer.request(frame))["type"] == "ack"
        srv.clock.advance(timedelta(minutes=3))
        await srv.runtime.scheduler.tick()
        alert = (await owner_ws.wait_for(lambda f: f["type"] == "alert"))["alert"]
        assert alert["hits"] == [{"scope": "agent", "id": shop.accounts["alice"], "value": 2.0}]
        assert (await owner.get("/api/supervision/alerts")).json()["total"] == 1
