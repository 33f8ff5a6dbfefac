"""MSG-2: a consumer's socket drops; messages sent meanwhile on both sides arrive once, in order."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import WebSocketRoute, expect

from .conftest import PRODUCT, Server, Watch, field, login

pytestmark = pytest.mark.e2e


def test_consumer_network_drop_loses_and_duplicates_nothing(
    server: Server, new_page: Any, watch: Watch
) -> None:
    agent = new_page(base=server.base)
    login(agent, server, "agent2")

    phone = new_page(width=390, height=844)
    network = {"on": True}
    live: list[tuple[WebSocketRoute, WebSocketRoute]] = []

    def handler(ws: WebSocketRoute) -> None:
        if not network["on"]:
            ws.close(code=4000, reason="offline")
            return
        srv = ws.connect_to_server()
        ws.on_message(lambda m: srv.send(m) if network["on"] else None)
        srv.on_message(lambda m: ws.send(m) if network["on"] else None)
        live.append((ws, srv))

    phone.route_web_socket("**/ws/consumer", handler)
    phone.goto(f"{server.base}/widget?shop=1&source=product&product={quote(json.dumps(PRODUCT))}")
    phone.get_by_test_id("request-human").click()
    expect(phone.get_by_test_id("widget-status")).to_have_attribute("data-state", "assigned")
    agent.get_by_test_id("conversation-item").first.click()

    def consumer_says(text: str) -> None:
        field(phone, "widget-input").fill(text)
        phone.get_by_test_id("widget-send").click()

    def agent_says(text: str) -> None:
        field(agent, "message-input").fill(text)
        agent.keyboard.press("Enter")

    consumer_says("c1")
    expect(agent.get_by_test_id("message-history").get_by_text("c1", exact=True)).to_be_visible()
    agent_says("a1")
    expect(phone.get_by_test_id("widget-messages").get_by_text("a1", exact=True)).to_be_visible()

    # The network goes away: the open socket is cut and new ones are refused.
    network["on"] = False
    for ws, srv in live:
        ws.close(code=4000, reason="offline")
        srv.close()
    live.clear()
    expect(phone.get_by_test_id("reconnecting-banner")).to_be_visible()
    consumer_says("c2")
    agent_says("a2")
    consumer_says("c3")
    agent_says("a3")
    phone.wait_for_timeout(1500)

    network["on"] = True
    expect(phone.get_by_test_id("reconnecting-banner")).to_be_hidden(timeout=15000)
    wanted = ["c1", "a1", "c2", "a2", "c3", "a3"]

    def texts(page: Any, scope: str) -> list[str]:
        items = page.get_by_test_id(scope).locator("[data-testid=message][data-sender]")
        out = []
        for i in range(items.count()):
            el = items.nth(i)
            if el.get_attribute("data-sender") == "system":
                continue
            out.append(el.get_by_test_id("message-body").inner_text())
        return out

    for _ in range(60):
        got = texts(phone, "widget-messages")
        if sorted(got) == sorted(wanted):
            break
        phone.wait_for_timeout(250)
    consumer_view = texts(phone, "widget-messages")
    agent_view = texts(agent, "message-history")
    # Each once; each side's own messages in the order they were typed, and both
    # sides agree on one order (the server's seq).
    assert sorted(consumer_view) == sorted(wanted), consumer_view
    assert consumer_view == agent_view
    assert [t for t in consumer_view if t.startswith("c")] == ["c1", "c2", "c3"]
    assert [t for t in consumer_view if t.startswith("a")] == ["a1", "a2", "a3"]
    seqs = phone.get_by_test_id("widget-messages").locator("[data-testid=message]")
    numbers = [int(seqs.nth(i).get_attribute("data-seq") or 0) for i in range(seqs.count())]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert watch.dialogs == []
