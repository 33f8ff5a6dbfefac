"""A graceful shutdown of a real `kefu serve` (SIGTERM) under load: it stops taking new work,
lets the message writer commit what it holds, sends the ack of every committed message, and
only then closes the sockets, with 1012 (service restart), so that clients come back and
resend what was not acknowledged (MSG-2)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from sqlalchemy import select

from databases import create_pg_database, drop_pg_database, require_pg
from kefu.clock import SystemClock
from kefu.storage import tables as t
from kefu.storage.db import Database
from kefu.storage.migrate import upgrade
from procs import ServeProcess
from support import AgentSpec, Frames, make_shop, open_consumer, staff_login, staff_socket

pytestmark = pytest.mark.slow

CONSUMERS = 6
SENDS = 200  # per socket: enough that load is still in flight at the signal


async def _stream(frames: Frames, cid: int, prefix: str) -> None:
    """Send without waiting for acks, until the socket is closed."""
    for i in range(SENDS):
        frame = {"type": "send", "conversation_id": cid, "client_id": f"{prefix}{i}", "body": "在"}
        try:
            await frames.send(frame)
        except Exception:
            return
        await asyncio.sleep(0)


async def _database(engine: str, tmp_path: Path) -> str:
    if engine == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'kefu.db'}"
    else:
        require_pg()
        url = await create_pg_database()
    await asyncio.to_thread(upgrade, url)
    return url


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
async def test_sigterm_acknowledges_every_committed_send_then_closes_with_1012(
    engine: str, tmp_path: Path
) -> None:
    url = await _database(engine, tmp_path)
    server = ServeProcess(url, log_path=tmp_path / "serve.log")
    db = Database(url)
    sockets: list[tuple[Frames, int, str, str]] = []  # socket, conversation, sender, prefix
    try:
        shop = await make_shop(db, agents=[AgentSpec("a", limit=10)], clock=SystemClock())
        await server.start()
        for k in range(CONSUMERS):
            consumer = await open_consumer(server.base_url, server.ws_url, shop.shop_id)
            cid: int = consumer.conversation_id  # type: ignore[attr-defined]
            assert (await consumer.request({"type": "request_human"}))["type"] == "conversation"
            sockets.append((consumer, cid, "consumer", f"c{k}-"))
        agent = await staff_login(server.base_url, shop.shop_id, "a")
        sockets.append((await staff_socket(server.ws_url, agent), sockets[0][1], "agent", "a-"))

        streams = [asyncio.create_task(_stream(f, cid, prefix)) for f, cid, _, prefix in sockets]
        first = sockets[0][0]
        await first.wait_for(lambda f: f["type"] == "ack" and f["client_id"] == "c0-5", 30)
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        await asyncio.gather(*streams)
        for frames, *_ in sockets:
            await asyncio.wait_for(frames.ws.wait_closed(), 30)
        # uvicorn re-raises the signal once it has shut down.
        assert await asyncio.to_thread(server.proc.wait, 30) == -signal.SIGTERM
        await agent.aclose()

        acked = {
            (cid, sender, f["client_id"]): f["seq"]
            for frames, cid, sender, _ in sockets
            for f in frames.of_type("ack")
        }
        async with db.read() as tx:
            m = t.messages.c
            rows = await tx.conn.execute(
                select(m.conversation_id, m.sender, m.client_id, m.seq).where(
                    m.client_id.is_not(None)
                )
            )
            stored = {(r.conversation_id, r.sender, r.client_id): r.seq for r in rows}
        # Load was in flight: not everything was sent and committed before the signal.
        assert 6 <= len(stored) < len(sockets) * SENDS
        missing = sorted(set(stored.items()) - set(acked.items()))
        assert missing == [], f"{len(missing)} of {len(stored)} committed sends were not acked"
        assert [frames.ws.close_code for frames, *_ in sockets] == [1012] * len(sockets)
    finally:
        for frames, *_ in sockets:
            await frames.close()
        server.stop()
        await db.dispose()
        if engine == "postgresql":
            await drop_pg_database(url)
