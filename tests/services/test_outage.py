"""Issue 9 finding 1 and issue 17 finding 3 at the storage edge: every database outage leaves
storage as StorageUnavailable (`unavailable`, retryable), every wait is bounded, and the
message writer fails a batch and goes on. Real databases: SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from databases import create_pg_database, drop_pg_database, require_pg
from kefu import errors
from kefu.clock import FakeClock
from kefu.domain.messages import MessageKind, SenderKind
from kefu.services.accounts import start_consumer_session
from kefu.services.context import ConsumerActor
from kefu.services.conversations import open_conversation
from kefu.services.messages import MessageWriter, SendRequest
from kefu.storage.db import Database, DbTimeouts
from support import free_port, make_shop, service_context

FAST = DbTimeouts(connect_s=2, statement_s=1, lock_s=0.5, pool_s=1, busy_s=0.3)


def _retryable(exc: errors.KefuError, cause: str) -> None:
    assert isinstance(exc, errors.StorageUnavailable)
    assert exc.code == "unavailable"
    assert exc.params == {"retryable": True, "retry_after_s": 1, "cause": cause}


async def test_issue_9_1_unreachable_postgresql_is_unavailable_not_a_driver_error() -> None:
    db = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x", timeouts=FAST)
    try:
        with pytest.raises(errors.StorageUnavailable) as raised:
            async with db.read():
                pass
        _retryable(raised.value, "connection")
        with pytest.raises(errors.StorageUnavailable):
            await db.ping()
    finally:
        await db.dispose()


async def test_issue_9_1_sqlite_write_lock_waits_the_busy_timeout_then_unavailable(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kefu.db'}"
    holder, waiter = Database(url), Database(url, timeouts=FAST)
    try:
        await holder.create_all()
        async with holder.uow():
            started = time.monotonic()
            with pytest.raises(errors.StorageUnavailable) as raised:
                async with waiter.uow():
                    pass
            assert time.monotonic() - started < 2
        _retryable(raised.value, "busy")
        async with waiter.uow() as tx:  # the lock is free again: it works
            await tx.commit()
    finally:
        await holder.dispose()
        await waiter.dispose()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    require_pg()
    url = await create_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(url)


async def test_issue_17_3_a_stalled_shop_lock_holder_delays_routing_by_the_lock_timeout(
    pg_url: str,
) -> None:
    db = Database(pg_url, timeouts=FAST)
    holder = create_async_engine(pg_url)
    try:
        async with holder.connect() as raw:
            await raw.execute(text("SELECT pg_advisory_xact_lock(42)"))  # held, never released
            started = time.monotonic()
            with pytest.raises(errors.StorageUnavailable) as raised:
                async with db.uow() as tx:
                    await tx.lock_shop(42)
            assert time.monotonic() - started < FAST.lock_s + 1
            _retryable(raised.value, "timeout")
            async with db.uow() as tx:  # the connection went back usable
                await tx.lock_shop(43)
                await tx.commit()
    finally:
        await holder.dispose()
        await db.dispose()


async def test_issue_9_1_a_slow_statement_ends_at_the_statement_timeout(pg_url: str) -> None:
    db = Database(pg_url, timeouts=FAST)
    try:
        started = time.monotonic()
        with pytest.raises(errors.StorageUnavailable) as raised:
            async with db.read() as tx:
                await tx.conn.execute(text("SELECT pg_sleep(10)"))
        assert time.monotonic() - started < FAST.statement_s + 1
        _retryable(raised.value, "timeout")
    finally:
        await db.dispose()


async def test_issue_17_3_a_terminated_backend_is_unavailable_and_the_pool_recovers(
    pg_url: str,
) -> None:
    db = Database(pg_url, timeouts=FAST)
    admin = create_async_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with pytest.raises(errors.StorageUnavailable) as raised:
            async with db.uow() as tx:
                pid = await tx.conn.scalar(text("SELECT pg_backend_pid()"))
                async with admin.connect() as conn:
                    await conn.execute(text(f"SELECT pg_terminate_backend({int(pid)})"))
                await tx.conn.execute(text("SELECT 1"))
        _retryable(raised.value, "connection")
        for _ in range(3):  # every pooled connection is good again
            async with db.read() as tx:
                assert await tx.conn.scalar(text("SELECT 1")) == 1
    finally:
        await admin.dispose()
        await db.dispose()


async def test_issue_17_3_an_idle_pooled_connection_terminated_is_replaced_at_checkout(
    pg_url: str,
) -> None:
    """No ping per checkout: a pooled connection whose backend went away while idle is closed
    by the driver once the loop reads the server's goodbye, and checkout replaces it, so the
    next unit of work does not fail."""
    db = Database(pg_url, timeouts=FAST)
    admin = create_async_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        async with db.read() as tx:
            pid = await tx.conn.scalar(text("SELECT pg_backend_pid()"))
        async with admin.connect() as conn:
            await conn.execute(text(f"SELECT pg_terminate_backend({int(pid)})"))
        await asyncio.sleep(0.2)  # the loop reads the end of the stream
        async with db.read() as tx:
            now_pid = await tx.conn.scalar(text("SELECT pg_backend_pid()"))
        assert now_pid != pid
    finally:
        await admin.dispose()
        await db.dispose()


async def test_a_glance_is_outside_any_transaction(pg_url: str) -> None:
    db = Database(pg_url, timeouts=FAST)
    current = text("SELECT txid_current()")
    try:
        async with db.glance() as tx:  # each statement is its own transaction
            first = await tx.conn.scalar(current)
            assert await tx.conn.scalar(current) != first
        async with db.read() as tx:  # one transaction
            first = await tx.conn.scalar(current)
            assert await tx.conn.scalar(current) == first
        async with db.read() as tx:  # the glance's connection went back to the pool as it was
            assert await tx.conn.scalar(text("SHOW transaction_isolation")) == "read committed"
    finally:
        await db.dispose()


async def test_issue_9_1_the_writer_fails_a_batch_retryably_and_goes_on(tmp_path: Path) -> None:
    """The batch's senders are told `unavailable` (retryable), nothing is acknowledged, and the
    writer takes the next batch once the database is back."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'kefu.db'}"
    db, holder = Database(url, timeouts=FAST), Database(url)
    ctx = service_context(db, FakeClock())
    await db.create_all()
    shop = await make_shop(db, clock=ctx.clock)
    session = await start_consumer_session(ctx, shop_id=shop.shop_id, identity=None)
    consumer = ConsumerActor(consumer_id=session.consumer_id, shop_id=shop.shop_id)
    view = await open_conversation(ctx, consumer, entry={"source": "direct"})
    writer = MessageWriter(ctx)
    await writer.start()

    def request(client_id: str) -> SendRequest:
        return SendRequest(
            shop.shop_id,
            view.id,
            SenderKind.CONSUMER,
            consumer.consumer_id,
            MessageKind.TEXT,
            "hi " + client_id,
            client_id,
        )

    try:
        async with holder.uow():  # the file's write lock, held past the busy timeout
            refused = await asyncio.gather(
                *(writer.send(request(f"c{i}")) for i in range(3)), return_exceptions=True
            )
        for exc in refused:
            assert isinstance(exc, errors.KefuError)
            _retryable(exc, "busy")
        acks = [await writer.send(request(f"c{i}")) for i in range(3)]  # resent: stored now
        assert [a.seq for a in acks] == sorted({a.seq for a in acks})
        again = await writer.send(request("c0"))
        assert (again.seq, again.client_id) == (acks[0].seq, "c0")  # MSG-2: the same ack
    finally:
        await writer.stop()
        await holder.dispose()
        await db.dispose()
