"""Liveness (/healthz) and readiness (/readyz) for load balancers and orchestrators, and the
process's metrics (/metrics) for the operator's Prometheus. A check that fails is reported
with its cause, never raised: this edge turns every failure of a probe into an answer. Each
check has a short timeout of its own and they run together."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from collections.abc import Awaitable, Callable

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import Response

from kefu import errors, telemetry
from kefu.api import models as m
from kefu.api.deps import ctx_of
from kefu.api.errors import refusals
from kefu.api.responses import JsonOut
from kefu.services.routing import queue_lengths

CHECK_TIMEOUT_S = 1.0

router = APIRouter(tags=["health"], default_response_class=JsonOut)
log = structlog.get_logger(__name__)


@router.get("/healthz", response_model=m.HealthOut)
async def healthz() -> JsonOut:
    return JsonOut({"status": "ok"})


@router.get(
    "/readyz",
    response_model=m.ReadinessOut,
    responses={503: {"model": m.ReadinessOut, "description": "`degraded`: a check failed."}},
)
async def readyz(request: Request) -> JsonOut:
    ctx = ctx_of(request)
    probes: dict[str, Callable[[], Awaitable[None]]] = {"database": ctx.db.ping}
    if ctx.settings.redis_url:
        probes["redis"] = ctx.broker.ping
    results = await asyncio.gather(*(_check(name, probe) for name, probe in probes.items()))
    checks = dict(zip(probes, results, strict=True))
    ready = all(check["status"] == "ok" for check in checks.values())
    return JsonOut(
        {"status": "ready" if ready else "degraded", "checks": checks},
        status_code=200 if ready else 503,
    )


async def _check(name: str, probe: Callable[[], Awaitable[None]]) -> dict[str, str | None]:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await probe()
    except TimeoutError:
        log.warning("readiness check timed out", check=name, timeout_s=CHECK_TIMEOUT_S)
        return {"status": "down", "error": "timeout"}
    except Exception as exc:
        log.warning("readiness check failed", check=name, error=repr(exc))
        return {"status": "down", "error": _cause(exc)}
    return {"status": "ok", "error": None}


def _cause(exc: BaseException) -> str:
    """The innermost error's kind (ConnectionRefusedError, InvalidPasswordError): enough to act
    on, and no host name or address for an unauthenticated caller to read."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return type(exc).__name__


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text exposition (docs/deploy.md lists the metrics).",
        },
        **refusals(403),
    },
)
async def metrics(request: Request) -> Response:
    """The process's metrics, for the operator's Prometheus: with KEFU_METRICS_TOKEN set, to a
    caller sending it as a bearer token; otherwise to callers on the loopback only."""
    ctx = ctx_of(request)
    if not _may_scrape(request, ctx.settings.metrics_token):
        raise errors.Forbidden("Metrics are for the operator.", code="metrics.forbidden")
    body = telemetry.render(await queue_lengths(ctx))
    return Response(
        body, media_type=telemetry.CONTENT_TYPE, headers={"X-Content-Type-Options": "nosniff"}
    )


def _may_scrape(request: Request, token: str | None) -> bool:
    if token is None:
        peer = request.client.host if request.client is not None else ""
        return _is_loopback(peer)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
