"""Issue 9: processes ended under load, gracefully (SIGTERM) and not (SIGKILL). Whatever the
clients were told holds: every acknowledged message is stored once, at its seq, and every
other one is stored once after the clients resend it to the processes that remain."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fault_history import check_history
from fault_load import LoadClient, stop_all, unhandled_lines
from kefu.clock import SystemClock
from kefu.storage.db import Database
from procs import ServeProcess
from support import AgentSpec, make_shop

pytestmark = [pytest.mark.fault]


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGKILL"])
async def test_issue_9_acked_messages_survive_a_process_ended_under_load(
    kefu_pg_url: str, tmp_path: Path, signal_name: str
) -> None:
    db = Database(kefu_pg_url)
    shop = await make_shop(db, agents=[AgentSpec("a", limit=4)], clock=SystemClock())
    await db.dispose()
    servers = [ServeProcess(kefu_pg_url, log_path=tmp_path / f"kefu{i}.log") for i in range(2)]
    clients: list[LoadClient] = []
    load: list[asyncio.Task[None]] = []
    try:
        await asyncio.gather(*(s.start() for s in servers))
        clients = [
            await LoadClient.open(s.base_url, s.ws_url, shop.shop_id, f"c{i}")
            for i, s in enumerate(servers * 3)
        ]
        stop = asyncio.Event()
        load = [
            asyncio.create_task(c.keep_sending(stop, answer_within_s=10, pause_s=0))
            for c in clients
        ]
        await asyncio.sleep(1.5)
        if signal_name == "SIGTERM":
            await asyncio.to_thread(servers[0].terminate)
        else:
            servers[0].kill()
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*load)
        ended = clients[0::2]
        assert all(not c.is_open for c in ended)
        if signal_name == "SIGTERM":
            assert {c.close_code for c in ended} == {1012}
        for client in clients:
            assert [a for a in client.bad_answers() if a.kind != "closed"] == []
        # The clients of the ended process come back through the other one and resend.
        for client in ended:
            await client.reconnect(servers[1].ws_url)
        for client in clients:
            await client.resend_unacked(within_s=20)
        acks = [ack for c in clients for ack in c.acked.values()]
        assert len(acks) > 20
        assert await check_history(kefu_pg_url, acks) == []
    finally:
        stop_all(load)
        for client in clients:
            await client.frames.close()
        for server in servers:
            server.stop()
    assert unhandled_lines(*(s.log_path for s in servers if s.log_path)) == []
