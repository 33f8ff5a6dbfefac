"""PRES-1, ROUTE-1, ROUTE-7: routing follows the agent's staff sockets. An agent whose last
socket has been gone for the grace period is not routed to (their conversations stay theirs,
supervisors see them disconnected), a reconnection within it changes nothing, logging out is
offline at once, and a killed process's agents drop out within the grace period."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from databases import REDIS_URL, create_pg_database, drop_pg_database, require_pg
from kefu.clock import SystemClock
from kefu.storage import tables as t
from kefu.storage.db import Database
from kefu.storage.migrate import upgrade
from procs import ServeProcess
from support import (
    AgentSpec,
    Frames,
    Server,
    eventually,
    make_shop,
    open_consumer,
    running_server,
    staff_login,
    staff_socket,
)

GRACE = timedelta(seconds=60)


async def _ask(srv: Server, shop_id: int) -> dict[str, Any]:
    """A consumer asks for a human; the conversation as the answer gives it."""
    consumer = await srv.consumer(shop_id)
    answer = await consumer.request({"type": "request_human"})
    return dict(answer["conversation"])


async def _on_duty(srv: Server, shop_id: int, username: str) -> tuple[httpx.AsyncClient, Frames]:
    """An agent as the workbench makes one: logged in, socket open, online."""
    client = await srv.staff(shop_id, username)
    frames = await srv.staff_socket(client)
    answer = await client.put("/api/me/status", json={"status": "online"})
    assert answer.status_code == 200, answer.text
    return client, frames


async def _agents(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    answer = await client.get("/api/agents")
    assert answer.status_code == 200, answer.text
    return {a["username"]: a for a in answer.json()["items"]}


async def _closed(srv: Server, frames: Frames, account_id: int) -> None:
    await frames.close()
    await eventually(lambda: account_id not in srv.runtime.ctx.live.accounts())


async def test_pres_1_agent_whose_socket_closed_gets_no_one_after_the_grace_period(
    db_url: str,
) -> None:
    async with running_server(db_url, presence_grace_s=GRACE.total_seconds()) as srv:
        specs = [AgentSpec(n, status="offline") for n in ("ann", "bob")]
        shop = await make_shop(srv.db, agents=specs, clock=srv.clock)
        ann_id = shop.accounts["ann"]
        ann, ann_socket = await _on_duty(srv, shop.shop_id, "ann")
        await _on_duty(srv, shop.shop_id, "bob")
        first = await _ask(srv, shop.shop_id)
        await _ask(srv, shop.shop_id)  # one each: equal idle rates after the two
        owner = await srv.staff(shop.shop_id, "owner")
        held_by_ann = first if first["agent_id"] == ann_id else None

        await _closed(srv, ann_socket, ann_id)  # ann closes the browser
        srv.clock.advance(GRACE + timedelta(seconds=1))
        later = [await _ask(srv, shop.shop_id) for _ in range(3)]
        assert [c["agent_id"] for c in later] == [shop.accounts["bob"]] * 3

        agents = await _agents(owner)
        assert agents["ann"]["status"] == "online"  # she did not log out
        assert agents["ann"]["connected"] is False  # "agent disconnected"
        assert agents["bob"]["connected"] is True
        async with srv.db.read() as tx:
            c = t.conversations.c
            anns = (await tx.conn.scalars(select(c.id).where(c.agent_id == ann_id))).all()
        assert len(anns) == 1  # her open conversation stays hers
        if held_by_ann is not None:
            assert anns == [held_by_ann["id"]]

        # She comes back: the next consumer goes to her (highest idle rate: 1/5 against 4/5).
        await srv.staff_socket(ann)
        assert (await _agents(owner))["ann"]["connected"] is True
        assert (await _ask(srv, shop.shop_id))["agent_id"] == ann_id


async def test_pres_1_within_the_grace_period_or_after_a_reconnection_nothing_changes(
    db_url: str,
) -> None:
    async with running_server(db_url, presence_grace_s=GRACE.total_seconds()) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("ann", status="offline")], clock=srv.clock)
        ann_id = shop.accounts["ann"]
        ann, ann_socket = await _on_duty(srv, shop.shop_id, "ann")

        await _closed(srv, ann_socket, ann_id)  # a network drop
        srv.clock.advance(GRACE - timedelta(seconds=1))
        assert (await _ask(srv, shop.shop_id))["agent_id"] == ann_id

        await srv.staff_socket(ann)  # back within the grace period, on the same session
        srv.clock.advance(GRACE * 10)  # her socket is open: she is there however long
        assert (await _ask(srv, shop.shop_id))["agent_id"] == ann_id


async def test_pres_1_logging_out_is_offline_at_once(db_url: str) -> None:
    async with running_server(db_url, presence_grace_s=GRACE.total_seconds()) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("ann", status="offline")], clock=srv.clock)
        ann, ann_socket = await _on_duty(srv, shop.shop_id, "ann")
        owner = await srv.staff(shop.shop_id, "owner")
        assert (await ann.post("/api/auth/logout")).status_code == 200
        await ann_socket.wait_for(lambda f: f["type"] == "session_closed")

        assert (await _agents(owner))["ann"]["status"] == "offline"
        assert (await _ask(srv, shop.shop_id))["state"] == "queued"  # no grace period


@pytest.mark.slow
async def test_pres_1_a_killed_process_agents_drop_out_within_the_grace_period(
    tmp_path: Path,
) -> None:
    """Two `kefu serve` on one PostgreSQL: ann's socket lives on A, which is SIGKILLed; B
    routes. While A beats, ann gets consumers from B past the grace period; once A is dead,
    B stops routing to her within the grace period and a heartbeat."""
    require_pg()
    url = await create_pg_database()
    await asyncio.to_thread(upgrade, url)
    grace_s = 2.0
    env = {"KEFU_PRESENCE_GRACE_S": str(grace_s)}
    a, b = (ServeProcess(url, REDIS_URL, log_path=tmp_path / f"{n}.log", env=env) for n in "ab")
    db = Database(url)
    sockets: list[Frames] = []
    clients: list[httpx.AsyncClient] = []
    try:
        specs = [AgentSpec(n, status="offline") for n in ("ann", "bob")]
        shop = await make_shop(db, agents=specs, clock=SystemClock())
        await asyncio.gather(a.start(), b.start())
        ann = await staff_login(a.base_url, shop.shop_id, "ann")
        owner = await staff_login(b.base_url, shop.shop_id, "owner")
        clients += [ann, owner]
        sockets.append(await staff_socket(a.ws_url, ann))
        assert (await ann.put("/api/me/status", json={"status": "online"})).status_code == 200

        async def ask() -> dict[str, Any]:
            consumer = await open_consumer(b.base_url, b.ws_url, shop.shop_id)
            sockets.append(consumer)
            return dict((await consumer.request({"type": "request_human"}))["conversation"])

        await asyncio.sleep(grace_s * 2)  # only A's heartbeat keeps her there for B
        first = await ask()
        assert first["agent_id"] == shop.accounts["ann"]

        bob = await staff_login(b.base_url, shop.shop_id, "bob")
        clients.append(bob)
        sockets.append(await staff_socket(b.ws_url, bob))
        assert (await bob.put("/api/me/status", json={"status": "online"})).status_code == 200

        a.kill()
        killed = time.monotonic()
        await eventually(lambda: _disconnected(owner, "ann"), timeout=grace_s * 3)
        dropped_after = time.monotonic() - killed
        assert dropped_after <= grace_s + grace_s / 3 + 0.5, dropped_after
        later = [await ask() for _ in range(3)]
        assert [c["agent_id"] for c in later] == [shop.accounts["bob"]] * 3
        async with db.read() as tx:
            c = t.conversations.c
            holder = await tx.conn.scalar(select(c.agent_id).where(c.id == first["id"]))
        assert holder == shop.accounts["ann"]  # her conversation stays hers
    finally:
        for f in sockets:
            await f.close()
        for client in clients:
            await client.aclose()
        for s in (a, b):
            s.stop()
        await db.dispose()
        await drop_pg_database(url)


async def _disconnected(client: httpx.AsyncClient, username: str) -> bool:
    return (await _agents(client))[username]["connected"] is False


async def test_pres_1_a_returning_agent_takes_the_waiting_queue_at_once(db_url: str) -> None:
    async with running_server(db_url, presence_grace_s=GRACE.total_seconds()) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("ann", status="offline")], clock=srv.clock)
        ann_id = shop.accounts["ann"]
        ann, ann_socket = await _on_duty(srv, shop.shop_id, "ann")
        await _closed(srv, ann_socket, ann_id)
        srv.clock.advance(GRACE + timedelta(seconds=1))
        consumer = await srv.consumer(shop.shop_id)
        answer = await consumer.request({"type": "request_human"})
        assert answer["conversation"]["state"] == "queued"  # nobody is there

        await srv.staff_socket(ann)  # she opens the workbench again
        assigned = await consumer.wait_for(
            lambda f: f["type"] == "conversation" and f["conversation"]["state"] == "assigned"
        )
        assert assigned["conversation"]["agent_id"] == ann_id
