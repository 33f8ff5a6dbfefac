"""`kefu demo --lively` (issue 16) against a real server: the demo shop's simulated traffic
creates conversations, the bot answers, the simulated agents reply, end and are rated, they
answer a real consumer too, simulated consumers answer a person signed in as an agent, nothing
is logged as an error, no other shop is touched, and the agents go off shift on shutdown."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from structlog.testing import capture_logs

from kefu.app import Runtime
from kefu.clock import FakeClock
from kefu.demo import DEMO_SHOP_ID, LIVELY_AGENTS
from kefu.seed import DEMO_PASSWORD, seed_demo
from kefu.services.messages import MessageWriter
from kefu.simulation import driver as driver_module
from kefu.simulation.driver import LivelyDemo, shift_status
from kefu.storage import tables as t
from kefu.storage.db import Database
from support import (
    AgentSpec,
    Server,
    eventually,
    make_shop,
    running_server,
    server_log,
    service_context,
)

# 300 simulated seconds each real second: a conversation of the model's 8 minutes lasts
# under 2 seconds, and about a consumer arrives every 0.2 seconds at 09:00.
SPEED = 300.0


async def _counts(runtime: Runtime, shop_id: int) -> dict[str, Any]:
    c, m = t.conversations.c, t.messages.c
    async with runtime.ctx.db.read() as tx:
        conn = tx.conn
        conversations = await conn.scalar(
            select(func.count()).select_from(t.conversations).where(c.shop_id == shop_id)
        )
        ended = await conn.scalar(
            select(func.count())
            .select_from(t.conversations)
            .where(c.shop_id == shop_id, c.end_cause == "agent")
        )
        senders: dict[str, int] = dict(
            (
                await conn.execute(
                    select(m.sender, func.count())
                    .select_from(t.messages.join(t.conversations, m.conversation_id == c.id))
                    .where(c.shop_id == shop_id)
                    .group_by(m.sender)
                )
            ).all()
        )
        cards = await conn.scalar(
            select(func.count())
            .select_from(t.messages.join(t.conversations, m.conversation_id == c.id))
            .where(c.shop_id == shop_id, m.kind == "order_card")
        )
        rated = await conn.scalar(
            select(func.count()).select_from(t.ratings).where(t.ratings.c.shop_id == shop_id)
        )
    return {
        "conversations": conversations,
        "ended_by_agent": ended,
        "bot": senders.get("bot", 0),
        "agent": senders.get("agent", 0),
        "consumer": senders.get("consumer", 0),
        "order_cards": cards,
        "rated": rated,
    }


async def _signed_in(server: Server, username: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=server.base_url)
    server._clients.append(client)  # closed with the server
    answer = await client.post(
        "/api/auth/login",
        json={"shop_id": DEMO_SHOP_ID, "username": username, "password": DEMO_PASSWORD},
    )
    assert answer.status_code == 200, answer.text
    return client


async def _statuses(runtime: Runtime, shop_id: int) -> dict[str, str]:
    a = t.accounts.c
    async with runtime.ctx.db.read() as tx:
        rows = await tx.conn.execute(
            select(a.username, a.status).where(a.shop_id == shop_id).order_by(a.id)
        )
        return {username: status for username, status in rows}


async def test_lively_demo_keeps_the_demo_shop_busy_and_touches_no_other_shop(
    db_url: str,
) -> None:
    db = Database(db_url)
    await db.create_all()
    try:
        ctx = service_context(db, FakeClock())
        assert await seed_demo(ctx)
        other = await make_shop(db, name="Other", agents=[AgentSpec("a1")], clock=ctx.clock)
    finally:
        await db.dispose()
    assert other.shop_id != DEMO_SHOP_ID

    with server_log() as log, capture_logs() as events:
        async with running_server(
            db_url, create_schema=False, lively=SPEED, demo_buyer=True
        ) as server:
            runtime = server.runtime
            assert runtime.lively is not None
            # The person watching, signed in as agent1 (not played) and online.
            desk = await _signed_in(server, "agent1")
            desk_ws = await server.staff_socket(desk)
            assert (await desk.put("/api/me/status", json={"status": "online"})).is_success
            me = (await desk.get("/api/me")).json()["account"]["id"]

            async def busy() -> dict[str, Any] | None:
                counts = await _counts(runtime, DEMO_SHOP_ID)
                enough = counts["ended_by_agent"] >= 3 and counts["rated"] >= 1
                return counts if enough and counts["order_cards"] >= 1 else None

            counts = await eventually(busy, timeout=60)
            # A simulated consumer routed to the person answers what they write.
            mine = await desk_ws.wait_for(
                lambda f: (
                    f["type"] == "conversation"
                    and f["conversation"]["agent_id"] == me
                    and f["conversation"]["state"] == "assigned"
                ),
                30,
            )
            theirs = mine["conversation"]["id"]
            sent = await desk_ws.request(
                {"type": "send", "conversation_id": theirs, "client_id": "d1", "body": "在的"}
            )
            await desk_ws.wait_for(
                lambda f: (
                    f["type"] == "message"
                    and f["message"]["conversation_id"] == theirs
                    and f["message"]["sender"] == "consumer"
                    and f["message"]["seq"] > sent["seq"]
                ),
                30,
            )
            assert (await desk.post(f"/api/conversations/{theirs}/end")).is_success
            # A person trying the demo shop's chat meanwhile: a simulated agent answers and ends.
            person = await server.consumer(DEMO_SHOP_ID, entry={"source": "order"})
            cid = person.conversation_id  # type: ignore[attr-defined]
            await person.request(
                {"type": "send", "conversation_id": cid, "client_id": "p1", "body": "转人工"}
            )
            answer = await person.wait_for(
                lambda f: f["type"] == "message" and f["message"]["sender"] == "agent", 30
            )
            await person.wait_for(
                lambda f: f["type"] == "conversation" and f["conversation"]["state"] == "ended", 30
            )
            played_hour = runtime.lively.played_hour
            online = await _statuses(runtime, DEMO_SHOP_ID)
            assert runtime.lively.played_hour == played_hour  # no shift changed meanwhile
            tally = runtime.lively.tally
        after_stop = await _statuses_after(db_url)

    assert counts["conversations"] >= 5
    assert counts["bot"] >= 3  # answers and misses from the knowledge base
    assert counts["agent"] >= 3 and counts["consumer"] > counts["conversations"]
    assert tally.arrived >= counts["conversations"] - 1 and tally.ended >= 3
    assert tally.failed == 0
    assert tally.adopted >= 1 and answer["message"]["sender_name"] in ("阿杰", "小雨", "大鹏")
    # Nothing worth a look: neither the libraries' log nor kefu's own (which says it ran).
    assert log.problems() == []
    assert [e for e in events if e["log_level"] not in ("debug", "info")] == []
    assert {"lively.started", "lively.stopped"} <= {e["event"] for e in events}
    # On their shifts: from 09:00, agent2 and agent3 are online, agent4 starts at noon.
    assert {u: online[u] for u in LIVELY_AGENTS} == {
        u: shift_status(u, played_hour).value for u in LIVELY_AGENTS
    }
    if played_hour < 12:
        assert online["agent4"] == "offline" and online["agent3"] == "online"
    assert online["owner"] == "offline" and online["agent1"] == "online"
    # Stopped with the server: the simulated agents went off shift.
    assert {u: after_stop[DEMO_SHOP_ID][u] for u in LIVELY_AGENTS} == dict.fromkeys(
        LIVELY_AGENTS, "offline"
    )
    # The other shop: no conversation, its agent as it was.
    assert after_stop["other_conversations"] == 0
    assert after_stop[other.shop_id] == {"owner": "offline", "a1": "online"}


async def _statuses_after(db_url: str) -> dict[Any, Any]:
    db = Database(db_url)
    try:
        a, c = t.accounts.c, t.conversations.c
        async with db.read() as tx:
            rows = (await tx.conn.execute(select(a.shop_id, a.username, a.status))).all()
            other = await tx.conn.scalar(
                select(func.count()).select_from(t.conversations).where(c.shop_id != DEMO_SHOP_ID)
            )
    finally:
        await db.dispose()
    found: dict[Any, Any] = {"other_conversations": other}
    for shop_id, username, status in rows:
        found.setdefault(shop_id, {})[username] = status
    return found


async def test_lively_demo_without_the_demo_shop_says_so_and_touches_nothing(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'kefu.db'}")
    await db.create_all()
    try:
        ctx = service_context(db, FakeClock())
        other = await make_shop(db, name="Other", agents=[AgentSpec("agent2")], clock=ctx.clock)
        assert other.shop_id == DEMO_SHOP_ID  # the first shop, but not the demo's
        demo_server = replace(ctx, settings=ctx.settings.model_copy(update={"demo_buyer": True}))
        with capture_logs() as events:
            # Neither on a server that is not `kefu demo`'s, nor in a shop not the demo's.
            for context in (ctx, demo_server):
                driver = LivelyDemo(context, MessageWriter(context), speed=100.0)
                await driver.start()
                await eventually(lambda: not driver.running)  # noqa: B023 - awaited here
                await driver.stop()
        async with db.read() as tx:
            conversations = await tx.conn.scalar(select(func.count()).select_from(t.conversations))
            consumers = await tx.conn.scalar(select(func.count()).select_from(t.consumers))
            status = await tx.conn.scalar(
                select(t.accounts.c.status).where(t.accounts.c.username == "agent2")
            )
    finally:
        await db.dispose()
    warned = [(e["event"], e["log_level"]) for e in events if e["log_level"] != "info"]
    assert warned == [("lively.not_started", "warning")] * 2
    assert (conversations, consumers, status) == (0, 0, "online")


async def test_lively_demo_stops_after_the_step_under_way_not_in_its_middle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step cancelled half-way could leave a database operation half done behind the agents'
    off-shift writes: the demo stops once the step under way ends, and cancels only one that
    outlasts STEP_WITHIN_S."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'kefu.db'}")
    await db.create_all()
    try:
        ctx = service_context(db, FakeClock())
        for step_s, finished in ((0.3, True), (5.0, False)):
            driver = LivelyDemo(ctx, MessageWriter(ctx), speed=100.0)
            began, ended = asyncio.Event(), asyncio.Event()

            async def step(
                step_s: float = step_s, began: asyncio.Event = began, ended: asyncio.Event = ended
            ) -> None:
                began.set()
                await asyncio.sleep(step_s)  # a database operation, say
                ended.set()

            monkeypatch.setattr(driver, "_prepare", step)
            monkeypatch.setattr(driver_module, "STEP_WITHIN_S", 0.5)
            await driver.start()
            await asyncio.wait_for(began.wait(), 5)
            await driver.stop()
            assert ended.is_set() is finished and not driver.running
    finally:
        await db.dispose()
