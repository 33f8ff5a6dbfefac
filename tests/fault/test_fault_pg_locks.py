"""Issue 17 finding 3: a stalled process holding a shop's routing lock delays the others by the
lock timeout at most, and a terminated database backend is a retryable error frame, never a
dropped socket."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from fault_history import check_history
from fault_load import LoadClient, stop_all, unhandled_lines
from fault_pg import PrivatePostgres
from kefu.clock import SystemClock
from kefu.storage.db import Database
from procs import ServeProcess
from support import AgentSpec, make_shop

pytestmark = [pytest.mark.fault]

LOCK_TIMEOUT_S = 1.0
TIMEOUTS = {
    "KEFU_DB_CONNECT_TIMEOUT_S": "1",
    "KEFU_DB_STATEMENT_TIMEOUT_S": "2",
    "KEFU_DB_LOCK_TIMEOUT_S": str(LOCK_TIMEOUT_S),
    "KEFU_DB_POOL_TIMEOUT_S": "1",
}
MARGIN_S = 2.0


async def test_issue_17_3_a_stalled_lock_holder_delays_routing_by_the_lock_timeout_only(
    kefu_pg_url: str, tmp_path: Path
) -> None:
    db = Database(kefu_pg_url)
    shop = await make_shop(db, agents=[AgentSpec("a", limit=3)], clock=SystemClock())
    await db.dispose()
    server = ServeProcess(kefu_pg_url, log_path=tmp_path / "kefu.log", env=TIMEOUTS)
    stalled = create_async_engine(kefu_pg_url)
    client: LoadClient | None = None
    try:
        await server.start()
        client = await LoadClient.open(server.base_url, server.ws_url, shop.shop_id, "c")
        async with stalled.connect() as holder:
            # What a paused process leaves behind: the shop's lock, held in an open transaction.
            await holder.execute(text(f"SELECT pg_advisory_xact_lock({shop.shop_id})"))
            started = time.monotonic()
            answer = await client.frames.request({"type": "request_human"}, timeout=30)
            waited = time.monotonic() - started
            assert waited <= LOCK_TIMEOUT_S + MARGIN_S, f"answered after {waited:.1f} s"
            if answer["type"] == "error":
                assert answer["code"] == "unavailable", answer
                assert answer["params"]["retryable"] is True
                assert answer["params"]["cause"] == "timeout"
            else:
                assert answer["type"] == "conversation"
            await holder.rollback()
        assert client.is_open
        again = await client.frames.request({"type": "request_human"}, timeout=10)
        assert again["type"] == "conversation"
        assert again["conversation"]["state"] == "assigned"
    finally:
        if client is not None:
            await client.frames.close()
        await stalled.dispose()
        server.stop()
    assert unhandled_lines(tmp_path / "kefu.log") == []


TERMINATE_KEFU = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = 'kefu' AND backend_type = 'client backend' AND pid <> pg_backend_pid() {}"
)


async def test_issue_17_3_terminated_backends_are_retryable_errors_never_a_dropped_socket(
    private_pg: PrivatePostgres, kefu_pg_url: str, tmp_path: Path
) -> None:
    """First the issue's case: the backend of a routing transaction that waits for the shop's
    lock is terminated. Then backends terminated at random under load from two processes."""
    db = Database(kefu_pg_url)
    shop = await make_shop(db, agents=[AgentSpec("a", limit=4)], clock=SystemClock())
    await db.dispose()
    servers = [
        ServeProcess(
            kefu_pg_url,
            log_path=tmp_path / f"kefu{i}.log",
            env={**TIMEOUTS, "KEFU_DB_LOCK_TIMEOUT_S": "10"},
        )
        for i in range(2)
    ]
    admin = create_async_engine(private_pg.url(), isolation_level="AUTOCOMMIT")
    stalled = create_async_engine(kefu_pg_url)
    clients: list[LoadClient] = []
    load: list[asyncio.Task[None]] = []
    terminated = 0
    try:
        await asyncio.gather(*(s.start() for s in servers))
        clients = [
            await LoadClient.open(s.base_url, s.ws_url, shop.shop_id, f"c{i}")
            for i, s in enumerate(servers * 2)
        ]
        async with stalled.connect() as holder, admin.connect() as conn:
            await holder.execute(text(f"SELECT pg_advisory_xact_lock({shop.shop_id})"))
            asked = asyncio.create_task(
                clients[0].frames.request({"type": "request_human"}, timeout=10)
            )
            waiting = "AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
            for _ in range(100):
                await asyncio.sleep(0.05)
                if (await conn.execute(text(TERMINATE_KEFU.format(waiting)))).all():
                    break
            answer = await asked
            assert answer["type"] == "error" and answer["code"] == "unavailable", answer
            assert answer["params"]["retryable"] is True
            assert answer["params"]["cause"] == "connection"
            await holder.rollback()
        assert clients[0].is_open

        stop = asyncio.Event()
        load = [asyncio.create_task(c.keep_sending(stop, answer_within_s=6)) for c in clients]
        async with admin.connect() as conn:
            for _ in range(30):
                await asyncio.sleep(0.1)
                terminated += len((await conn.execute(text(TERMINATE_KEFU.format("")))).all())
        await asyncio.sleep(1)
        stop.set()
        await asyncio.gather(*load)
        assert terminated > 0
        for client in clients:
            assert client.is_open, f"{client.name} closed with {client.close_code}"
            assert client.bad_answers() == []
            await client.resend_unacked(within_s=15)
        acks = [ack for c in clients for ack in c.acked.values()]
        assert len(acks) > 20
        assert await check_history(kefu_pg_url, acks) == []
    finally:
        stop_all(load)
        for client in clients:
            await client.frames.close()
        await admin.dispose()
        await stalled.dispose()
        for server in servers:
            server.stop()
    assert unhandled_lines(*(s.log_path for s in servers if s.log_path)) == []
