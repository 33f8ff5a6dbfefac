"""ROUTE-2 when an end takes no shop lock: its freed slot is drained after commit, two ends
of one conversation end it once, and a drain lost with a dead process is made up by the
scheduler's sweep."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select, update

from kefu.storage import tables as t
from support import AgentSpec, Server, eventually, make_shop, running_server


async def _states(srv: Server, *ids: int) -> list[str]:
    c = t.conversations.c
    async with srv.db.read() as tx:
        found = dict((await tx.conn.execute(select(c.id, c.state).where(c.id.in_(ids)))).all())
    return [str(found[i]) for i in ids]


async def test_route_2_two_ends_at_once_end_it_once_and_assign_the_next(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("solo", limit=1)], clock=srv.clock)
        solo = await srv.staff(shop.shop_id, "solo")
        c1, c2 = await srv.consumer(shop.shop_id), await srv.consumer(shop.shop_id)
        await c1.request({"type": "request_human"})
        await c2.request({"type": "request_human"})
        first, second = c1.conversation_id, c2.conversation_id  # type: ignore[attr-defined]

        path = f"/api/conversations/{first}/end"
        answers = await asyncio.gather(solo.post(path), solo.post(path))
        assert sorted(a.status_code for a in answers) == [200, 422]
        assert await _states(srv, first, second) == ["ended", "assigned"]
        e = t.conversation_events.c
        async with srv.db.read() as tx:
            ended = await tx.conn.scalar(
                select(func.count()).where(e.conversation_id == first, e.kind == "ended")
            )
        assert ended == 1


async def test_route_2_the_scheduler_drains_what_a_dead_process_left(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("solo", limit=1)], clock=srv.clock)
        c1, c2 = await srv.consumer(shop.shop_id), await srv.consumer(shop.shop_id)
        await c1.request({"type": "request_human"})
        await c2.request({"type": "request_human"})
        first, second = c1.conversation_id, c2.conversation_id  # type: ignore[attr-defined]
        assert await _states(srv, first, second) == ["assigned", "queued"]

        # An end committed by a process that died before its drain.
        async with srv.db.uow() as tx:
            await tx.conn.execute(
                update(t.conversations)
                .where(t.conversations.c.id == first)
                .values(state="ended", ended_at=srv.clock.now(), end_cause="agent")
            )
            await tx.commit()
        assert await _states(srv, second) == ["queued"]

        await srv.runtime.scheduler.tick()
        assert await _states(srv, second) == ["assigned"]
        await eventually(
            lambda: c2.of_type("conversation")[-1]["conversation"]["state"] == "assigned"
        )


async def test_set_2_each_request_drained_at_once_gets_its_welcome(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(
            srv.db, agents=[AgentSpec("solo", limit=2, status="offline")], clock=srv.clock
        )
        owner = await srv.staff(shop.shop_id, "owner")
        welcome = {"group_id": shop.group_ids[0], "welcome": "组欢迎", "closing": None}
        saved = await owner.put("/api/greetings", json={"groups": [welcome], "agents": []})
        assert saved.status_code == 200, saved.text
        consumers = [await srv.consumer(shop.shop_id) for _ in range(3)]
        for consumer in consumers:
            await consumer.request({"type": "request_human"})
        ids = [c.conversation_id for c in consumers]  # type: ignore[attr-defined]

        solo = await srv.staff(shop.shop_id, "solo")
        await solo.put("/api/me/status", json={"status": "online"})  # two at once
        assert await _states(srv, *ids) == ["assigned", "assigned", "queued"]
        await solo.post(f"/api/conversations/{ids[0]}/end")  # the third by the drain
        assert await _states(srv, *ids) == ["ended", "assigned", "assigned"]
        for cid in ids:
            items = (await solo.get(f"/api/conversations/{cid}/messages")).json()["items"]
            assert [m["body"] for m in items].count("组欢迎") == 1
            assert [m["seq"] for m in items] == list(range(1, len(items) + 1))
