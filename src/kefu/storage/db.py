"""The database engine and the unit of work: one transaction per use case, commit once,
publish after commit. SQLite takes its single write lock at BEGIN (BEGIN IMMEDIATE); PostgreSQL
serialises a shop's routing with a transaction-scoped advisory lock (ROUTE-7).

Every wait on the database is bounded (`DbTimeouts`), and every outage leaves here as
`errors.StorageUnavailable` (storage/outage.py), never as a driver's exception.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import orjson
from sqlalchemy import Row, Select, event, func, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from kefu.settings import Settings
from kefu.storage import outage
from kefu.storage.tables import metadata

AfterCommit = Callable[[], Awaitable[object]]
# What storage functions take: services name it without importing SQLAlchemy.
Connection = AsyncConnection


@dataclass(frozen=True, slots=True)
class DbTimeouts:
    """The bounds of every wait on the database, in seconds (KEFU_DB_*_S settings)."""

    # Opening a connection (asyncpg's connect timeout).
    connect_s: float = 5.0
    # One statement on the server (statement_timeout); the client gives up 2 s later
    # (asyncpg's command_timeout), should the server not answer at all.
    statement_s: float = 15.0
    # Waiting for a row or advisory lock (PostgreSQL lock_timeout).
    lock_s: float = 10.0
    # Waiting for a free connection of the process's pool.
    pool_s: float = 10.0
    # SQLite: waiting for the file's write lock (busy_timeout).
    busy_s: float = 30.0
    # PostgreSQL ends a session idle inside a transaction this long (a stalled process that
    # holds a shop's lock): idle_in_transaction_session_timeout.
    idle_in_transaction_s: float = 60.0

    @classmethod
    def of(cls, settings: Settings) -> DbTimeouts:
        return cls(
            connect_s=settings.db_connect_timeout_s,
            statement_s=settings.db_statement_timeout_s,
            lock_s=settings.db_lock_timeout_s,
            pool_s=settings.db_pool_timeout_s,
            busy_s=settings.db_busy_timeout_s,
            idle_in_transaction_s=settings.db_idle_in_transaction_timeout_s,
        )


def _json_loads(text: str | bytes) -> Any:
    """JSON columns as stored: orjson (several times faster than the standard library, and
    the columns of every conversation and view are read through it), falling back to the
    standard library for what orjson refuses (integers beyond 64 bits, NaN)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _ms(seconds: float) -> str:
    return str(max(1, round(seconds * 1000)))


class Database:
    """Owns the engine; `uow()` opens a write transaction, `read()` a read-only one."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 20,
        timeouts: DbTimeouts | None = None,
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.timeouts = timeouts = timeouts or DbTimeouts()
        if self.is_sqlite:
            self.engine: AsyncEngine = create_async_engine(
                url,
                echo=echo,
                json_deserializer=_json_loads,
                connect_args={"timeout": timeouts.busy_s},
            )
            _configure_sqlite(self.engine, timeouts)
        else:
            self.engine = create_async_engine(
                url,
                echo=echo,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_timeout=timeouts.pool_s,
                json_deserializer=_json_loads,
                connect_args={
                    "timeout": timeouts.connect_s,
                    "command_timeout": timeouts.statement_s + 2,
                    "server_settings": {
                        "statement_timeout": _ms(timeouts.statement_s),
                        "lock_timeout": _ms(timeouts.lock_s),
                        "idle_in_transaction_session_timeout": _ms(timeouts.idle_in_transaction_s),
                    },
                },
            )
            _discard_closed_at_checkout(self.engine)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self, readonly=False)

    def read(self) -> UnitOfWork:
        return UnitOfWork(self, readonly=True)

    def glance(self) -> UnitOfWork:
        """A read of one statement: on PostgreSQL outside any transaction (a statement sees
        one snapshot anyway under READ COMMITTED), which spares BEGIN and ROLLBACK, two round
        trips; on SQLite as `read()`. Not for several statements that must agree, nor for
        `SET LOCAL` or transaction-scoped locks."""
        return UnitOfWork(self, readonly=True, autocommit=not self.is_sqlite)

    async def create_all(self) -> None:
        """Create the schema directly (tests); deployments run the Alembic migrations."""
        async with self.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)

    async def ping(self) -> None:
        """One round trip to the database (for readiness); StorageUnavailable when down."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(select(1))
        except Exception as exc:
            if (translated := outage.translate(exc)) is not None:
                raise translated from exc
            raise

    async def dispose(self) -> None:
        await self.engine.dispose()


def _configure_sqlite(engine: AsyncEngine, timeouts: DbTimeouts) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Take over transaction control from the driver so BEGIN IMMEDIATE is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={_ms(timeouts.busy_s)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        readonly = conn.get_execution_options().get("kefu_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def _discard_closed_at_checkout(engine: AsyncEngine) -> None:
    """A pooled connection whose server side went away (a restart, a terminated backend) is
    closed by asyncpg as soon as the event loop reads the server's goodbye or the end of the
    stream: it is replaced at checkout, at no round trip (a ping per checkout costs three:
    BEGIN, the ping and ROLLBACK). One that breaks unnoticed fails its statement, which is an
    outage (`outage.translate`), and SQLAlchemy then recycles every connection of the pool
    that was older."""

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(_dbapi: DBAPIConnection, record: ConnectionPoolEntry, _proxy: Any) -> None:
        driver = record.driver_connection
        if driver is not None and driver.is_closed():
            raise sa_exc.DisconnectionError("the connection was closed by the server")


class UnitOfWork:
    """`async with db.uow() as tx:` … `await tx.commit()`; leaving without commit rolls back."""

    def __init__(self, db: Database, *, readonly: bool, autocommit: bool = False) -> None:
        self._db = db
        self._readonly = readonly
        self._autocommit = autocommit
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
        conn: AsyncConnection | None = None
        try:
            conn = await self._db.engine.connect()
            if self._autocommit:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            elif self._readonly:
                conn = await conn.execution_options(kefu_readonly=True)
            await conn.begin()
        except Exception as exc:
            translated = outage.translate(exc)
            if conn is not None:
                await _release(conn, broken=translated is not None)
            if translated is not None:
                raise translated from exc
            raise
        self._conn = conn
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back unless committed and give the connection back (discarded when broken).
        A database outage inside the block leaves as StorageUnavailable; one while rolling
        back after a commit, or after the block failed anyway, is of no consequence."""
        conn = self.conn
        self._conn = None
        translated = outage.translate(exc) if isinstance(exc, Exception) else None
        await _release(conn, broken=exc is not None and outage.is_broken_connection(exc))
        if translated is not None:
            raise translated from exc
        # After-commit work runs once the connection is back in the pool: it may need a
        # connection of its own, and holding ours meanwhile can starve the pool.
        callbacks, self._after_commit = self._after_commit, []
        if self._committed and exc_type is None:
            for callback in callbacks:
                await callback()

    async def lock_shop(self, shop_id: int) -> None:
        """Serialise routing decisions of one shop across processes (ROUTE-7). Waits at most
        the lock timeout: behind a stalled holder, the unit of work ends StorageUnavailable."""
        if not self._db.is_sqlite:
            await self.conn.execute(select(func.pg_advisory_xact_lock(shop_id)))

    async def lock_shop_reading(self, shop_id: int, query: Select[Any]) -> Sequence[Row[Any]]:
        """`lock_shop`, and `query`'s rows in the same round trip. On PostgreSQL the lock is
        taken by the statement, whose snapshot is older than the lock: only for what is not
        load (settings), which could as well be read before the lock."""
        if self._db.is_sqlite:
            found: Sequence[Row[Any]] = (await self.conn.execute(query)).all()
            return found
        locked = select(func.pg_advisory_xact_lock(shop_id).label("locked")).cte("shop_locked")
        rows: Sequence[Row[Any]] = (
            await self.conn.execute(query.where(select(1).select_from(locked).exists()))
        ).all()
        if not rows:  # a row came only once the lock was held; with none it may not be
            await self.lock_shop(shop_id)
        return rows

    async def try_lock_shop_reading(
        self, shop_id: int, query: Select[Any]
    ) -> Sequence[Row[Any]] | None:
        """`lock_shop_reading` if the shop's lock is free at once, else None, without waiting
        (`query` is run either way, in the same round trip). The caller may hold row locks:
        never waiting for the shop's lock, it cannot deadlock with a holder of it."""
        if self._db.is_sqlite:  # the writer's lock, held since BEGIN IMMEDIATE
            found: Sequence[Row[Any]] = (await self.conn.execute(query)).all()
            return found
        locked = select(func.pg_try_advisory_xact_lock(shop_id).label("locked")).cte("shop_tried")
        taken = select(locked.c.locked).scalar_subquery().label("kefu_shop_locked")
        rows: Sequence[Row[Any]] = (await self.conn.execute(query.add_columns(taken))).all()
        if not rows:  # no row to carry the answer: ask on its own
            got = await self.conn.scalar(select(func.pg_try_advisory_xact_lock(shop_id)))
            return rows if got else None
        return rows if rows[0].kefu_shop_locked else None

    def on_commit(self, callback: AfterCommit) -> None:
        self._after_commit.append(callback)

    async def commit(self) -> None:
        await self.conn.commit()
        self._committed = True


async def _release(conn: AsyncConnection, *, broken: bool) -> None:
    """Roll back what is open and close; a connection that failed, or fails to roll back, is
    invalidated (closed for good, not returned to the pool)."""
    if not broken:
        try:
            if conn.in_transaction():
                await conn.rollback()
        except Exception:
            broken = True
    if broken:
        with contextlib.suppress(Exception):
            await conn.invalidate()
    with contextlib.suppress(Exception):
        await conn.close()
