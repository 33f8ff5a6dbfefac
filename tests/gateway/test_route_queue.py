"""ROUTE-1 to ROUTE-4 through the real service: queueing, draining when capacity frees,
live positions and waits, leaving the queue."""

from __future__ import annotations

from typing import Any

from support import (
    AgentSpec,
    Frames,
    Server,
    consumer_socket,
    eventually,
    make_shop,
    running_server,
)


async def _ask(srv: Server, shop_id: int, n: int) -> list[Frames]:
    consumers = []
    for _ in range(n):
        consumer = await srv.consumer(shop_id)
        await consumer.request({"type": "request_human"})
        consumers.append(consumer)
    return consumers


def _state(frames: Frames) -> str:
    convs = [f["conversation"] for f in frames.of_type("conversation")]
    mine = [c for c in convs if c["id"] == frames.conversation_id]  # type: ignore[attr-defined]
    return str(mine[-1]["state"]) if mine else ""


def _position(frames: Frames) -> Any:
    queue = frames.of_type("queue")
    return queue[-1]["position"] if queue else None


async def test_route_2_fcfs_queue_drains_in_order_when_a_chat_ends(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("solo", limit=1)], clock=srv.clock)
        solo = await srv.staff(shop.shop_id, "solo")
        c1, c2, c3 = await _ask(srv, shop.shop_id, 3)
        assert _state(c1) == "assigned"
        await eventually(lambda: _position(c2) == 1 and _position(c3) == 2)

        await solo.post(f"/api/conversations/{c1.conversation_id}/end")  # type: ignore[attr-defined]
        await eventually(lambda: _state(c2) == "assigned")
        await eventually(lambda: _position(c3) == 1)
        assert _state(c3) == "queued"


async def test_route_3_lcfs_serves_the_newest_first(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("solo", limit=1)], clock=srv.clock)
        owner = await srv.staff(shop.shop_id, "owner")
        assert (
            await owner.put("/api/shop/settings", json={"queue_order": "lcfs"})
        ).status_code == 200
        solo = await srv.staff(shop.shop_id, "solo")
        c1, c2, c3 = await _ask(srv, shop.shop_id, 3)
        await eventually(lambda: _position(c3) == 1 and _position(c2) == 2)
        await solo.post(f"/api/conversations/{c1.conversation_id}/end")  # type: ignore[attr-defined]
        await eventually(lambda: _state(c3) == "assigned")
        assert _state(c2) == "queued"


async def test_route_2_going_online_or_raising_the_limit_assigns_at_once(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(
            srv.db, agents=[AgentSpec("late", limit=1, status="offline")], clock=srv.clock
        )
        late = await srv.staff(shop.shop_id, "late")
        c1, c2 = await _ask(srv, shop.shop_id, 2)
        assert _state(c1) == _state(c2) == "queued"

        await late.put("/api/me/status", json={"status": "online"})
        await eventually(lambda: _state(c1) == "assigned")
        assert _state(c2) == "queued"

        answer = await late.put("/api/me/reception-limit", json={"limit": 2})
        assert answer.json()["account"]["current_load"] == 2
        await eventually(lambda: _state(c2) == "assigned")


async def test_route_1_busy_agent_keeps_chats_but_gets_no_new_ones(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(
            srv.db, agents=[AgentSpec("a", limit=5), AgentSpec("b", limit=5)], clock=srv.clock
        )
        a = await srv.staff(shop.shop_id, "a")
        await a.put("/api/me/status", json={"status": "busy"})
        consumers = await _ask(srv, shop.shop_id, 3)
        for consumer in consumers:
            conv = consumer.of_type("conversation")[-1]["conversation"]
            assert conv["agent_id"] == shop.accounts["b"]


async def test_route_4_leaving_the_queue_ends_it_and_moves_the_others_up(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("solo", limit=1)], clock=srv.clock)
        _, c2, c3 = await _ask(srv, shop.shop_id, 3)
        await eventually(lambda: _position(c3) == 2)
        left = await c2.request({"type": "leave_queue"})
        assert left["conversation"]["state"] == "ended"
        assert left["conversation"]["end_cause"] == "left_queue"
        await eventually(lambda: _position(c3) == 1)


async def test_route_4_estimated_wait_comes_from_recent_throughput(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("solo", limit=2)], clock=srv.clock)
        solo = await srv.staff(shop.shop_id, "solo")
        first = await _ask(srv, shop.shop_id, 2)  # two assignments in the last 30 minutes
        waiting = await _ask(srv, shop.shop_id, 2)
        await eventually(lambda: _position(waiting[1]) == 2)
        waits = [f["estimated_wait_s"] for f in waiting[1].of_type("queue")]
        # Two assignments per 30 minutes: 15 minutes per place, second in line waits 30.
        assert waits[-1] == 2 * 15 * 60
        await solo.post(f"/api/conversations/{first[0].conversation_id}/end")  # type: ignore[attr-defined]
        await eventually(lambda: _position(waiting[1]) == 1)
        # Three assignments now: 10 minutes per place.
        assert waiting[1].of_type("queue")[-1]["estimated_wait_s"] == 10 * 60


async def test_conv_5_one_open_conversation_when_asking_five_times_at_once(db_url: str) -> None:
    import asyncio

    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("a", limit=5)], clock=srv.clock)
        consumer = await srv.consumer(shop.shop_id)
        answers = await asyncio.gather(
            *(consumer.request({"type": "request_human"}) for _ in range(5))
        )
        assert {a["conversation"]["id"] for a in answers} == {consumer.conversation_id}  # type: ignore[attr-defined]
        owner = await srv.staff(shop.shop_id, "owner")
        a = await srv.staff(shop.shop_id, "a")
        mine = (await a.get("/api/conversations")).json()
        assert mine["total"] == 1
        assert owner is not None


async def test_route_4_positions_are_remembered_only_while_queued(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("solo", limit=1)], clock=srv.clock)
        solo = await srv.staff(shop.shop_id, "solo")
        first, *waiting = await _ask(srv, shop.shop_id, 10)
        notifier = srv.runtime.notifier
        await eventually(lambda: _position(waiting[-1]) == 9)

        for leaver in waiting[:3]:
            await leaver.request({"type": "leave_queue"})
        await solo.post(f"/api/conversations/{first.conversation_id}/end")  # type: ignore[attr-defined]
        await eventually(lambda: _state(waiting[3]) == "assigned")
        await solo.post(f"/api/conversations/{waiting[3].conversation_id}/end")  # type: ignore[attr-defined]
        await eventually(lambda: _state(waiting[4]) == "assigned")
        still = waiting[5:]
        await eventually(lambda: _position(still[-1]) == len(still))
        ids = {c.conversation_id for c in still}  # type: ignore[attr-defined]
        await eventually(lambda: notifier.remembered() == ids)

        for leaver in still:
            await leaver.request({"type": "leave_queue"})
        await eventually(lambda: notifier.remembered() == set())


async def test_route_4_a_queued_consumer_who_reconnects_hears_its_place_again(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("solo", limit=1)], clock=srv.clock)
        _, waiting = await _ask(srv, shop.shop_id, 2)
        await eventually(lambda: _position(waiting) == 1)
        again = await consumer_socket(srv.ws_url, shop.shop_id, waiting.token)  # type: ignore[attr-defined]
        try:
            await again.wait_for(lambda f: f["type"] == "queue")
            (told,) = again.of_type("queue")
            assert told["conversation_id"] == waiting.conversation_id  # type: ignore[attr-defined]
            assert told["position"] == 1
        finally:
            await again.close()


async def test_route_4_no_invented_minutes_while_no_agent_of_the_group_is_online(
    db_url: str,
) -> None:
    from datetime import timedelta

    from kefu.services.presence import heartbeat

    async with running_server(db_url, presence_grace_s=60) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("solo", limit=1)], clock=srv.clock)
        solo = await srv.staff(shop.shop_id, "solo")
        solo_ws = await srv.staff_socket(solo)
        _, waiting = await _ask(srv, shop.shop_id, 2)  # one assignment: a pace to go by

        def told() -> tuple[Any, Any]:
            last = waiting.of_type("queue")[-1] if waiting.of_type("queue") else {}
            return last.get("agents_online"), last.get("estimated_wait_s")

        await eventually(lambda: told() == (True, 30 * 60))
        await solo.put("/api/me/status", json={"status": "break"})
        await eventually(lambda: told() == (False, None))  # told nobody is there
        await solo.put("/api/me/status", json={"status": "online"})
        await eventually(lambda: told() == (True, 30 * 60))

        await solo_ws.close()  # the browser closes; past the grace period she is away
        await eventually(lambda: shop.accounts["solo"] not in srv.runtime.ctx.live.accounts())
        srv.clock.advance(timedelta(seconds=61))
        await heartbeat(srv.runtime.ctx)  # any process's next beat recomputes the places
        await eventually(lambda: told() == (False, None))
