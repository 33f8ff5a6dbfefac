"""Issue 17, clock skew: two `kefu serve` processes on one PostgreSQL database and one Redis,
the second one's wall clock five minutes ahead (libfaketime). Deadlines, their due checks and
event times follow the database's clock, so the skewed process neither ends early the
conversations the other opened nor stamps its own events in the future."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from fault_clock import (
    REDIS_URL,
    check_faketime,
    create_pg_database,
    drop_pg_database,
    require_pg,
    skewed_env,
)
from kefu.clock import SystemClock
from kefu.domain.conversation import AutoEndMode
from kefu.domain.shop import ShopSettings
from kefu.storage import tables as t
from kefu.storage.db import Database
from kefu.storage.migrate import upgrade
from procs import ServeProcess
from support import AgentSpec, Frames, ShopIds, make_shop, open_consumer

pytestmark = [pytest.mark.fault]

SKEW = timedelta(minutes=5)
# The skewed process's scheduler runs every 0.5 s (procs.py): 10 chances to act too early.
WATCH_S = 5.0
# How far from the test's own (on-time) clock an event time may be: start-at mode has
# one-second resolution, and the database is on this machine.
TOLERANCE = timedelta(seconds=3)


@dataclass
class TwoClocks:
    db: Database
    shop: ShopIds
    on_time: ServeProcess
    ahead: ServeProcess


@pytest.fixture
async def two_clocks(tmp_path: Path) -> AsyncIterator[TwoClocks]:
    require_pg()
    check_faketime(SKEW)
    url = await create_pg_database()
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    on_time = ServeProcess(url, REDIS_URL, log_path=tmp_path / "on_time.log")
    ahead = ServeProcess(url, REDIS_URL, log_path=tmp_path / "ahead.log", env=skewed_env(SKEW))
    try:
        shop = await make_shop(
            db,
            agents=[AgentSpec("a", limit=10)],
            settings=ShopSettings(auto_end=AutoEndMode.XIXI),
            clock=SystemClock(),
        )
        await asyncio.gather(on_time.start(), ahead.start())
        yield TwoClocks(db, shop, on_time, ahead)
    finally:
        on_time.stop()
        ahead.stop()
        await db.dispose()
        await drop_pg_database(url)


async def _assigned(server: ServeProcess, shop_id: int) -> Frames:
    consumer = await open_consumer(server.base_url, server.ws_url, shop_id, timeout=30)
    answer = await consumer.request({"type": "request_human"}, timeout=30)
    assert answer["conversation"]["state"] == "assigned"
    return consumer


def _is_auto_end_notice(frame: dict[str, object]) -> bool:
    message = frame.get("message")
    notice = message.get("notice") if isinstance(message, dict) else None
    code = notice.get("code") if isinstance(notice, dict) else None
    return code in ("conversation.auto_end_warning", "conversation.auto_ended")


async def test_fault_clock_skewed_process_does_not_end_conversations_early(
    two_clocks: TwoClocks,
) -> None:
    """Issue 17 finding 2: with the 5-minute auto-end, conversations opened on the on-time
    process used to be ended within seconds by the process five minutes ahead."""
    env = two_clocks
    consumers = [await _assigned(env.on_time, env.shop.shop_id) for _ in range(5)]
    ids = [c.conversation_id for c in consumers]  # type: ignore[attr-defined]
    try:
        await asyncio.sleep(WATCH_S)
        async with env.db.read() as tx:
            c = t.conversations.c
            states = dict((await tx.conn.execute(select(c.id, c.state).where(c.id.in_(ids)))).all())
        assert states == dict.fromkeys(ids, "assigned")
        for consumer in consumers:
            assert not [f for f in consumer.of_type("message") if _is_auto_end_notice(f)]
    finally:
        for consumer in consumers:
            await consumer.close()


async def test_fault_clock_skewed_process_stamps_database_time(two_clocks: TwoClocks) -> None:
    """Issue 17: event times and deadlines set by the skewed process are the database's time,
    not its own five-minutes-ahead clock."""
    env = two_clocks
    consumer = await _assigned(env.ahead, env.shop.shop_id)
    cid = consumer.conversation_id  # type: ignore[attr-defined]
    try:
        ack = await consumer.request(
            {"type": "send", "conversation_id": cid, "client_id": "m1", "body": "在吗"}
        )
        sent_at = datetime.fromisoformat(ack["created_at"])
        assert abs(sent_at - datetime.now(UTC)) < TOLERANCE, sent_at
        async with env.db.read() as tx:
            c, tm = t.conversations.c, t.timers.c
            created_at = await tx.conn.scalar(select(c.created_at).where(c.id == cid))
            due_at = await tx.conn.scalar(select(tm.due_at).where(tm.conversation_id == cid))
        assert created_at is not None and due_at is not None
        assert abs(created_at - datetime.now(UTC)) < TOLERANCE, created_at
        # The first deadline is the warning, 4 minutes after the conversation opened.
        assert due_at == created_at + timedelta(minutes=4)
    finally:
        await consumer.close()
