"""The Alembic migrations build exactly the schema the code declares, on both engines."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from kefu.storage.migrate import upgrade
from kefu.storage.tables import metadata


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_migrations_match_the_declared_schema(db_url: str) -> None:
    await asyncio.to_thread(upgrade, db_url)
    await asyncio.to_thread(upgrade, db_url)  # idempotent at head
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            indexes = await conn.run_sync(
                lambda c: {i["name"] for i in inspect(c).get_indexes("conversations")}
            )
    finally:
        await engine.dispose()
    assert set(metadata.tables) <= tables
    assert "uq_conversations_open_per_consumer" in indexes
