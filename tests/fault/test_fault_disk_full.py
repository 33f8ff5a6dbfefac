"""Issue 9 finding 1: SQLite on a full disk. Sends are answered with a retryable `unavailable`
(cause `full`) on sockets that stay open, nothing acknowledged is lost, and once space is
freed the resent messages are stored, each once."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from fault_history import check_history
from fault_load import LoadClient, unhandled_lines
from kefu.clock import SystemClock
from kefu.storage.db import Database
from kefu.storage.migrate import upgrade
from procs import ServeProcess
from support import AgentSpec, make_shop

pytestmark = [pytest.mark.fault]


def _fill(folder: Path) -> Path:
    """A file that takes every free byte of the disk."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as out:
        for size in (1 << 20, 1 << 12, 1):
            with contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * size)
    return filler


async def test_issue_9_1_sqlite_on_a_full_disk(small_disk: Path, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{small_disk / 'kefu.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    shop = await make_shop(db, agents=[AgentSpec("a", limit=5)], clock=SystemClock())
    await db.dispose()
    server = ServeProcess(url, log_path=tmp_path / "kefu.log", data_dir=tmp_path / "data")
    clients: list[LoadClient] = []
    try:
        await server.start()
        clients = [
            await LoadClient.open(server.base_url, server.ws_url, shop.shop_id, f"c{i}")
            for i in range(2)
        ]
        for client in clients:
            client.body_chars = 2000
            await client.send(f"{client.name}-before", answer_within_s=10)
        filler = _fill(small_disk)
        for n in range(300):  # until the database needs a page the disk does not have
            answers = [await c.send(f"{c.name}-{n}", answer_within_s=10) for c in clients]
            if sum(a.kind == "unavailable" for c in clients for a in c.answers) >= 4:
                break
        refused = [a for c in clients for a in c.answers if a.kind == "unavailable"]
        assert len(refused) >= 4, f"the disk never filled: {answers}"
        assert {a.frame["params"]["cause"] for a in refused if a.frame} == {"full"}
        for client in clients:
            assert client.is_open, f"{client.name} closed with {client.close_code}"
            assert client.bad_answers() == []
        filler.unlink()
        for client in clients:
            await client.resend_unacked(within_s=20)
            after = await client.send(f"{client.name}-after", answer_within_s=10)
            assert after.kind == "ack"
        acks = [ack for c in clients for ack in c.acked.values()]
        assert await check_history(url, acks) == []
    finally:
        for client in clients:
            await client.frames.close()
        server.stop()
    assert unhandled_lines(tmp_path / "kefu.log") == []
