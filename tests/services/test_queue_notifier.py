"""ROUTE-4: the queue notifier's refreshes. A refresh that fails while another change has
already scheduled the next one leaves that one pending, which then tells the queue."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kefu import errors
from kefu.clock import FakeClock
from kefu.services import queue_notifier
from kefu.services.queue_notifier import QueueNotifier
from kefu.services.routing import QueuePlace
from kefu.storage.db import Database
from support import service_context


async def test_route_4_a_failed_refresh_leaves_the_next_one_pending(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx = service_context(Database("sqlite+aiosqlite://"), FakeClock())
    told: list[dict[str, Any]] = []

    async def record(topic: str, event: dict[str, Any]) -> None:
        told.append(event)

    ctx.broker.publish = record  # type: ignore[method-assign]
    notifier = QueueNotifier(ctx, delay_s=0.01)
    calls = 0

    async def snapshot(_ctx: Any, shop_id: int) -> list[QueuePlace]:
        nonlocal calls
        calls += 1
        if calls == 1:  # the queue changes while the first refresh reads, then the read fails
            notifier.changed(shop_id)
            raise errors.StorageUnavailable(cause="timeout")
        return [
            QueuePlace(conversation_id=7, consumer_id=3, position=1, wait_s=30, agents_online=True)
        ]

    monkeypatch.setattr(queue_notifier, "queue_snapshot", snapshot)
    notifier.changed(1)
    for _ in range(100):
        await asyncio.sleep(0.01)
        if told:
            break
    assert calls == 2
    assert [(e["conversation_id"], e["position"]) for e in told] == [(7, 1)]
    assert notifier._pending == {}
