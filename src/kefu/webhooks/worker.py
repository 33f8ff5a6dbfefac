"""The delivery loop (API-2): every process runs one; each tick sends what is due
(delivery.deliver_due), so deliveries due while the server was down go out at start."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

import httpx
import structlog

from kefu import errors
from kefu.services.context import Context
from kefu.webhooks.delivery import CLAIM_BATCH, deliver_due, new_client, prune_log

log = structlog.get_logger(__name__)
# How often each process prunes the delivery log (KEFU_WEBHOOK_LOG_DAYS).
PRUNE_EVERY = timedelta(hours=1)


class WebhookWorker:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._pruned_at: datetime | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = new_client(self._ctx.settings.webhook_timeout_s)
        return self._client

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def tick(self) -> int:
        """Send everything due now, a batch at a time; returns how many were attempted. Also
        prunes the delivery log, at most every PRUNE_EVERY."""
        now = self._ctx.clock.now()
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            await prune_log(self._ctx)
            self._pruned_at = now
        sent = 0
        while (count := await deliver_due(self._ctx, self.client)) > 0:
            sent += count
            if count < CLAIM_BATCH:
                break
        return sent

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except errors.Unavailable as exc:  # the database is out: the next tick retries
                log.warning("webhook tick skipped", error=exc.code, **exc.params)
            except Exception:  # the loop must survive one bad delivery
                log.exception("webhook tick failed")
            await asyncio.sleep(self._ctx.settings.scheduler_interval_s)
