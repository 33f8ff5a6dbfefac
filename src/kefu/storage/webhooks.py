"""What signed webhooks read and write (API-2): endpoints, the outbox of deliveries and each
attempt. `record_event` is called by any use case inside its own unit of work, so that the
outbox row commits or rolls back with the event; the delivery worker claims due rows (FOR
UPDATE SKIP LOCKED on PostgreSQL, SQLite's single writer) so several processes share them.
No HTTP here: sending is the worker's (webhooks/worker.py)."""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.storage import tables as t
from kefu.storage.db import Database
from kefu.webhooks.domain import DeliveryStatus

_w = t.webhook_endpoints.c
_d = t.webhook_deliveries.c
_a = t.webhook_attempts.c

# How long a process trusts what it read of a shop's subscriptions: a change made by another
# process reaches this one's events within it (the saving process forgets at once).
SUBSCRIPTIONS_TTL = timedelta(seconds=5)


@dataclass(frozen=True, slots=True)
class EndpointRecord:
    id: int
    shop_id: int
    url: str
    events: tuple[str, ...]
    is_enabled: bool
    secret: str
    previous_secret: str | None
    previous_secret_until: datetime | None
    created_at: datetime
    updated_at: datetime


def _endpoint(row: Row[Any]) -> EndpointRecord:
    values = row._mapping
    return EndpointRecord(
        id=values["id"],
        shop_id=values["shop_id"],
        url=values["url"],
        events=tuple(values["events"]),
        is_enabled=values["is_enabled"],
        secret=values["secret"],
        previous_secret=values["previous_secret"],
        previous_secret_until=values["previous_secret_until"],
        created_at=values["created_at"],
        updated_at=values["updated_at"],
    )


async def add_endpoint(
    conn: AsyncConnection,
    shop_id: int,
    *,
    url: str,
    events: Sequence[str],
    is_enabled: bool,
    secret: str,
    now: datetime,
) -> EndpointRecord:
    row = (
        await conn.execute(
            insert(t.webhook_endpoints)
            .values(
                shop_id=shop_id,
                url=url,
                events=list(events),
                is_enabled=is_enabled,
                secret=secret,
                created_at=now,
                updated_at=now,
            )
            .returning(*t.webhook_endpoints.c)
        )
    ).one()
    return _endpoint(row)


async def endpoints(conn: AsyncConnection, shop_id: int) -> list[EndpointRecord]:
    rows = await conn.execute(
        select(t.webhook_endpoints).where(_w.shop_id == shop_id).order_by(_w.id)
    )
    return [_endpoint(r) for r in rows]


async def endpoint_count(conn: AsyncConnection, shop_id: int) -> int:
    found = await conn.scalar(
        select(func.count()).select_from(t.webhook_endpoints).where(_w.shop_id == shop_id)
    )
    return int(found or 0)


async def endpoint(
    conn: AsyncConnection, shop_id: int, endpoint_id: int, *, for_update: bool = False
) -> EndpointRecord | None:
    """The shop's endpoint; None when missing or another shop's (ACCT-5)."""
    query = select(t.webhook_endpoints).where(_w.id == endpoint_id, _w.shop_id == shop_id)
    if for_update and conn.dialect.name != "sqlite":
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return _endpoint(row) if row is not None else None


async def update_endpoint(
    conn: AsyncConnection, shop_id: int, endpoint_id: int, **values: Any
) -> EndpointRecord:
    if "events" in values:
        values["events"] = list(values["events"])
    row = (
        await conn.execute(
            update(t.webhook_endpoints)
            .where(_w.id == endpoint_id, _w.shop_id == shop_id)
            .values(**values)
            .returning(*t.webhook_endpoints.c)
        )
    ).one()
    return _endpoint(row)


async def delete_endpoint(conn: AsyncConnection, shop_id: int, endpoint_id: int) -> None:
    """The endpoint with its delivery log; undelivered events to it are dropped."""
    deliveries = select(_d.id).where(_d.endpoint_id == endpoint_id, _d.shop_id == shop_id)
    await conn.execute(delete(t.webhook_attempts).where(_a.delivery_id.in_(deliveries)))
    await conn.execute(
        delete(t.webhook_deliveries).where(_d.endpoint_id == endpoint_id, _d.shop_id == shop_id)
    )
    await conn.execute(
        delete(t.webhook_endpoints).where(_w.id == endpoint_id, _w.shop_id == shop_id)
    )


# --- the outbox ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Subscriptions:
    loaded_at: datetime
    # (endpoint id, its events) of the shop's enabled endpoints.
    endpoints: tuple[tuple[int, frozenset[str]], ...]


# Per engine (one per app instance), per shop: what `record_event` last read. Keyed weakly, so
# an engine disposed of takes its cache with it and a new app instance starts empty.
_subscriptions: weakref.WeakKeyDictionary[Engine, dict[int, _Subscriptions]] = (
    weakref.WeakKeyDictionary()
)


def forget_subscriptions(db: Database, shop_id: int) -> None:
    """After an endpoint of the shop changed (and committed): the next event reads them again."""
    _subscriptions.get(db.engine.sync_engine, {}).pop(shop_id, None)


async def record_event(
    conn: AsyncConnection,
    *,
    shop_id: int,
    event: str,
    data: Mapping[str, Any],
    now: datetime,
) -> str | None:
    """API-2: an outbox row per enabled endpoint of the shop subscribed to `event`, in the
    caller's transaction; the event id, or None when nobody subscribed. A shop whose
    subscriptions were read within SUBSCRIPTIONS_TTL costs no query."""
    targets = [
        endpoint_id
        for endpoint_id, events in await _subscribed(conn, shop_id, now)
        if event in events
    ]
    if not targets:
        return None
    event_id = "evt_" + uuid.uuid4().hex
    body = orjson.dumps(
        {
            "id": event_id,
            "type": event,
            "created_at": now,
            "shop_id": shop_id,
            "data": data,
        }
    ).decode()
    await conn.execute(
        insert(t.webhook_deliveries),
        [
            {
                "shop_id": shop_id,
                "endpoint_id": endpoint_id,
                "event_id": event_id,
                "event": event,
                "body": body,
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for endpoint_id in targets
        ],
    )
    return event_id


async def nobody_subscribed(
    db: Database, shop_ids: Iterable[int], event: str, now: datetime
) -> bool:
    """True when none of these shops has an enabled endpoint subscribed to `event`, by what
    this process read within SUBSCRIPTIONS_TTL (reading, on a connection of its own, only the
    shops it has not read since)."""
    cache = _subscriptions.setdefault(db.engine.sync_engine, {})
    stale = [
        shop_id
        for shop_id in shop_ids
        if (found := cache.get(shop_id)) is None
        or not found.loaded_at <= now < found.loaded_at + SUBSCRIPTIONS_TTL
    ]
    if stale:
        async with db.read() as tx:
            for shop_id in stale:
                await _subscribed(tx.conn, shop_id, now)
    return not any(
        event in events for shop_id in shop_ids for _, events in cache[shop_id].endpoints
    )


async def _subscribed(
    conn: AsyncConnection, shop_id: int, now: datetime
) -> tuple[tuple[int, frozenset[str]], ...]:
    cache = _subscriptions.setdefault(conn.sync_engine, {})
    found = cache.get(shop_id)
    if found is not None and found.loaded_at <= now < found.loaded_at + SUBSCRIPTIONS_TTL:
        return found.endpoints
    rows = await conn.execute(
        select(_w.id, _w.events).where(_w.shop_id == shop_id, _w.is_enabled.is_(True))
    )
    loaded = tuple((int(r.id), frozenset(r.events)) for r in rows)
    cache[shop_id] = _Subscriptions(now, loaded)
    return loaded


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    id: int
    shop_id: int
    endpoint_id: int
    event_id: str
    event: str
    body: str
    attempt: int  # this attempt's number, from 1
    created_at: datetime
    url: str
    secret: str
    previous_secret: str | None
    previous_secret_until: datetime | None


async def any_due(conn: AsyncConnection, now: datetime) -> bool:
    """Whether a pending delivery is due by `now`: a hint, read without locking, so that an
    idle tick takes no write lock (SQLite's is the whole database's)."""
    found = await conn.scalar(
        select(_d.id)
        .join_from(t.webhook_deliveries, t.webhook_endpoints, _w.id == _d.endpoint_id)
        .where(
            _d.status == DeliveryStatus.PENDING.value,
            _d.next_attempt_at <= now,
            _w.is_enabled.is_(True),
        )
        .limit(1)
    )
    return found is not None


async def claim_due(
    conn: AsyncConnection, now: datetime, *, lease_until: datetime, limit: int
) -> list[ClaimedDelivery]:
    """Pending deliveries of enabled endpoints due by `now`, earliest first, that no other
    process holds; each is moved to `lease_until` and counts its attempt, so that another
    process retries it then should this one die meanwhile (at least once)."""
    query = (
        select(
            _d.id,
            _d.shop_id,
            _d.endpoint_id,
            _d.event_id,
            _d.event,
            _d.body,
            _d.attempts,
            _d.created_at,
            _w.url,
            _w.secret,
            _w.previous_secret,
            _w.previous_secret_until,
        )
        .join_from(t.webhook_deliveries, t.webhook_endpoints, _w.id == _d.endpoint_id)
        .where(
            _d.status == DeliveryStatus.PENDING.value,
            _d.next_attempt_at <= now,
            _w.is_enabled.is_(True),
        )
        .order_by(_d.next_attempt_at, _d.id)
        .limit(limit)
    )
    if conn.dialect.name != "sqlite":
        query = query.with_for_update(skip_locked=True, of=t.webhook_deliveries)
    rows = (await conn.execute(query)).all()
    if not rows:
        return []
    await conn.execute(
        update(t.webhook_deliveries)
        .where(_d.id.in_([r.id for r in rows]))
        .values(next_attempt_at=lease_until, attempts=_d.attempts + 1)
    )
    return [
        ClaimedDelivery(
            id=r.id,
            shop_id=r.shop_id,
            endpoint_id=r.endpoint_id,
            event_id=r.event_id,
            event=r.event,
            body=r.body,
            attempt=r.attempts + 1,
            created_at=r.created_at,
            url=r.url,
            secret=r.secret,
            previous_secret=r.previous_secret,
            previous_secret_until=r.previous_secret_until,
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class AttemptResult:
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


async def settle(
    conn: AsyncConnection,
    delivery: ClaimedDelivery,
    result: AttemptResult,
    *,
    status: DeliveryStatus,
    next_attempt_at: datetime | None,
) -> bool:
    """Log the attempt, and leave the delivery delivered, failed, or pending until
    `next_attempt_at`. False, and nothing written, when the delivery is no longer this
    attempt's: its endpoint was deleted meanwhile, or its lease ran out and another process
    claimed it again."""
    error = result.error[:200] if result.error is not None else None
    changed = await conn.execute(
        update(t.webhook_deliveries)
        .where(
            _d.id == delivery.id,
            _d.attempts == delivery.attempt,
            _d.status == DeliveryStatus.PENDING.value,
        )
        .values(
            status=status.value,
            next_attempt_at=next_attempt_at,
            last_attempt_at=result.at,
            last_status_code=result.status_code,
            last_error=error,
        )
    )
    if changed.rowcount == 0:
        return False
    await conn.execute(
        insert(t.webhook_attempts).values(
            delivery_id=delivery.id,
            shop_id=delivery.shop_id,
            attempt=delivery.attempt,
            at=result.at,
            status_code=result.status_code,
            error=error,
            duration_ms=result.duration_ms,
        )
    )
    return True


# --- the delivery log ---------------------------------------------------------------------


async def prune(conn: AsyncConnection, *, before: datetime, limit: int) -> int:
    """Delete up to `limit` settled deliveries (delivered or failed) of events before
    `before`, with their attempts; pending ones stay whatever their age. How many went."""
    ids = [
        r.id
        for r in await conn.execute(
            select(_d.id)
            .where(_d.created_at < before, _d.status != DeliveryStatus.PENDING.value)
            .order_by(_d.created_at)
            .limit(limit)
        )
    ]
    if ids:
        await conn.execute(delete(t.webhook_attempts).where(_a.delivery_id.in_(ids)))
        await conn.execute(delete(t.webhook_deliveries).where(_d.id.in_(ids)))
    return len(ids)


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    id: int
    event_id: str
    event: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    attempt_log: tuple[AttemptRecord, ...]


async def deliveries(
    conn: AsyncConnection, shop_id: int, endpoint_id: int, *, limit: int, offset: int
) -> tuple[list[DeliveryRecord], int]:
    """The endpoint's deliveries, latest first, each with its attempts; and their total."""
    where = (_d.shop_id == shop_id, _d.endpoint_id == endpoint_id)
    total = await conn.scalar(select(func.count()).select_from(t.webhook_deliveries).where(*where))
    rows = (
        await conn.execute(
            select(
                _d.id,
                _d.event_id,
                _d.event,
                _d.status,
                _d.attempts,
                _d.created_at,
                _d.next_attempt_at,
                _d.last_attempt_at,
                _d.last_status_code,
                _d.last_error,
            )
            .where(*where)
            .order_by(_d.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    log: dict[int, list[AttemptRecord]] = {r.id: [] for r in rows}
    if log:
        attempts = await conn.execute(
            select(_a.delivery_id, _a.attempt, _a.at, _a.status_code, _a.error, _a.duration_ms)
            .where(_a.delivery_id.in_(list(log)))
            .order_by(_a.delivery_id, _a.attempt, _a.id)
        )
        for a in attempts:
            log[a.delivery_id].append(
                AttemptRecord(a.attempt, a.at, a.status_code, a.error, a.duration_ms)
            )
    items = [
        DeliveryRecord(
            id=r.id,
            event_id=r.event_id,
            event=r.event,
            status=r.status,
            attempts=r.attempts,
            created_at=r.created_at,
            next_attempt_at=r.next_attempt_at,
            last_attempt_at=r.last_attempt_at,
            last_status_code=r.last_status_code,
            last_error=r.last_error,
            attempt_log=tuple(log[r.id]),
        )
        for r in rows
    ]
    return items, int(total or 0)
