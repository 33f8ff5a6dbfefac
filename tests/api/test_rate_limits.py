"""Issue 9, finding 3, over HTTP: consumer sessions per address and staff calls per session
are rate-limited (429 `rate_limited`, `params.retry_after` and `Retry-After`), counted in this
process's memory or in Redis, where two `kefu serve` processes share the count; with Redis
away, every request goes through."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

import httpx
import pytest
from structlog.testing import capture_logs

from databases import REDIS_URL
from kefu import errors
from kefu.app import create_app
from kefu.clock import SystemClock
from kefu.services.rate_limits import RateLimits
from kefu.settings import Settings
from kefu.storage.db import Database
from kefu.storage.migrate import upgrade
from procs import ServeProcess
from support import SECRET_KEY, AgentSpec, free_port, make_shop, running_server


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'kefu.db'}"


def _assert_rate_limited(answer: httpx.Response, *, within_s: int) -> int:
    assert answer.status_code == 429, answer.text
    body = answer.json()
    assert body["code"] == "rate_limited"
    wait = body["params"]["retry_after"]
    assert isinstance(wait, int)
    assert 1 <= wait <= within_s
    assert answer.headers["Retry-After"] == str(wait)
    return wait


async def test_issue_9_consumer_sessions_per_address_are_limited(
    sqlite_url: str, rate_storage: dict[str, str]
) -> None:
    async with running_server(sqlite_url, rate_consumer_sessions="3/minute", **rate_storage) as srv:
        shop = await make_shop(srv.db, clock=srv.clock)
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            answers = [
                await client.post("/api/consumer/session", json={"shop_id": shop.shop_id})
                for _ in range(5)
            ]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    for refused in answers[3:]:
        _assert_rate_limited(refused, within_s=60)


async def test_issue_9_staff_calls_per_session_are_limited(
    sqlite_url: str, rate_storage: dict[str, str]
) -> None:
    async with running_server(sqlite_url, rate_staff_calls="4/minute", **rate_storage) as srv:
        shop = await make_shop(
            srv.db, agents=[AgentSpec("alice"), AgentSpec("bob")], clock=srv.clock
        )
        alice = await srv.staff(shop.shop_id, "alice")
        bob = await srv.staff(shop.shop_id, "bob")
        calls = [await alice.get("/api/me") for _ in range(4)]
        refused = await alice.get("/api/me")
        refused_write = await alice.put("/api/me/status", json={"status": "busy"})
        others = await bob.get("/api/me")
    assert [c.status_code for c in calls] == [200] * 4
    _assert_rate_limited(refused, within_s=60)
    _assert_rate_limited(refused_write, within_s=60)
    # Per session: a colleague's calls are counted apart.
    assert others.status_code == 200


async def test_issue_9_a_refused_call_changes_nothing(sqlite_url: str) -> None:
    async with running_server(sqlite_url, rate_staff_calls="1/minute") as srv:
        shop = await make_shop(
            srv.db, agents=[AgentSpec("alice"), AgentSpec("bob")], clock=srv.clock
        )
        alice = await srv.staff(shop.shop_id, "alice")
        bob = await srv.staff(shop.shop_id, "bob")
        assert (await alice.get("/api/me")).status_code == 200
        refused = await alice.put("/api/me/status", json={"status": "busy"})
        agents = (await bob.get("/api/agents")).json()["items"]
    _assert_rate_limited(refused, within_s=60)
    assert {a["username"]: a["status"] for a in agents}["alice"] == "online"


async def test_issue_9_the_default_limits_let_a_normal_user_through(sqlite_url: str) -> None:
    """The documented defaults: a workbench session's first minute (a burst of calls) and a
    few widget loads from one address are far below them."""
    defaults = {f"rate_{n}": Settings.model_fields[f"rate_{n}"].default for n in _LIMITS}
    async with running_server(sqlite_url, **defaults) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("alice")], clock=srv.clock)
        alice = await srv.staff(shop.shop_id, "alice")
        paths = ["/api/me", "/api/agents", "/api/groups", "/api/shop/settings", "/api/me/stats"]
        answers = [await alice.get(p) for _ in range(10) for p in paths]
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            sessions = [
                await client.post("/api/consumer/session", json={"shop_id": shop.shop_id})
                for _ in range(10)
            ]
    assert {a.status_code for a in answers} == {200}
    assert {s.status_code for s in sessions} == {200}


_LIMITS = ("consumer_messages", "consumer_sessions", "conversations", "sockets", "staff_calls")


def test_issue_9_openapi_documents_429_on_every_staff_route_and_the_consumer_session() -> None:
    doc = create_app(Settings(secret_key=SECRET_KEY)).openapi()
    staff_ops = [
        (path, method, op)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if any("staff_session" in r for r in op.get("security", []))
    ]
    assert len(staff_ops) > 20
    for path, method, op in staff_ops:
        assert "rate_limited" in op["responses"]["429"]["description"], (path, method)
    session = doc["paths"]["/api/consumer/session"]["post"]["responses"]
    assert "rate_limited" in session["429"]["description"]


async def test_issue_9_with_redis_away_every_action_goes_through_with_a_warning() -> None:
    """A port nobody listens on: the limits fail open, warn once, and leave Redis alone for a
    while, so that the next actions do not wait for it either."""
    settings = Settings(
        secret_key=SECRET_KEY,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        rate_consumer_messages="1/minute",
        rate_consumer_sessions="1/minute",
    )
    limits = RateLimits(settings)
    try:
        with capture_logs() as logs:
            for _ in range(3):
                await limits.consumer_message(1)
            started = time.perf_counter()
            for _ in range(50):
                await limits.consumer_session("10.0.0.1")
            elapsed = time.perf_counter() - started
    finally:
        await limits.close()
    warnings = [e for e in logs if e["event"] == "rate_limits_unavailable"]
    assert len(warnings) == 1
    assert warnings[0]["log_level"] == "warning"
    assert elapsed < 0.05


async def test_issue_9_with_redis_away_a_consumer_session_is_still_issued(
    sqlite_url: str,
) -> None:
    async with running_server(
        sqlite_url,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        rate_consumer_sessions="1/minute",
    ) as srv:
        shop = await make_shop(srv.db, clock=srv.clock)
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            answers = [
                await client.post("/api/consumer/session", json={"shop_id": shop.shop_id})
                for _ in range(3)
            ]
    assert [a.status_code for a in answers] == [200, 200, 200]


async def test_issue_9_a_memory_limit_is_refused_with_its_own_retry_after() -> None:
    """retry_after is when the oldest counted action leaves the window, rounded up."""
    limits = RateLimits(Settings(secret_key=SECRET_KEY, rate_sockets="2/3 seconds"))
    await limits.socket("10.0.0.1")
    await asyncio.sleep(1.2)
    await limits.socket("10.0.0.1")
    with pytest.raises(errors.RateLimited) as refused:
        await limits.socket("10.0.0.1")
    assert refused.value.params["retry_after"] == 2  # 3 s after the first, 1.2 s ago
    await limits.socket("10.0.0.2")  # another address counts apart
    await asyncio.sleep(1.9)
    await limits.socket("10.0.0.1")  # the first has left the window


@pytest.mark.slow
async def test_issue_9_two_processes_share_the_counter_through_redis(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kefu.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    try:
        shop = await make_shop(db, clock=SystemClock())
    finally:
        await db.dispose()
    env = {
        "KEFU_RATE_CONSUMER_SESSIONS": "4/minute",
        "KEFU_RATE_KEY_PREFIX": f"kefu-test:{secrets.token_hex(6)}",
    }
    servers = [
        ServeProcess(url, REDIS_URL, env=env, log_path=tmp_path / f"s{i}.log") for i in range(2)
    ]
    try:
        for server in servers:  # one after the other: both migrate the same SQLite file
            await server.start()
        async with httpx.AsyncClient() as client:

            async def session(server: ServeProcess) -> httpx.Response:
                return await client.post(
                    server.base_url + "/api/consumer/session", json={"shop_id": shop.shop_id}
                )

            answers = [await session(servers[i % 2]) for i in range(4)]
            refused = [await session(server) for server in servers]
    finally:
        for server in servers:
            server.stop()
    # Two on each process: each alone would let two more through.
    assert [a.status_code for a in answers] == [200] * 4
    for answer in refused:
        _assert_rate_limited(answer, within_s=60)


async def test_issue_9_a_refused_action_is_counted_in_no_window() -> None:
    """With two windows, an action the longer one refuses does not fill the shorter one: once
    the longer one frees a place, the next action goes through."""
    limits = RateLimits(Settings(secret_key=SECRET_KEY, rate_sockets="3/3 seconds;4/4 seconds"))
    for _ in range(3):
        await limits.socket("10.0.0.1")
    await asyncio.sleep(3.1)
    await limits.socket("10.0.0.1")  # the 4th within 4 s
    for _ in range(10):
        with pytest.raises(errors.RateLimited) as refused:
            await limits.socket("10.0.0.1")
    assert refused.value.params["retry_after"] == 1  # the first three leave the 4 s at 4 s
    await asyncio.sleep(1.0)
    # Had the refused ones filled the 3 s window, it would be full until 6.1 s.
    await limits.socket("10.0.0.1")


async def test_issue_9_behind_a_local_proxy_each_forwarded_address_counts_apart(
    sqlite_url: str,
) -> None:
    """uvicorn, as `kefu serve` runs it, trusts X-Forwarded-For from 127.0.0.1 (a proxy on the
    same machine): the limits see the clients' addresses, not the proxy's."""
    async with running_server(sqlite_url, rate_consumer_sessions="2/minute") as srv:
        shop = await make_shop(srv.db, clock=srv.clock)
        async with httpx.AsyncClient(base_url=srv.base_url) as client:

            async def session(address: str) -> int:
                answer = await client.post(
                    "/api/consumer/session",
                    json={"shop_id": shop.shop_id},
                    headers={"X-Forwarded-For": address},
                )
                return answer.status_code

            first = [await session("203.0.113.1") for _ in range(3)]
            second = await session("203.0.113.2")
    assert first == [200, 200, 429]
    assert second == 200
