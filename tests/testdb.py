"""The test databases: the shared PostgreSQL (a private database per test) and Redis.

Kept out of conftest.py so that test modules can import them by a name no other folder's
conftest.py shadows (each tests/ folder may have a conftest.py, all imported as `conftest`)."""

from __future__ import annotations

import asyncio
import os
import secrets

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

PG_ADMIN_URL = os.environ.get("KEFU_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("KEFU_TEST_REDIS", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("KEFU_REQUIRE_SERVICES") == "1"


def _pg_reachable() -> bool:
    async def probe() -> bool:
        engine = create_async_engine(PG_ADMIN_URL)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False
        finally:
            await engine.dispose()

    return asyncio.run(probe())


PG_AVAILABLE = _pg_reachable()


def require_pg() -> None:
    if PG_AVAILABLE:
        return
    if REQUIRE_SERVICES:
        pytest.fail("PostgreSQL is not reachable, and CI (KEFU_REQUIRE_SERVICES=1) requires it")
    pytest.skip("PostgreSQL not reachable here; CI sets KEFU_REQUIRE_SERVICES=1 and never skips")


async def create_pg_database() -> str:
    name = "kefu_t_" + secrets.token_hex(6)
    engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


async def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await engine.dispose()
