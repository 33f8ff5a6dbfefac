"""DESK-5 and CONV-6 in the browser: an agent finds the demo buyer by nickname and starts a
conversation; the side panel shows the buyer's orders and last conversation (opened read-only),
and the profile the agent edits is still there after a reload."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .conftest import Server, Watch, field, login

pytestmark = pytest.mark.e2e

BUYER = "买家小王"


def _earlier_conversation(server: Server) -> None:
    """agent2 reached out to the demo buyer before, and ended that conversation."""
    agent2 = server.staff("agent2")
    found = agent2.get("/api/customers/search", params={"q": BUYER}).json()["items"]
    assert [c["nickname"] for c in found] == [BUYER]
    started = agent2.post(f"/api/customers/{found[0]['id']}/conversations")
    started.raise_for_status()
    agent2.post(f"/api/conversations/{started.json()['id']}/end").raise_for_status()
    agent2.close()


def _start_with_buyer(page: Page) -> None:
    page.get_by_test_id("proactive-open").click()
    dialog = page.get_by_test_id("proactive-dialog")
    field(dialog, "proactive-query").fill("小王")
    dialog.get_by_test_id("proactive-search").click()
    result = dialog.get_by_test_id("proactive-result").filter(has_text=BUYER)
    expect(result).to_have_count(1)
    result.get_by_test_id("proactive-start").click()
    expect(page.get_by_test_id("side-nickname")).to_have_text(BUYER)


def test_desk_5_side_panel_shows_orders_conversations_and_keeps_the_profile(
    server: Server, new_page: Any, watch: Watch
) -> None:
    _earlier_conversation(server)
    page = new_page(base=server.base)
    login(page, server, "agent1")
    _start_with_buyer(page)

    panel = page.get_by_test_id("customer-panel")
    orders = panel.get_by_test_id("customer-order")
    expect(orders).to_have_count(3)
    expect(orders.first).to_contain_text("DD20261000")  # the newest first
    recent = panel.get_by_test_id("recent-conversation")
    expect(recent).to_have_count(1)
    recent.first.click()
    drawer = page.get_by_test_id("past-conversation")
    expect(drawer.locator("[data-notice='conversation.proactive_started']")).to_have_count(1)
    expect(drawer.locator("[data-notice='conversation.ended']")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(drawer).to_be_hidden()

    field(panel, "profile-phone").fill("138-0013-8000")
    field(panel, "profile-notes").fill("喜欢绿茶，<b>不要</b>打电话")
    panel.get_by_test_id("profile-tags").click()
    page.keyboard.type("回头客")
    page.keyboard.press("Enter")
    expect(panel.locator("[data-testid=profile-tags] .el-tag")).to_contain_text("回头客")
    panel.get_by_test_id("profile-save").click()
    expect(page.locator(".el-message--success").last).to_be_visible()  # an earlier one may fade

    page.reload()
    page.get_by_test_id("conversation-item").filter(has_text=BUYER).first.click()
    panel = page.get_by_test_id("customer-panel")
    expect(field(panel, "profile-phone")).to_have_value("138-0013-8000")
    expect(field(panel, "profile-notes")).to_have_value("喜欢绿茶，<b>不要</b>打电话")
    expect(panel.locator("[data-testid=profile-tags] .el-tag")).to_contain_text("回头客")
    expect(panel.get_by_test_id("customer-order")).to_have_count(3)
    assert watch.dialogs == []
    assert watch.errors == []
    assert watch.missing_keys == []


def test_desk_5_the_trail_shows_the_shop_pages_the_consumer_visited(
    server: Server, new_page: Any, watch: Watch
) -> None:
    agent = new_page(base=server.base)
    login(agent, server, "agent1")
    shopper = new_page(width=1280, height=800)
    shopper.goto(f"{server.base}/demo/shop?shop=1")
    shopper.get_by_test_id("product-card").first.wait_for()
    shopper.evaluate("location.hash = '#sizes'")
    shopper.get_by_test_id("product-card").first.get_by_test_id("ask-product").click()
    widget = shopper.frame_locator("[data-testid=kefu-frame]")
    expect(widget.get_by_test_id("widget-status")).to_have_attribute("data-state", "bot")
    widget.get_by_test_id("request-human").click()
    expect(widget.get_by_test_id("widget-status")).to_have_attribute("data-state", "assigned")

    agent.get_by_test_id("conversation-item").first.click()
    pages = agent.get_by_test_id("trail-pages").locator("li")
    expect(pages).to_have_count(2)  # the shop's page, then the same page at #sizes
    expect(pages.locator("a[href$='#sizes']")).to_have_count(1)
    expect(pages.last).to_contain_text("正在浏览")
    expect(pages.first.locator("a")).to_have_attribute("href", f"{server.base}/demo/shop?shop=1")
    assert watch.dialogs == []
    assert watch.errors == []
