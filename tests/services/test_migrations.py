"""The Alembic migrations build exactly the schema the code declares, on both engines."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, insert, inspect, select
from sqlalchemy.ext.asyncio import create_async_engine

from kefu.clock import FakeClock
from kefu.storage import tables as t
from kefu.storage.db import Database
from kefu.storage.migrate import alembic_config, upgrade
from kefu.storage.tables import declared_schema_filter, metadata
from support import make_shop


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "include_object": declared_schema_filter(connection.dialect.name),
        },
    )
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


async def _held_by_the_owner(db_url: str) -> None:
    """A conversation assigned to the shop's owner account, held as 0002 wrote it."""
    clock = FakeClock()
    db = Database(db_url)
    try:
        shop = await make_shop(db, clock=clock)
        async with db.uow() as tx:
            consumer_id = await tx.conn.scalar(
                insert(t.consumers)
                .values(shop_id=shop.shop_id, uid="u", nickname="U", created_at=clock.now())
                .returning(t.consumers.c.id)
            )
            conversation_id = await tx.conn.scalar(
                insert(t.conversations)
                .values(
                    shop_id=shop.shop_id,
                    consumer_id=consumer_id,
                    state="assigned",
                    agent_id=shop.accounts["owner"],
                    created_at=clock.now(),
                )
                .returning(t.conversations.c.id)
            )
            await tx.conn.execute(
                insert(t.participants).values(
                    conversation_id=conversation_id,
                    account_id=shop.accounts["owner"],
                    shop_id=shop.shop_id,
                    role="owner",
                    joined_at=clock.now(),
                )
            )
            await tx.commit()
    finally:
        await db.dispose()


async def _roles(db_url: str) -> tuple[str | None, str | None]:
    """The participant's role, and its account's (a shop role, which stays as it is)."""
    db = Database(db_url)
    try:
        async with db.read() as tx:
            participant = await tx.conn.scalar(select(t.participants.c.role))
            account = await tx.conn.scalar(select(t.accounts.c.role))
    finally:
        await db.dispose()
    return participant, account


async def test_conv_7_a_conversation_held_before_0003_is_held_after(db_url: str) -> None:
    config = alembic_config(db_url)
    await asyncio.to_thread(command.upgrade, config, "0002")
    await _held_by_the_owner(db_url)

    await asyncio.to_thread(command.upgrade, config, "head")
    assert await _roles(db_url) == ("holder", "owner")
    await asyncio.to_thread(command.downgrade, config, "0002")
    assert await _roles(db_url) == ("owner", "owner")
