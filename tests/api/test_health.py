"""/healthz says the process is alive; /readyz says whether what it needs is reachable: the
database, and Redis when configured. A failed check is 503 `degraded` with its cause, never a
traceback, and the process recovers by itself when Redis comes back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx

from kefu.api.models import HealthOut, ReadinessOut
from support import AgentSpec, Server, free_port, make_shop, running_server, server_log
from testdb import REDIS_URL

OK = {"status": "ok", "error": None}


async def _probe(srv: Server) -> tuple[httpx.Response, httpx.Response]:
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        alive, ready = await client.get("/healthz"), await client.get("/readyz")
    assert alive.status_code == 200 and alive.json() == {"status": "ok"}, alive.text
    HealthOut.model_validate_json(alive.content, strict=True)
    ReadinessOut.model_validate_json(ready.content, strict=True)
    return alive, ready


async def test_ops_ready_when_the_database_answers(db_url: str) -> None:
    async with running_server(db_url) as srv:
        _, ready = await _probe(srv)
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "checks": {"database": OK}}


async def test_ops_ready_checks_redis_when_it_is_configured(db_url: str) -> None:
    async with running_server(db_url, redis_url=REDIS_URL) as srv:
        _, ready = await _probe(srv)
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "checks": {"database": OK, "redis": OK}}


async def test_ops_degraded_when_the_database_cannot_be_reached() -> None:
    closed = f"postgresql+asyncpg://kefu@127.0.0.1:{free_port()}/kefu"
    async with running_server(closed, create_schema=False) as srv:
        with server_log() as log:
            _, ready = await _probe(srv)
        assert ready.status_code == 503
        assert ready.json() == {
            "status": "degraded",
            "checks": {"database": {"status": "down", "error": "ConnectionRefusedError"}},
        }
        assert log.problems() == []


async def test_ops_degraded_while_redis_is_away_and_ready_when_it_returns(db_url: str) -> None:
    port = free_port()
    async with running_server(db_url, redis_url=f"redis://127.0.0.1:{port}/0") as srv:
        with server_log() as log:
            _, ready = await _probe(srv)
            assert ready.status_code == 503
            assert ready.json() == {
                "status": "degraded",
                "checks": {"database": OK, "redis": {"status": "down", "error": "ConnectionError"}},
            }
            async with _relay_to_redis(port):
                await _until_ready(srv)
                await _fan_out_works(srv)
        assert log.problems() == []


async def _until_ready(srv: Server) -> None:
    deadline = asyncio.get_running_loop().time() + 15
    while (await _probe(srv))[1].status_code != 200:
        assert asyncio.get_running_loop().time() < deadline, "not ready in time"
        await asyncio.sleep(0.1)


async def _fan_out_works(srv: Server) -> None:
    """A consumer's typing reaches the agent through Redis, once the listener is back."""
    shop = await make_shop(srv.db, agents=[AgentSpec("alice")], clock=srv.clock)
    alice = await srv.staff_socket(await srv.staff(shop.shop_id, "alice"))
    consumer = await srv.consumer(shop.shop_id)
    assigned = await consumer.request({"type": "request_human"})
    cid = assigned["conversation"]["id"]
    for attempt in range(30):  # the listener reconnects with a backoff of up to a few seconds
        await consumer.send({"type": "typing", "conversation_id": cid, "text": f"t{attempt}"})
        with contextlib.suppress(TimeoutError):
            await alice.wait_for(lambda f: f["type"] == "typing", timeout=0.5)
            return
    raise AssertionError("no typing preview reached the agent")


@contextlib.asynccontextmanager
async def _relay_to_redis(port: int) -> AsyncIterator[None]:
    """Redis reachable on `port` from now on: a TCP relay to the test Redis."""
    host, redis_port = REDIS_URL.removeprefix("redis://").split("/")[0].split(":")

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def relay(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(host, int(redis_port))
        await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w))

    server = await asyncio.start_server(relay, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()
