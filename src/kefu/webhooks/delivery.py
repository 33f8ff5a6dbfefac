"""Delivering the outbox (API-2): claim due deliveries, send each once, then log the attempt
and settle it: delivered on a 2xx, else retried on domain.BACKOFF's schedule until
domain.MAX_ATTEMPTS, then failed. Nothing is held open across a send: the claim commits first
(and leases the row, so a process that dies mid-send leaves it to be retried), the result is
written in a second transaction."""

from __future__ import annotations

import asyncio
import ssl
from datetime import datetime, timedelta

import httpx
import structlog

from kefu import __version__, errors
from kefu.services.context import Context
from kefu.storage import webhooks as store
from kefu.storage.webhooks import AttemptResult, ClaimedDelivery
from kefu.webhooks.domain import (
    DeliveryStatus,
    IpAddress,
    Target,
    check_url,
    is_success,
    retry_after,
    signature_header,
    signing_secrets,
)
from kefu.webhooks.resolve import checked_addresses
from kefu.webhooks.sealing import SecretUnreadable, unseal

log = structlog.get_logger(__name__)
CLAIM_BATCH = 50
PRUNE_BATCH = 1000
USER_AGENT = f"kefu-webhooks/{__version__}"


def new_client(timeout_s: float, *, verify: ssl.SSLContext | bool = True) -> httpx.AsyncClient:
    """The delivery client: no redirects followed, no proxy from the environment (it would
    connect somewhere other than the checked address), one timeout for each phase, and no
    connection kept for reuse: connections are by address, and one made (and its TLS
    certificate checked) for one name must not carry another name's requests."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
        verify=verify,
    )


async def deliver_due(ctx: Context, client: httpx.AsyncClient, *, limit: int = CLAIM_BATCH) -> int:
    """API-2: send the deliveries due now; returns how many were attempted."""
    now = ctx.clock.now()
    lease = timedelta(seconds=3 * ctx.settings.webhook_timeout_s + 30)
    async with ctx.db.read() as tx:
        if not await store.any_due(tx.conn, now):
            return 0
    async with ctx.db.uow() as tx:
        claimed = await store.claim_due(tx.conn, now, lease_until=now + lease, limit=limit)
        await tx.commit()
    if not claimed:
        return 0
    results = await asyncio.gather(*(attempt(ctx, client, d) for d in claimed))
    async with ctx.db.uow() as tx:
        for delivery, result in zip(claimed, results, strict=True):
            status, next_at = _outcome(delivery, result)
            await store.settle(tx.conn, delivery, result, status=status, next_attempt_at=next_at)
            if status is DeliveryStatus.FAILED:
                log.warning(
                    "webhook delivery failed", shop_id=delivery.shop_id,
                    endpoint_id=delivery.endpoint_id, event_id=delivery.event_id,
                    attempts=delivery.attempt, status_code=result.status_code, error=result.error,
                )  # fmt: skip
        await tx.commit()
    return len(claimed)


async def prune_log(ctx: Context) -> int:
    """API-2: forget settled deliveries older than KEFU_WEBHOOK_LOG_DAYS; how many went."""
    before = ctx.clock.now() - timedelta(days=ctx.settings.webhook_log_days)
    pruned = 0
    while True:
        async with ctx.db.uow() as tx:
            count = await store.prune(tx.conn, before=before, limit=PRUNE_BATCH)
            await tx.commit()
        pruned += count
        if count < PRUNE_BATCH:
            return pruned


def _outcome(
    delivery: ClaimedDelivery, result: AttemptResult
) -> tuple[DeliveryStatus, datetime | None]:
    if result.status_code is not None and is_success(result.status_code):
        return DeliveryStatus.DELIVERED, None
    wait = retry_after(delivery.attempt)
    if wait is None:
        return DeliveryStatus.FAILED, None
    return DeliveryStatus.PENDING, result.at + wait


async def attempt(
    ctx: Context, client: httpx.AsyncClient, delivery: ClaimedDelivery
) -> AttemptResult:
    """One signed POST to a checked address of the endpoint's host; never raises for the
    receiver's or the network's failures, which are the attempt's result."""
    started = ctx.clock.now()
    status_code: int | None = None
    error: str | None = None
    try:
        target = check_url(delivery.url)
        addresses = await checked_addresses(target, ctx.settings.webhook_allow_nets)
        status_code = await _post(ctx, client, delivery, target, addresses, started)
    except errors.KefuError as exc:
        error = exc.code  # webhook.address_refused, webhook.unresolvable, webhook.bad_url
    except SecretUnreadable:
        error = "secret_unreadable"  # the server's key changed: the secret needs rotating
    except httpx.TimeoutException:
        error = "timeout"
    except httpx.HTTPError as exc:
        error = "connection: " + type(exc).__name__
    ended = ctx.clock.now()
    duration_ms = max(0, round((ended - started).total_seconds() * 1000))
    return AttemptResult(started, status_code, error, duration_ms)


async def _post(
    ctx: Context,
    client: httpx.AsyncClient,
    delivery: ClaimedDelivery,
    target: Target,
    addresses: list[IpAddress],
    now: datetime,
) -> int:
    """Connect to the checked addresses in turn (the next only when one refuses the
    connection), never by name: the name could resolve differently a second time."""
    body = delivery.body.encode()
    timestamp = int(now.timestamp())
    server_key = ctx.settings.signing_key
    previous = delivery.previous_secret
    keys = signing_secrets(
        unseal(delivery.secret, server_key),
        unseal(previous, server_key) if previous is not None else None,
        delivery.previous_secret_until,
        now,
    )
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if ":" not in target.host else f"[{target.host}]"
    if target.port != default_port:
        host_header += f":{target.port}"
    headers = {
        "host": host_header,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": delivery.event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            keys, event_id=delivery.event_id, timestamp=timestamp, body=body
        ),
    }
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    last: httpx.ConnectError | None = None
    for address in addresses:
        literal = str(address) if address.version == 4 else f"[{address}]"
        url = f"{target.scheme}://{literal}:{target.port}{target.path}"
        try:
            response = await client.post(url, content=body, headers=headers, extensions=extensions)
        except httpx.ConnectError as exc:
            last = exc
            continue
        return response.status_code
    assert last is not None  # check_addresses returns at least one address
    raise last
