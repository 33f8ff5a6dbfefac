"""The database engine and the unit of work: one transaction per use case, commit once,
publish after commit. SQLite takes its single write lock at BEGIN (BEGIN IMMEDIATE); PostgreSQL
serialises a shop's routing with a transaction-scoped advisory lock (ROUTE-7).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from kefu.storage.tables import metadata

AfterCommit = Callable[[], Awaitable[object]]
# What storage functions take: services name it without importing SQLAlchemy.
Connection = AsyncConnection


class Database:
    """Owns the engine; `uow()` opens a write transaction, `read()` a read-only one."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 20) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine: AsyncEngine = create_async_engine(
                url, echo=echo, connect_args={"timeout": 30}
            )
            _configure_sqlite(self.engine)
        else:
            self.engine = create_async_engine(
                url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self, readonly=False)

    def read(self) -> UnitOfWork:
        return UnitOfWork(self, readonly=True)

    async def create_all(self) -> None:
        """Create the schema directly (tests); deployments run the Alembic migrations."""
        async with self.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)

    async def ping(self) -> None:
        """One round trip to the database (for readiness)."""
        async with self.engine.connect() as conn:
            await conn.execute(select(1))

    async def dispose(self) -> None:
        await self.engine.dispose()


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Take over transaction control from the driver so BEGIN IMMEDIATE is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        readonly = conn.get_execution_options().get("kefu_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


class UnitOfWork:
    """`async with db.uow() as tx:` … `await tx.commit()`; leaving without commit rolls back."""

    def __init__(self, db: Database, *, readonly: bool) -> None:
        self._db = db
        self._readonly = readonly
        self._after_commit: list[AfterCommit] = []
        self._conn: AsyncConnection | None = None
        self._committed = False

    @property
    def conn(self) -> AsyncConnection:
        assert self._conn is not None, "unit of work not entered"
        return self._conn

    @property
    def is_sqlite(self) -> bool:
        return self._db.is_sqlite

    async def __aenter__(self) -> UnitOfWork:
        conn = await self._db.engine.connect()
        if self._readonly:
            conn = await conn.execution_options(kefu_readonly=True)
        await conn.begin()
        self._conn = conn
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self.conn
        try:
            if conn.in_transaction():
                await conn.rollback()
        finally:
            await conn.close()
            self._conn = None
        # After-commit work runs once the connection is back in the pool: it may need a
        # connection of its own, and holding ours meanwhile can starve the pool.
        callbacks, self._after_commit = self._after_commit, []
        if self._committed and exc_type is None:
            for callback in callbacks:
                await callback()

    async def lock_shop(self, shop_id: int) -> None:
        """Serialise routing decisions of one shop across processes (ROUTE-7)."""
        if not self._db.is_sqlite:
            await self.conn.execute(select(func.pg_advisory_xact_lock(shop_id)))

    def on_commit(self, callback: AfterCommit) -> None:
        self._after_commit.append(callback)

    async def commit(self) -> None:
        await self.conn.commit()
        self._committed = True
