"""LIVE-1 across real server processes: the supervisor's page is served by one process, the
consumer and the agent by another; the pushes cross over Redis within a second."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from databases import REDIS_URL, create_pg_database, drop_pg_database, require_pg
from kefu.clock import SystemClock
from kefu.storage.db import Database
from kefu.storage.migrate import upgrade
from procs import ServeProcess
from support import AgentSpec, Frames, make_shop, open_consumer, staff_login, staff_socket

pytestmark = pytest.mark.slow


def _pending(frame: dict[str, Any], agent_id: int) -> int:
    return int(next(a for a in frame["view"]["agents"] if a["id"] == agent_id)["pending"])


async def test_live_1_pushes_cross_processes(tmp_path: Path) -> None:
    require_pg()
    url = await create_pg_database()
    await asyncio.to_thread(upgrade, url)
    servers = [ServeProcess(url, REDIS_URL, log_path=tmp_path / f"s{i}.log") for i in range(2)]
    db = Database(url)
    sockets: list[Frames] = []
    clients: list[httpx.AsyncClient] = []
    try:
        shop = await make_shop(
            db,
            agents=[AgentSpec("alice"), AgentSpec("sue", role="supervisor", status="offline")],
            clock=SystemClock(),
        )
        await asyncio.gather(*(s.start() for s in servers))
        near, far = servers
        clients.append(await staff_login(far.base_url, shop.shop_id, "sue"))
        sue = await staff_socket(far.ws_url, clients[-1])
        sockets.append(sue)
        assert (await sue.request({"type": "live_watch"}))["type"] == "live"
        alice_id = shop.accounts["alice"]

        consumer = await open_consumer(near.base_url, near.ws_url, shop.shop_id)
        sockets.append(consumer)
        answer = await consumer.request({"type": "request_human"})
        cid = answer["conversation"]["id"]
        loop = asyncio.get_running_loop()
        mark, started = len(sue.received), loop.time()
        await consumer.request(
            {"type": "send", "conversation_id": cid, "client_id": "m1", "body": "在吗"}
        )
        await sue.wait_for(
            lambda f: (
                f["type"] == "live"
                and any(g is f for g in sue.received[mark:])
                and _pending(f, alice_id) == 1
            ),
            timeout=1.0,
        )
        assert loop.time() - started < 1.0

        # A status change on the near process reaches the far page (live_changed over Redis).
        alice = await staff_login(near.base_url, shop.shop_id, "alice")
        clients.append(alice)
        mark = len(sue.received)
        assert (await alice.put("/api/me/status", json={"status": "busy"})).status_code == 200
        seen = await sue.wait_for(
            lambda f: (
                f["type"] == "live"
                and any(g is f for g in sue.received[mark:])
                and next(a for a in f["view"]["agents"] if a["id"] == alice_id)["status"] == "busy"
            ),
            timeout=1.0,
        )
        assert seen["view"]["shop"]["online"] == 1  # busy is still online
    finally:
        for f in sockets:
            await f.close()
        for client in clients:
            await client.aclose()
        for s in servers:
            s.stop()
        await db.dispose()
        await drop_pg_database(url)
