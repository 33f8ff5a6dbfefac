"""ROUTE-7 and MSG-2 across real server processes: concurrency over two processes sharing one
PostgreSQL (and Redis for fan-out), and a SIGKILL in the middle of a conversation."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from databases import REDIS_URL, create_pg_database, drop_pg_database, require_pg
from kefu.clock import SystemClock
from kefu.storage import tables as t
from kefu.storage.db import Database
from kefu.storage.migrate import upgrade
from procs import ServeProcess
from support import (
    AgentSpec,
    Frames,
    consumer_socket,
    consumer_token,
    make_shop,
    open_consumer,
    staff_login,
    staff_socket,
)

pytestmark = pytest.mark.slow

LIMITS = [1, 2, 3, 4, 5, 5, 6, 7, 8, 9]  # ten agents, 50 places in all


async def _pg_with_schema() -> str:
    require_pg()
    url = await create_pg_database()
    await asyncio.to_thread(upgrade, url)
    return url


async def test_route_7_two_hundred_requests_over_two_processes(tmp_path: Path) -> None:
    url = await _pg_with_schema()
    servers = [ServeProcess(url, REDIS_URL, log_path=tmp_path / f"s{i}.log") for i in range(2)]
    db = Database(url)
    sockets: list[Frames] = []
    try:
        shop = await make_shop(
            db,
            agents=[AgentSpec(f"a{i}", limit=n) for i, n in enumerate(LIMITS)],
            clock=SystemClock(),
        )
        await asyncio.gather(*(s.start() for s in servers))
        turn = itertools.cycle(servers)
        places = [next(turn) for _ in range(200)]
        gate = asyncio.Semaphore(20)

        async def arrive(server: ServeProcess) -> Frames:
            async with gate:  # 200 consumers arrive; the human requests below are simultaneous
                return await open_consumer(server.base_url, server.ws_url, shop.shop_id, timeout=60)

        sockets = list(await asyncio.gather(*(arrive(s) for s in places)))
        answers = await asyncio.gather(
            *(f.request_resending({"type": "request_human"}, timeout=60) for f in sockets)
        )
        assert all("conversation" in a for a in answers), [
            a for a in answers if "conversation" not in a
        ]
        states = Counter(a["conversation"]["state"] for a in answers)
        assert states == {"assigned": 50, "queued": 150}

        async with db.read() as tx:
            c = t.conversations.c
            by_state = dict(
                (await tx.conn.execute(select(c.state, func.count()).group_by(c.state))).all()
            )
            loads = dict(
                (
                    await tx.conn.execute(
                        select(c.agent_id, func.count())
                        .where(c.state == "assigned")
                        .group_by(c.agent_id)
                    )
                ).all()
            )
            assigned_events = Counter(
                (
                    await tx.conn.scalars(
                        select(t.conversation_events.c.conversation_id).where(
                            t.conversation_events.c.kind == "assigned"
                        )
                    )
                ).all()
            )
        assert by_state == {"assigned": 50, "queued": 150}  # none lost
        limits = {shop.accounts[f"a{i}"]: n for i, n in enumerate(LIMITS)}
        assert loads == limits  # everyone full, nobody over
        assert len(assigned_events) == 50 and max(assigned_events.values()) == 1
    finally:
        for f in sockets:
            await f.close()
        for s in servers:
            s.stop()
        await db.dispose()
        await drop_pg_database(url)


async def test_route_7_same_consumer_five_times_from_two_processes(tmp_path: Path) -> None:
    url = await _pg_with_schema()
    servers = [ServeProcess(url, REDIS_URL, log_path=tmp_path / f"s{i}.log") for i in range(2)]
    db = Database(url)
    sockets: list[Frames] = []
    try:
        shop = await make_shop(db, agents=[AgentSpec("a", limit=10)], clock=SystemClock())
        await asyncio.gather(*(s.start() for s in servers))
        token = await consumer_token(servers[0].base_url, shop.shop_id)
        sockets = [
            await consumer_socket(servers[i % 2].ws_url, shop.shop_id, token) for i in range(5)
        ]
        answers = await asyncio.gather(*(f.request({"type": "request_human"}) for f in sockets))
        assert len({a["conversation"]["id"] for a in answers}) == 1
        async with db.read() as tx:
            count = await tx.conn.scalar(select(func.count()).select_from(t.conversations))
        assert count == 1
    finally:
        for f in sockets:
            await f.close()
        for s in servers:
            s.stop()
        await db.dispose()
        await drop_pg_database(url)


async def test_msg_2_identical_sends_over_two_processes_all_get_the_original_ack(
    tmp_path: Path,
) -> None:
    """Tabs of one consumer on two processes send the same message at once, five times over:
    every copy is answered with the one stored message's ack."""
    url = await _pg_with_schema()
    servers = [ServeProcess(url, REDIS_URL, log_path=tmp_path / f"s{i}.log") for i in range(2)]
    db = Database(url)
    tabs: list[Frames] = []
    try:
        shop = await make_shop(db, agents=[AgentSpec("a")], clock=SystemClock())
        await asyncio.gather(*(s.start() for s in servers))
        first = await open_consumer(servers[0].base_url, servers[0].ws_url, shop.shop_id)
        tabs.append(first)
        cid: int = first.conversation_id  # type: ignore[attr-defined]
        assert (await first.request({"type": "request_human"}))["type"] == "conversation"
        for i in range(1, 6):
            token: str = first.token  # type: ignore[attr-defined]
            tabs.append(await consumer_socket(servers[i % 2].ws_url, shop.shop_id, token))
        for round_ in range(5):
            frame = {
                "type": "send",
                "conversation_id": cid,
                "client_id": f"t{round_}",
                "body": "在",
            }
            answers = await asyncio.gather(
                *(tabs[i % 6].request(dict(frame), timeout=30) for i in range(12))
            )
            assert [a["type"] for a in answers] == ["ack"] * 12, answers
            assert len({(a["seq"], a["created_at"]) for a in answers}) == 1, answers
        async with db.read() as tx:
            m = t.messages.c
            stored = Counter(
                (
                    await tx.conn.scalars(
                        select(m.client_id).where(m.conversation_id == cid, m.sender == "consumer")
                    )
                ).all()
            )
        assert stored == {f"t{r}": 1 for r in range(5)}
    finally:
        for f in tabs:
            await f.close()
        for s in servers:
            s.stop()
        await db.dispose()
        await drop_pg_database(url)


async def _stream(frames: Frames, cid: int, prefix: str, n: int, acks: dict[str, int]) -> None:
    """Send n messages without waiting between them; record every ack that arrives."""
    for i in range(n):
        try:
            await frames.send(
                {
                    "type": "send",
                    "conversation_id": cid,
                    "client_id": f"{prefix}{i}",
                    "body": f"{prefix} {i}",
                }
            )
        except Exception:
            return
        await asyncio.sleep(0)
    return None


def _acks(frames: Frames) -> dict[str, int]:
    return {f["client_id"]: f["seq"] for f in frames.of_type("ack")}


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
async def test_msg_2_sigkill_mid_stream_loses_no_acknowledged_message(
    engine: str, tmp_path: Path
) -> None:
    if engine == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'kefu.db'}"
        await asyncio.to_thread(upgrade, url)
    else:
        url = await _pg_with_schema()
    server = ServeProcess(url, log_path=tmp_path / "serve.log")
    db = Database(url)
    try:
        shop = await make_shop(db, agents=[AgentSpec("a", limit=5)], clock=SystemClock())
        await server.start()
        consumer = await open_consumer(server.base_url, server.ws_url, shop.shop_id)
        cid: int = consumer.conversation_id  # type: ignore[attr-defined]
        await consumer.request({"type": "request_human"})
        agent = await staff_login(server.base_url, shop.shop_id, "a")
        agent_ws = await staff_socket(server.ws_url, agent)

        sending = [
            asyncio.create_task(_stream(consumer, cid, "c", 400, {})),
            asyncio.create_task(_stream(agent_ws, cid, "a", 400, {})),
        ]
        await consumer.wait_for(lambda f: f["type"] == "ack" and f["seq"] > 60, timeout=30)
        server.kill()
        await asyncio.gather(*sending)
        acked = {("consumer", k): v for k, v in _acks(consumer).items()}
        acked |= {("agent", k): v for k, v in _acks(agent_ws).items()}
        seen_by_agent = max([f["message"]["seq"] for f in agent_ws.of_type("message")] or [0])
        await consumer.close()
        await agent_ws.close()
        await agent.aclose()
        assert len(acked) > 60

        async with db.read() as tx:
            rows = (
                await tx.conn.execute(
                    select(t.messages.c.seq, t.messages.c.sender, t.messages.c.client_id)
                    .where(t.messages.c.conversation_id == cid)
                    .order_by(t.messages.c.seq)
                )
            ).all()
        stored = {(r.sender, r.client_id): r.seq for r in rows if r.client_id}
        for key, seq in acked.items():
            assert stored.get(key) == seq, key  # every ack is stored, once, with its seq
        assert [r.seq for r in rows] == list(range(1, len(rows) + 1))  # in order, no gaps
        by_sender: dict[str, list[int]] = {}
        for r in rows:
            if r.client_id:
                by_sender.setdefault(r.sender, []).append(int(r.client_id[1:]))
        for numbers in by_sender.values():
            assert numbers == sorted(numbers)  # each sender's messages keep their order

        await server.start()  # restart on the same database
        back = await consumer_socket(server.ws_url, shop.shop_id, consumer.token)  # type: ignore[attr-defined]
        resent = await back.request(
            {"type": "send", "conversation_id": cid, "client_id": "c0", "body": "c 0"}
        )
        assert resent["seq"] == acked[("consumer", "c0")]  # the original ack, not a new message
        agent = await staff_login_again(server.base_url, shop.shop_id)
        agent_back = await staff_socket(server.ws_url, agent)
        missed = await _sync_all(agent_back, cid, seen_by_agent)
        assert [m["seq"] for m in missed] == list(range(seen_by_agent + 1, len(rows) + 1))
        await back.close()
        await agent_back.close()
        await agent.aclose()
    finally:
        server.stop()
        await db.dispose()
        if engine == "postgresql":
            await drop_pg_database(url)


async def staff_login_again(base_url: str, shop_id: int) -> Any:
    """The killed process's session is still live: take it over explicitly (ACCT-4)."""
    import httpx

    from support import PASSWORD

    client = httpx.AsyncClient(base_url=base_url)
    answer = await client.post(
        "/api/auth/login",
        json={"shop_id": shop_id, "username": "a", "password": PASSWORD, "take_over": True},
    )
    assert answer.status_code == 200, answer.text
    return client


async def _sync_all(frames: Frames, cid: int, since: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = await frames.request({"type": "sync", "conversation_id": cid, "since_seq": since})
        items += page["items"]
        if not page["has_more"]:
            return items
        since = page["items"][-1]["seq"]
