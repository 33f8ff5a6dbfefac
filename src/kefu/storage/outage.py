"""The outage model: what a failing database raises, translated to one KefuError.

An unreachable server, a refused or dropped connection, a terminated backend, a statement,
lock or pool timeout, and a full disk are all `StorageUnavailable` (code `unavailable`,
`params.retryable` true): the request changed nothing it was told about, and resending it is
safe (MSG-2 replays a message whose commit did go through). Everything else (constraint
violations, SQL errors: bugs) is left as it is. Only storage knows the drivers' exceptions;
services, the gateway and the API see KefuErrors.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from sqlalchemy import exc as sa_exc

from kefu import telemetry
from kefu.errors import KefuError, StorageUnavailable

# PostgreSQL SQLSTATEs of a passing condition: connection exceptions (08), insufficient
# resources (53: disk full, out of memory, too many connections), operator intervention (57:
# admin or crash shutdown, cannot connect now, statement_timeout's query_canceled),
# lock_not_available (lock_timeout), serialization failures and deadlocks (40001, 40P01).
_PG_CAUSES: tuple[tuple[str, str], ...] = (
    ("53100", "full"),
    ("57014", "timeout"),
    ("55P03", "timeout"),
    ("40001", "busy"),
    ("40P01", "busy"),
    ("08", "connection"),
    ("53", "busy"),
    ("57P", "connection"),
)

# SQLite's passing conditions, by message (sqlite3 gives no codes before Python 3.11's
# sqlite_errorcode, and aiosqlite passes the messages through).
_SQLITE_CAUSES: tuple[tuple[str, str], ...] = (
    ("database or disk is full", "full"),
    ("database is locked", "busy"),
    ("database table is locked", "busy"),
    ("disk i/o error", "connection"),
    ("unable to open database file", "connection"),
)

# asyncpg's client-side failures of a connection, by class name (asyncpg is imported only by
# SQLAlchemy's dialect): a closed or terminated connection, a lost or failed one.
_DRIVER_CONNECTION_ERRORS = frozenset(
    {"ConnectionDoesNotExistError", "ConnectionFailureError", "InterfaceError"}
)


def translate(error: BaseException) -> StorageUnavailable | None:
    """The outage `error` means, or None when it is not one."""
    cause = outage_cause(error)
    if cause is None:
        return None
    telemetry.DATABASE_ERRORS.labels(cause=cause).inc()
    return StorageUnavailable(cause=cause)


def outage_cause(error: BaseException) -> str | None:
    """`connection`, `timeout`, `busy` or `full` when `error` (or what it wraps) is an outage.
    A KefuError is an answer already, never an outage to translate."""
    if isinstance(error, KefuError):
        return None
    for found in _chain(error):
        cause = _cause_of(found)
        if cause is not None:
            return cause
    return None


def is_broken_connection(error: BaseException) -> bool:
    """The connection that raised `error` cannot be trusted again (lost, or a client-side
    timeout left a statement running): it is discarded instead of returned to the pool."""
    for found in _chain(error):
        if isinstance(found, sa_exc.DBAPIError) and found.connection_invalidated:
            return True
        if isinstance(found, OSError):  # TimeoutError too
            return True
        if type(found).__name__ in _DRIVER_CONNECTION_ERRORS:
            return True
    return False


def _chain(error: BaseException) -> Iterator[BaseException]:
    """`error`, the driver error SQLAlchemy wraps, and their causes and contexts."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        found = pending.pop(0)
        if id(found) in seen:
            continue
        seen.add(id(found))
        yield found
        if isinstance(found, sa_exc.DBAPIError) and isinstance(found.orig, BaseException):
            pending.append(found.orig)
        for linked in (found.__cause__, found.__context__):
            if linked is not None:
                pending.append(linked)


def _cause_of(error: BaseException) -> str | None:
    if isinstance(error, sa_exc.TimeoutError | TimeoutError):
        return "timeout"  # the pool's checkout, asyncpg's connect or command timeout
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return "connection"
    if isinstance(error, sqlite3.OperationalError):
        text = str(error).lower()
        return next((cause for part, cause in _SQLITE_CAUSES if part in text), None)
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        return next((cause for code, cause in _PG_CAUSES if sqlstate.startswith(code)), None)
    if type(error).__name__ in _DRIVER_CONNECTION_ERRORS and "asyncpg" in type(error).__module__:
        return "connection"
    if isinstance(error, OSError):
        return "connection"  # refused, reset, unreachable, name resolution
    return None
