"""PRES-1: every third of the grace period, this process writes one sign of life for the
accounts with a staff socket open on it. A process that dies stops beating, and its agents
count as away once the grace period has passed since its last beat."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from kefu.services import presence
from kefu.services.context import Context

log = structlog.get_logger(__name__)


class Heartbeat:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._task: asyncio.Task[None] | None = None

    @property
    def interval_s(self) -> float:
        return self._ctx.settings.presence_grace_s / 3

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="presence-heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await presence.heartbeat(self._ctx)
            except Exception:  # a database outage must not end the beat
                log.warning("presence.heartbeat_failed", exc_info=True)
