"""LIVE-1 and LIVE-3 over HTTP and the staff socket: role scoping, pushes within a second of a
consumer's message and of the agent's reply, coalescing, and audited batch dispatch."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from kefu import errors
from kefu.supervision import monitor as monitor_module
from kefu.supervision.models import LiveViewOut
from support import AgentSpec, Frames, Server, ShopIds, make_shop, running_server

AGENTS = [
    AgentSpec("alice"),
    AgentSpec("bob", status="busy"),
    AgentSpec("lead", group=1, role="leader", status="busy"),
    AgentSpec("sue", group=None, role="supervisor", status="offline"),
    AgentSpec("carl", group=1),
]


async def _shop(srv: Server) -> ShopIds:
    return await make_shop(srv.db, groups=2, agents=AGENTS, clock=srv.clock)


def _agent(view: dict[str, Any], agent_id: int) -> dict[str, Any]:
    return next(a for a in view["agents"] if a["id"] == agent_id)


def _pushed(frames: Frames, after: int, check: Callable[[dict[str, Any]], bool]) -> Any:
    """A `live` push received after the first `after` frames whose view passes `check`."""
    seen = frames.received
    return frames.wait_for(
        lambda f: (
            f["type"] == "live"
            and f["ref"] is None
            and any(g is f for g in seen[after:])
            and check(f["view"])
        ),
        timeout=1.0,
    )


async def test_live_1_view_is_scoped_by_role(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await _shop(srv)
        owner = await srv.staff(shop.shop_id, "owner")
        answer = await owner.get("/api/supervision/live")
        assert answer.status_code == 200, answer.text
        view = LiveViewOut.model_validate(answer.json())
        assert view.shop is not None and view.bot is not None
        assert {g.id for g in view.groups} == set(shop.group_ids)
        # alice, busy bob, carl and busy lead are online (busy counts); owner and sue are not.
        assert view.shop.online == 4 and view.shop.suspended == 0
        assert view.shop.today.conversations == 0 and view.shop.yesterday.conversations == 0

        lead = await srv.staff(shop.shop_id, "lead")
        led = (await lead.get("/api/supervision/live")).json()
        assert led["shop"] is None and led["bot"] is None
        assert [g["id"] for g in led["groups"]] == [shop.group_ids[1]]
        assert {a["id"] for a in led["agents"]} == {shop.accounts["lead"], shop.accounts["carl"]}

        alice = await srv.staff(shop.shop_id, "alice")
        refused = await alice.get("/api/supervision/live")
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"


async def test_live_1_pushed_within_a_second_of_message_and_reply(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await _shop(srv)
        alice_id = shop.accounts["alice"]
        sue = await srv.staff_socket(await srv.staff(shop.shop_id, "sue"))
        first = await sue.request({"type": "live_watch"})
        assert first["type"] == "live" and _agent(first["view"], alice_id)["pending"] == 0
        LiveViewOut.model_validate(first["view"])

        consumer = await srv.consumer(shop.shop_id)
        assigned = await consumer.request({"type": "request_human"})
        conversation_id = assigned["conversation"]["id"]
        assert assigned["conversation"]["agent_id"] == alice_id
        loop = asyncio.get_running_loop()
        mark, sent_at = len(sue.received), loop.time()
        await consumer.request(
            {"type": "send", "conversation_id": conversation_id, "client_id": "c1", "body": "在吗"}
        )
        pushed = await _pushed(sue, mark, lambda v: _agent(v, alice_id)["pending"] == 1)
        assert loop.time() - sent_at < 1.0
        assert pushed["view"]["shop"]["pending"] == 1

        srv.clock.advance(timedelta(seconds=12))
        alice = await srv.staff_socket(await srv.staff(shop.shop_id, "alice"))
        mark = len(sue.received)
        await alice.request(
            {"type": "send", "conversation_id": conversation_id, "client_id": "a1", "body": "在的"}
        )
        replied = await _pushed(sue, mark, lambda v: _agent(v, alice_id)["pending"] == 0)
        assert _agent(replied["view"], alice_id)["response_3m_s"] == 12.0
        assert _agent(replied["view"], alice_id)["served_today"] == 1

        stopped = await sue.request({"type": "live_unwatch"})
        assert stopped["type"] == "live_stopped"


async def test_live_1_agents_may_not_watch_and_bursts_coalesce(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await _shop(srv)
        alice = await srv.staff_socket(await srv.staff(shop.shop_id, "alice"))
        refused = await alice.request({"type": "live_watch"})
        assert refused["type"] == "error" and refused["code"] == "forbidden"

        monitor = srv.runtime.monitor
        assert monitor is not None
        owner = await srv.staff_socket(await srv.staff(shop.shop_id, "owner"))
        sue = await srv.staff_socket(await srv.staff(shop.shop_id, "sue"))
        await owner.request({"type": "live_watch"})
        await sue.request({"type": "live_watch"})
        consumer = await srv.consumer(shop.shop_id)
        assigned = await consumer.request({"type": "request_human"})
        conversation_id = assigned["conversation"]["id"]
        before = monitor.passes
        for n in range(30):
            await consumer.request(
                {
                    "type": "send",
                    "conversation_id": conversation_id,
                    "client_id": f"b{n}",
                    "body": f"消息{n}",
                }
            )
        started = asyncio.get_running_loop().time()
        await sue.wait_for(
            lambda f: (
                f["type"] == "live" and _agent(f["view"], shop.accounts["alice"])["pending"] == 1
            )
        )
        await asyncio.sleep(monitor.min_interval_s * 2)
        # Two pages heard 30 messages and their conversation frames: the shop was recomputed
        # once per half second at most, whichever page or event asked.
        spent = asyncio.get_running_loop().time() - started
        passes = monitor.passes - before
        assert 1 <= passes <= 2 + spent / monitor.min_interval_s


async def test_live_3_batch_dispatch_is_audited_and_pushed(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await _shop(srv)
        sue_client = await srv.staff(shop.shop_id, "sue")
        sue = await srv.staff_socket(sue_client)
        await sue.request({"type": "live_watch"})
        ids = [shop.accounts["alice"], shop.accounts["bob"]]
        done = await sue_client.post(
            "/api/supervision/dispatch/agents", json={"agent_ids": ids, "action": "suspend"}
        )
        assert done.status_code == 200, done.text
        assert all(a["is_suspended"] for a in done.json()["items"])
        pushed = await _pushed(sue, 0, lambda v: v["shop"]["suspended"] == 2)
        assert _agent(pushed["view"], ids[0])["is_suspended"]

        moved = await sue_client.post(
            "/api/supervision/dispatch/agents",
            json={"agent_ids": ids, "action": "move", "group_id": shop.group_ids[1]},
        )
        assert moved.status_code == 200, moved.text
        mode = await sue_client.put(
            "/api/supervision/dispatch/bot-mode", json={"mode": "human_first"}
        )
        assert mode.status_code == 200 and mode.json()["bot_mode"] == "human_first"

        owner = await srv.staff(shop.shop_id, "owner")
        log = (await owner.get("/api/audit")).json()["items"]
        actions = [(r["action"], r["actor_id"]) for r in log]
        sue_id = shop.accounts["sue"]
        assert ("dispatch.bot_mode", sue_id) in actions
        assert ("account.move", sue_id) in actions and ("account.suspend", sue_id) in actions
        suspend = next(r for r in log if r["action"] == "account.suspend")
        assert suspend["details"]["account_ids"] == ids
        settings = (await owner.get("/api/shop/settings")).json()
        assert settings["bot_mode"] == "human_first"


async def test_live_3_roles_for_dispatch(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await _shop(srv)
        lead = await srv.staff(shop.shop_id, "lead")
        alice = await srv.staff(shop.shop_id, "alice")
        # A leader suspends within their group, not elsewhere, and has no say over the bot.
        own = await lead.post(
            "/api/supervision/dispatch/agents",
            json={"agent_ids": [shop.accounts["carl"]], "action": "suspend"},
        )
        assert own.status_code == 200, own.text
        other = await lead.post(
            "/api/supervision/dispatch/agents",
            json={"agent_ids": [shop.accounts["alice"]], "action": "suspend"},
        )
        assert other.status_code == 403
        for client in (lead, alice):
            mode = await client.put(
                "/api/supervision/dispatch/bot-mode", json={"mode": "bot_first"}
            )
            assert mode.status_code == 403
            menu = await client.put("/api/supervision/dispatch/faq-menu", json={"faq_menu": []})
            assert menu.status_code == 403
        agent_batch = await alice.post(
            "/api/supervision/dispatch/agents",
            json={"agent_ids": [shop.accounts["alice"]], "action": "unsuspend"},
        )
        assert agent_batch.status_code == 403


async def test_live_3_faq_menu_from_the_monitoring_page(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await _shop(srv)
        owner = await srv.staff(shop.shop_id, "owner")
        question = await owner.post(
            "/api/kb/questions", json={"question": "多久发货", "answer": "48小时"}
        )
        assert question.status_code in (200, 201), question.text
        sue = await srv.staff(shop.shop_id, "sue")
        menu = {
            "faq_menu": [
                {
                    "title": "物流",
                    "children": [{"title": "多久发货", "question_id": question.json()["id"]}],
                }
            ]
        }
        saved = await sue.put("/api/supervision/dispatch/faq-menu", json=menu)
        assert saved.status_code == 200, saved.text
        top = saved.json()["faq_menu"][0]
        assert top["title"] == "物流" and top["id"]
        entry = (await owner.get("/api/shop/entry")).json()
        assert entry["faq_menu"][0]["children"][0]["title"] == "多久发货"
        too_many = {"faq_menu": [{"title": f"t{n}", "children": []} for n in range(4)]}
        assert (
            await sue.put("/api/supervision/dispatch/faq-menu", json=too_many)
        ).status_code == 422
        log = (await owner.get("/api/audit")).json()["items"]
        assert (
            log[0]["action"] == "dispatch.faq_menu" and log[0]["actor_id"] == shop.accounts["sue"]
        )


async def test_live_1_a_leader_is_pushed_only_their_group(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await _shop(srv)
        lead = await srv.staff_socket(await srv.staff(shop.shop_id, "lead"))
        first = await lead.request({"type": "live_watch"})
        assert first["view"]["shop"] is None and first["view"]["bot"] is None
        mine = {shop.accounts["lead"], shop.accounts["carl"]}
        assert {a["id"] for a in first["view"]["agents"]} == mine

        sue = await srv.staff(shop.shop_id, "sue")  # suspends carl: the leader sees it pushed
        done = await sue.post(
            "/api/supervision/dispatch/agents",
            json={"agent_ids": [shop.accounts["carl"]], "action": "suspend"},
        )
        assert done.status_code == 200, done.text
        pushed = await _pushed(lead, 0, lambda v: v["groups"][0]["suspended"] == 1)
        assert {a["id"] for a in pushed["view"]["agents"]} == mine
        assert [g["id"] for g in pushed["view"]["groups"]] == [shop.group_ids[1]]


async def test_live_1_a_failed_recompute_is_retried_before_the_next_event(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recomputes that fail (the database away for a moment) are tried again after a short
    back-off: the page does not keep a stale view until the next event or the slow tick."""
    async with running_server(db_url) as srv:
        shop = await _shop(srv)
        monitor = srv.runtime.monitor
        assert monitor is not None
        monitor.tick_s = 60.0  # far beyond the waits below: only a retry can push in time
        sue = await srv.staff_socket(await srv.staff(shop.shop_id, "sue"))
        await sue.request({"type": "live_watch"})
        consumer = await srv.consumer(shop.shop_id)
        assigned = await consumer.request({"type": "request_human"})
        conversation_id, alice = assigned["conversation"]["id"], shop.accounts["alice"]
        await sue.wait_for(
            lambda f: f["type"] == "live" and _agent(f["view"], alice)["served_today"] == 1
        )

        computed, outage, failed = monitor_module.live_view, [True], [0]

        async def unavailable_during_the_outage(*args: Any, **kwargs: Any) -> Any:
            if outage:
                failed[0] += 1
                raise errors.Unavailable("database")
            return await computed(*args, **kwargs)

        monkeypatch.setattr(monitor_module, "live_view", unavailable_during_the_outage)
        mark = len(sue.received)
        await consumer.request(
            {"type": "send", "conversation_id": conversation_id, "client_id": "c1", "body": "在吗"}
        )
        for _ in range(100):  # the message's events were heard, and their recompute failed
            if failed[0]:
                break
            await asyncio.sleep(0.05)
        assert failed[0] >= 1
        await asyncio.sleep(0.3)
        outage.clear()  # back, with no event left to trigger a recompute
        pushed = await sue.wait_for(
            lambda f: (
                f["type"] == "live"
                and any(g is f for g in sue.received[mark:])
                and _agent(f["view"], alice)["pending"] == 1
            ),
            timeout=8.0,
        )
        assert pushed["view"]["shop"]["pending"] == 1


def test_live_1_the_retry_back_off_doubles_up_to_the_tick_however_long_the_outage() -> None:
    waits = [monitor_module.retry_after(n, 0.5, 10.0) for n in (1, 2, 3, 5, 5000)]
    assert waits == [1.0, 2.0, 4.0, 10.0, 10.0]
