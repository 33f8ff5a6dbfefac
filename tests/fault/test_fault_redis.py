"""Issue 17, finding 1: the Redis fan-out survives Redis. Two `kefu serve` processes share one
PostgreSQL and a private Redis behind a fault proxy; the agent's socket is on process A and
the consumer's on process B, so every message the consumer sends reaches the agent through
Redis. Redis is restarted, or black-holed for longer than the health check's timeout; after
each, the agent is told to `resync`, live `message` pushes are back within 3 s of Redis
returning, and after the agent's `sync` nothing is missing. The logs hold no traceback."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from databases import create_pg_database, drop_pg_database, require_pg
from fault_proxy import FaultProxy
from fault_redis import PrivateRedis
from kefu.clock import SystemClock
from kefu.storage.db import Database
from kefu.storage.migrate import upgrade
from procs import ServeProcess
from support import AgentSpec, Frames, make_shop, open_consumer, staff_login, staff_socket

pytestmark = [pytest.mark.fault]

# The defaults of KEFU_REDIS_HEALTH_CHECK_INTERVAL_S and KEFU_REDIS_HEALTH_CHECK_TIMEOUT_S: a
# black hole is noticed within their sum.
HEALTH_CHECK_WITHIN_S = 5.0 + 3.0
BACK_WITHIN_S = 3.0
LOG_PROBLEMS = ("Traceback", "Exception in ASGI application", "readuntil")


@dataclass
class Stage:
    redis: PrivateRedis
    proxy: FaultProxy
    servers: list[ServeProcess]
    agent: Frames
    consumer: Frames
    cid: int
    ids: itertools.count[int]

    async def say(self, prefix: str) -> str:
        """The consumer (on B) sends a message; its client id, once acknowledged."""
        client_id = f"{prefix}{next(self.ids)}"
        ack = await self.consumer.request(
            {"type": "send", "conversation_id": self.cid, "client_id": client_id, "body": client_id}
        )
        assert ack["type"] == "ack", ack
        return client_id

    def pushed_to_agent(self) -> set[str]:
        return {
            str(f["message"]["client_id"])
            for f in self.agent.of_type("message")
            if f["message"]["sender"] == "consumer"
        }

    def log_problems(self) -> list[str]:
        problems = []
        for server in self.servers:
            assert server.log_path is not None
            for line in server.log_path.read_text(errors="replace").splitlines():
                if any(word in line for word in LOG_PROBLEMS):
                    problems.append(f"{server.log_path.name}: {line}")
        return problems


@contextlib.asynccontextmanager
async def stage(tmp_path: Path) -> AsyncIterator[Stage]:
    require_pg()
    redis = PrivateRedis(tmp_path / "redis.log")
    await redis.start()
    proxy = FaultProxy(redis.port)
    await proxy.start()
    url = await create_pg_database()
    db = Database(url)
    redis_url = f"redis://127.0.0.1:{proxy.port}/0"
    servers = [ServeProcess(url, redis_url, log_path=tmp_path / f"serve-{n}.log") for n in "ab"]
    sockets: list[Frames] = []
    clients: list[httpx.AsyncClient] = []
    try:
        await asyncio.to_thread(upgrade, url)
        shop = await make_shop(db, agents=[AgentSpec("a")], clock=SystemClock())
        await asyncio.gather(*(s.start() for s in servers))
        a, b = servers
        clients.append(await staff_login(a.base_url, shop.shop_id, "a"))
        agent = await staff_socket(a.ws_url, clients[0])
        sockets.append(agent)
        consumer = await open_consumer(b.base_url, b.ws_url, shop.shop_id)
        sockets.append(consumer)
        assigned = await consumer.request({"type": "request_human"})
        assert assigned["conversation"]["state"] == "assigned", assigned
        cid = int(assigned["conversation"]["id"])
        staged = Stage(redis, proxy, servers, agent, consumer, cid, itertools.count(1))
        before = await staged.say("before")
        await agent.wait_for(_message_with(before))  # the fan-out works to begin with
        yield staged
    finally:
        for frames in sockets:
            await frames.close()
        for client in clients:
            await client.aclose()
        for server in servers:
            server.stop()
        await proxy.stop()
        redis.stop()
        await db.dispose()
        await drop_pg_database(url)


def _message_with(client_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda f: f["type"] == "message" and f["message"]["client_id"] == client_id


async def _recovers(staged: Stage, fault: Callable[[], Awaitable[None]], name: str) -> None:
    """Run `fault` (the consumer sends during it; it returns when Redis is back), then check:
    resync, live pushes within BACK_WITHIN_S, nothing missing after the agent's sync."""
    loop = asyncio.get_running_loop()
    await fault()
    back_at = loop.time()

    async def live_again() -> float:
        """Probes from the consumer until one is pushed to the agent; the delay after Redis
        returned."""
        while True:
            probe = await staged.say("live")
            with contextlib.suppress(TimeoutError):
                await staged.agent.wait_for(_message_with(probe), timeout=0.25)
                return loop.time() - back_at

    probing = asyncio.create_task(live_again())
    resync = await staged.agent.wait_for(lambda f: f["type"] == "resync", timeout=15)
    resynced_after = loop.time() - back_at
    back_after = await asyncio.wait_for(probing, 15)
    print(f"\n{name}: resync {resynced_after:.2f} s, live pushes {back_after:.2f} s after")
    assert resync == {"type": "resync"}

    # The agent's resync: everything after the last seq it had when told.
    told = staged.agent.received.index(resync)
    seen = [f["message"]["seq"] for f in staged.agent.received[:told] if f["type"] == "message"]
    page = await staged.agent.request(
        {"type": "sync", "conversation_id": staged.cid, "since_seq": max(seen)}
    )
    assert page["type"] == "messages" and not page["has_more"], page
    recovered = {str(m["client_id"]) for m in page["items"] if m["sender"] == "consumer"}
    assert back_after < BACK_WITHIN_S

    # Nothing missing: every acknowledged message reached the agent, pushed or by the sync.
    everything = await staged.consumer.request(
        {"type": "sync", "conversation_id": staged.cid, "since_seq": 0}
    )
    sent = {str(m["client_id"]) for m in everything["items"] if m["sender"] == "consumer"}

    async def complete() -> set[str]:
        deadline = loop.time() + BACK_WITHIN_S
        while (missing := sent - staged.pushed_to_agent() - recovered) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        return missing

    assert await complete() == set()
    assert len(sent) > 4  # before, during and after the fault
    assert staged.log_problems() == []


async def test_issue_17_1_fan_out_survives_a_redis_restart(tmp_path: Path) -> None:
    async with stage(tmp_path) as staged:

        async def restart() -> None:
            staged.redis.stop()
            for _ in range(3):  # acknowledged while Redis is down, found by the resync
                await staged.say("down")
            await asyncio.sleep(5)
            await staged.redis.start()

        await _recovers(staged, restart, "restart")


async def test_issue_17_1_fan_out_survives_a_black_holed_redis(tmp_path: Path) -> None:
    async with stage(tmp_path) as staged:

        async def black_hole() -> None:
            staged.proxy.black_hole()
            for _ in range(3):
                await staged.say("hole")
            await asyncio.sleep(HEALTH_CHECK_WITHIN_S + 1)
            staged.proxy.resume()

        await _recovers(staged, black_hole, "black hole")


async def test_issue_17_1_not_ready_while_the_listener_is_not_subscribed(tmp_path: Path) -> None:
    """Redis answers PING but refuses SUBSCRIBE (an ACL): /readyz says `degraded` until the
    listener is subscribed again."""
    redis = PrivateRedis(tmp_path / "redis.log")
    await redis.start()
    proxy = FaultProxy(redis.port)
    await proxy.start()
    url = f"sqlite+aiosqlite:///{tmp_path / 'kefu.db'}"
    server = ServeProcess(url, f"redis://127.0.0.1:{proxy.port}/0", log_path=tmp_path / "s.log")
    admin = aioredis.Redis.from_url(redis.url)
    try:
        await server.start()
        async with httpx.AsyncClient(base_url=server.base_url) as client:

            async def readiness(status: int) -> dict[str, Any]:
                deadline = asyncio.get_running_loop().time() + 5
                while (answer := await client.get("/readyz")).status_code != status:
                    assert asyncio.get_running_loop().time() < deadline, answer.json()
                    await asyncio.sleep(0.05)
                return dict(answer.json())

            await readiness(200)
            await admin.execute_command("ACL", "SETUSER", "default", "-subscribe")
            proxy.cut()  # the listener reconnects, and is refused
            await readiness(503)
            for _ in range(10):  # and stays so, while PING works (the probe reconnected)
                degraded = await client.get("/readyz")
                assert degraded.status_code == 503, degraded.json()
                assert degraded.json()["checks"]["redis"] == {
                    "status": "down",
                    "error": "ConnectionError",
                }
                await asyncio.sleep(0.1)
            assert await admin.ping()
            await admin.execute_command("ACL", "SETUSER", "default", "+subscribe")
            ready = await readiness(200)
            assert ready["checks"]["redis"] == {"status": "ok", "error": None}
    finally:
        server.stop()
        await admin.aclose()
        await proxy.stop()
        redis.stop()
