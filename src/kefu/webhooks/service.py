"""Use cases of signed webhooks (API-2): the owner's endpoints (owner only, at most
KEFU_WEBHOOK_MAX_ENDPOINTS per shop, secrets shown once) and their delivery log. Target
addresses are checked here at save; delivery.py checks them again before each attempt."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from kefu import errors
from kefu.services.access import require_owner
from kefu.services.context import Context, Staff
from kefu.storage import webhooks as store
from kefu.storage.db import Connection
from kefu.storage.webhooks import DeliveryRecord, EndpointRecord
from kefu.webhooks.domain import (
    ROTATION_OVERLAP,
    SECRET_BYTES,
    check_events,
    check_url,
    make_secret,
)
from kefu.webhooks.resolve import checked_addresses
from kefu.webhooks.sealing import seal


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    items: list[DeliveryRecord]
    total: int


async def list_endpoints(ctx: Context, staff: Staff) -> list[EndpointRecord]:
    """API-2: the shop's endpoints (never their secrets: the API shapes them without)."""
    require_owner(staff)
    async with ctx.db.read() as tx:
        return await store.endpoints(tx.conn, staff.shop_id)


async def create_endpoint(
    ctx: Context, staff: Staff, *, url: str, events: Sequence[str], is_enabled: bool = True
) -> tuple[EndpointRecord, str]:
    """API-2: a new endpoint and its signing secret, which is returned this once."""
    require_owner(staff)
    chosen = check_events(events)
    await _check_target(ctx, url)
    secret = make_secret(secrets.token_bytes(SECRET_BYTES))
    limit = ctx.settings.webhook_max_endpoints
    async with ctx.db.uow() as tx:
        await tx.lock_shop(staff.shop_id)
        if await store.endpoint_count(tx.conn, staff.shop_id) >= limit:
            raise errors.Conflict(
                "Too many webhook endpoints; delete one first.",
                code="webhook.limit",
                max_endpoints=limit,
            )
        record = await store.add_endpoint(
            tx.conn,
            staff.shop_id,
            url=url,
            events=chosen,
            is_enabled=is_enabled,
            secret=seal(secret, ctx.settings.signing_key),
            now=ctx.clock.now(),
        )
        await tx.commit()
    store.forget_subscriptions(ctx.db, staff.shop_id)
    return record, secret


async def update_endpoint(
    ctx: Context,
    staff: Staff,
    endpoint_id: int,
    *,
    url: str | None = None,
    events: Sequence[str] | None = None,
    is_enabled: bool | None = None,
) -> EndpointRecord:
    """API-2: change an endpoint's URL (checked again), events or whether it is enabled."""
    require_owner(staff)
    values: dict[str, object] = {}
    if events is not None:
        values["events"] = check_events(events)
    if url is not None:
        await _check_target(ctx, url)
        values["url"] = url
    if is_enabled is not None:
        values["is_enabled"] = is_enabled
    async with ctx.db.uow() as tx:
        await _access_endpoint(tx.conn, staff, endpoint_id)
        record = await store.update_endpoint(
            tx.conn, staff.shop_id, endpoint_id, updated_at=ctx.clock.now(), **values
        )
        await tx.commit()
    store.forget_subscriptions(ctx.db, staff.shop_id)
    return record


async def delete_endpoint(ctx: Context, staff: Staff, endpoint_id: int) -> None:
    """API-2: the endpoint, its delivery log and its undelivered events go."""
    require_owner(staff)
    async with ctx.db.uow() as tx:
        await _access_endpoint(tx.conn, staff, endpoint_id)
        await store.delete_endpoint(tx.conn, staff.shop_id, endpoint_id)
        await tx.commit()
    store.forget_subscriptions(ctx.db, staff.shop_id)


async def rotate_secret(ctx: Context, staff: Staff, endpoint_id: int) -> tuple[EndpointRecord, str]:
    """API-2: a new secret, returned this once; the old one keeps signing beside it for
    ROTATION_OVERLAP (a second rotation within it ends the older overlap)."""
    require_owner(staff)
    secret = make_secret(secrets.token_bytes(SECRET_BYTES))
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        current = await _access_endpoint(tx.conn, staff, endpoint_id, for_update=True)
        record = await store.update_endpoint(
            tx.conn,
            staff.shop_id,
            endpoint_id,
            secret=seal(secret, ctx.settings.signing_key),
            previous_secret=current.secret,
            previous_secret_until=now + ROTATION_OVERLAP,
            updated_at=now,
        )
        await tx.commit()
    return record, secret


async def delivery_log(
    ctx: Context, staff: Staff, endpoint_id: int, *, page: int, page_size: int
) -> DeliveryPage:
    """API-2: the endpoint's deliveries, latest first, with every attempt."""
    require_owner(staff)
    async with ctx.db.read() as tx:
        await _access_endpoint(tx.conn, staff, endpoint_id)
        items, total = await store.deliveries(
            tx.conn, staff.shop_id, endpoint_id, limit=page_size, offset=(page - 1) * page_size
        )
    return DeliveryPage(items, total)


async def _access_endpoint(
    conn: Connection, staff: Staff, endpoint_id: int, *, for_update: bool = False
) -> EndpointRecord:
    """ACCT-5: an endpoint of the caller's shop; another shop's is not_found."""
    found = await store.endpoint(conn, staff.shop_id, endpoint_id, for_update=for_update)
    if found is None:
        raise errors.NotFound(kind="webhook_endpoint", id=endpoint_id)
    return found


async def _check_target(ctx: Context, url: str) -> None:
    """API-2: refused at save when the host is (or resolves to) a non-public address the
    operator's allow-list does not name."""
    await checked_addresses(check_url(url), ctx.settings.webhook_allow_nets)
