"""A consumer asks about a product; the agent sees it at once and serves it to the end."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import Server, Watch, field, login

pytestmark = pytest.mark.e2e


def test_product_consultation_reaches_agent_and_ends_in_history(
    server: Server, new_page: Any, watch: Watch
) -> None:
    agent = new_page(base=server.base)
    login(agent, server, "agent2")

    shopper = new_page(width=1280, height=800)
    shopper.goto(f"{server.base}/demo/shop?shop=1")
    first = shopper.get_by_test_id("product-card").first
    title = first.get_by_test_id("product-title").inner_text()
    first.get_by_test_id("ask-product").click()
    widget = shopper.frame_locator("[data-testid=kefu-frame]")
    expect(widget.get_by_test_id("context-product-title")).to_have_text(title)
    expect(widget.get_by_test_id("widget-status")).to_have_attribute("data-state", "bot")

    widget.get_by_test_id("request-human").click()
    asked = time.monotonic()
    item = agent.get_by_test_id("conversation-item").first
    expect(item).to_be_visible(timeout=1000)
    assert time.monotonic() - asked < 1.5
    expect(widget.get_by_test_id("widget-status")).to_have_attribute("data-state", "assigned")

    item.click()
    expect(
        agent.get_by_test_id("context-panel").get_by_test_id("context-product-title")
    ).to_have_text(title)

    field(widget, "widget-input").fill("这件羽绒服有黑色吗？")
    widget.get_by_test_id("widget-send").click()
    history = agent.get_by_test_id("message-history")
    expect(history.get_by_text("这件羽绒服有黑色吗？")).to_be_visible()

    field(agent, "message-input").fill("有的，黑色 M 码有货")
    agent.keyboard.press("Enter")
    expect(
        widget.get_by_test_id("widget-messages").get_by_text("有的，黑色 M 码有货")
    ).to_be_visible()

    agent.get_by_test_id("end-button").click()
    agent.locator(".end-confirm .el-button--primary").click()
    expect(agent.get_by_test_id("conversation-pane")).to_have_attribute("data-state", "ended")
    expect(widget.get_by_test_id("widget-status")).to_have_attribute("data-state", "ended")

    agent.get_by_test_id("tab-history").click()
    expect(agent.get_by_test_id("conversation-item")).to_have_count(1)
    expect(agent.get_by_test_id("conversation-item").first).to_have_attribute("data-state", "ended")
    assert watch.dialogs == []
    assert watch.errors == []
