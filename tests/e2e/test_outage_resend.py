"""Outages over a socket (docs/protocol.md "Outages"): a frame refused with a retryable
`unavailable` is sent again by the client after `retry_after_s`, and the consumer only sees it
go through. The refusals are the server's exact error frame, put in by the test's proxy."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import WebSocketRoute, expect

from .conftest import PRODUCT, Server, Watch, field, login

pytestmark = pytest.mark.e2e

REFUSAL = {
    "type": "error",
    "code": "unavailable",
    "message": "The database is temporarily unavailable; try again.",
    "params": {"retryable": True, "retry_after_s": 1, "cause": "connection"},
}


def test_route_1_a_refused_human_request_and_message_are_sent_again(
    server: Server, new_page: Any, watch: Watch
) -> None:
    agent = new_page(base=server.base)
    login(agent, server, "agent2")
    phone = new_page(width=390, height=844)
    refuse = {"request_human": 2, "send": 1}  # how many of each to refuse
    seen: dict[str, list[float]] = {"request_human": [], "send": []}

    def handler(ws: WebSocketRoute) -> None:
        srv = ws.connect_to_server()

        def from_client(raw: str | bytes) -> None:
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind in seen:
                seen[kind].append(time.monotonic())
                if refuse[kind] > 0:
                    refuse[kind] -= 1
                    ws.send(json.dumps({**REFUSAL, "ref": frame.get("ref")}))
                    return
            srv.send(raw)

        ws.on_message(from_client)
        srv.on_message(lambda m: ws.send(m))

    phone.route_web_socket("**/ws/consumer", handler)
    phone.goto(f"{server.base}/widget?shop=1&source=product&product={quote(json.dumps(PRODUCT))}")
    phone.get_by_test_id("request-human").click()
    expect(phone.get_by_test_id("widget-status")).to_have_attribute(
        "data-state", "assigned", timeout=15000
    )
    asked = seen["request_human"]
    assert len(asked) == 3  # refused twice, then taken
    # Waited about retry_after_s (1 s ± 20 %), then twice that (2 s ± 20 %).
    assert asked[1] - asked[0] >= 0.5 and asked[2] - asked[1] >= 1.3

    field(phone, "widget-input").fill("还在吗")
    phone.get_by_test_id("widget-send").click()
    agent.get_by_test_id("conversation-item").first.click()
    stored = "[data-testid=message]:not(.pending):not(.failed)"
    history = agent.get_by_test_id("message-history").locator(stored)
    expect(history.filter(has_text="还在吗")).to_have_count(1, timeout=10000)
    mine = phone.get_by_test_id("widget-messages").locator(stored).filter(has_text="还在吗")
    expect(mine).to_have_count(1)
    assert len(seen["send"]) == 2
    expect(phone.locator(".fail, .failed")).to_have_count(0)
    assert watch.errors == []
