"""Shared fixtures: databases (SQLite always, PostgreSQL when reachable, and always in CI)."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from databases import (
    REDIS_URL,
    REQUIRE_SERVICES,
    create_pg_database,
    drop_pg_database,
    require_pg,
)
from kefu.settings import RATE_LIMITS
from kefu.storage.db import Database

# The rate limits count per client address, and every test client comes from 127.0.0.1: they
# are lifted for the suite (servers started here, in-process or `kefu serve`, read the
# environment). The rate-limit tests pass their own limits, which win over the environment.
for _name in RATE_LIMITS:
    os.environ.setdefault(f"KEFU_RATE_{_name.upper()}", "off")


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Every storage test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'kefu.db'}"
        return
    require_pg()
    url = await create_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(url)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """A fresh schema on `db_url`."""
    database = Database(db_url)
    await database.create_all()
    try:
        yield database
    finally:
        await database.dispose()


def _redis_reachable() -> bool:
    async def probe() -> bool:
        client = Redis.from_url(REDIS_URL)
        try:
            return bool(await client.ping())
        except RedisError:
            return False
        finally:
            await client.aclose()

    return asyncio.run(probe())


@pytest.fixture(params=["memory", "redis"])
def rate_storage(request: pytest.FixtureRequest) -> dict[str, str]:
    """Settings for where the rate limits count: this process's memory, or the shared Redis
    under a key prefix of the test's own (tests running at once never share a counter)."""
    if request.param == "memory":
        return {}
    if not _redis_reachable():
        if REQUIRE_SERVICES:
            pytest.fail("Redis is not reachable, and CI (KEFU_REQUIRE_SERVICES=1) requires it")
        pytest.skip("Redis not reachable here; CI sets KEFU_REQUIRE_SERVICES=1 and never skips")
    return {"redis_url": REDIS_URL, "rate_key_prefix": f"kefu-test:{secrets.token_hex(6)}"}


@pytest.fixture
def artifacts_dir() -> Iterator[Path]:
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    yield path
