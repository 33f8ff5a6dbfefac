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
