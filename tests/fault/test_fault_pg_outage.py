"""Issue 9 finding 1: PostgreSQL stopped under load from two `kefu serve` processes. Every send
is answered in bounded time, with an ack or a retryable `unavailable`; no socket drops; HTTP
answers 503 with Retry-After; nothing is logged as unhandled; after the restart the clients
resend with the same client ids and the history is sound."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from fault_history import check_history
from fault_load import LoadClient, stop_all, unhandled_lines
from fault_pg import PrivatePostgres
from kefu.clock import SystemClock
from kefu.storage.db import Database
from procs import ServeProcess
from support import AgentSpec, make_shop, staff_login

pytestmark = [pytest.mark.fault]

# Short bounds, so that an outage is told quickly (the defaults are documented in protocol.md).
TIMEOUTS = {
    "KEFU_DB_CONNECT_TIMEOUT_S": "1",
    "KEFU_DB_STATEMENT_TIMEOUT_S": "2",
    "KEFU_DB_LOCK_TIMEOUT_S": "1",
    "KEFU_DB_POOL_TIMEOUT_S": "1",
}
# The longest a send may wait for its answer: the statement timeout (and the client's 2 s
# beyond it) plus the connect timeout, and a margin.
ANSWER_WITHIN_S = 2 + 2 + 1 + 2


async def test_issue_9_1_postgresql_stopped_under_load_from_two_processes(
    private_pg: PrivatePostgres, kefu_pg_url: str, tmp_path: Path
) -> None:
    db = Database(kefu_pg_url)
    shop = await make_shop(
        db, agents=[AgentSpec("a", limit=3), AgentSpec("b", limit=2)], clock=SystemClock()
    )
    await db.dispose()
    servers = [
        ServeProcess(kefu_pg_url, log_path=tmp_path / f"kefu{i}.log", env=TIMEOUTS)
        for i in range(2)
    ]
    clients: list[LoadClient] = []
    load: list[asyncio.Task[None]] = []
    staff: httpx.AsyncClient | None = None
    try:
        await asyncio.gather(*(s.start() for s in servers))
        clients = [
            await LoadClient.open(s.base_url, s.ws_url, shop.shop_id, f"c{i}")
            for i, s in enumerate(servers * 3)
        ]
        staff = await staff_login(servers[1].base_url, shop.shop_id, "a")
        stop = asyncio.Event()
        load = [
            asyncio.create_task(c.keep_sending(stop, answer_within_s=ANSWER_WITHIN_S))
            for c in clients
        ]
        await asyncio.sleep(1.5)
        private_pg.stop("fast")
        await asyncio.sleep(1)
        me = await staff.get("/api/me")
        assert me.status_code == 503, me.text
        assert me.headers["retry-after"] == "1"
        assert me.json()["code"] == "unavailable" and me.json()["params"]["retryable"] is True
        await asyncio.sleep(3)
        private_pg.start()
        await asyncio.sleep(1.5)
        stop.set()
        await asyncio.gather(*load)

        refused = [a for c in clients for a in c.answers if a.kind == "unavailable"]
        assert refused, "the outage was never told"
        for client in clients:
            assert client.is_open, f"{client.name} closed with {client.close_code}"
            assert client.bad_answers() == []
        slowest = max(a.latency_s for c in clients for a in c.answers)
        print(f"answers {sum(len(c.answers) for c in clients)}, refused {len(refused)}, "
              f"slowest {slowest:.2f} s")  # fmt: skip
        assert slowest <= ANSWER_WITHIN_S

        deadline = time.monotonic() + 20
        for client in clients:
            await client.resend_unacked(within_s=max(1.0, deadline - time.monotonic()))
        acks = [ack for c in clients for ack in c.acked.values()]
        assert await check_history(kefu_pg_url, acks) == []
        assert (await staff.get("/api/me")).status_code == 200
    finally:
        stop_all(load)
        if staff is not None:
            await staff.aclose()
        for client in clients:
            await client.frames.close()
        for server in servers:
            server.stop()
    assert unhandled_lines(*(s.log_path for s in servers if s.log_path)) == []
