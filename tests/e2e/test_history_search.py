"""DATA-5 in the workbench: the history tab's search box finds an ended conversation by a word
the consumer wrote, marks the word, and shows the message as text."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import Server, Watch, field, login

pytestmark = pytest.mark.e2e

SAID = "这件羊绒大衣可以退吗<b>急</b>"


def test_data_5_history_search_box_finds_a_conversation_by_a_word(
    server: Server, new_page: Any, watch: Watch
) -> None:
    agent = new_page(base=server.base)
    login(agent, server, "agent2")
    shopper = new_page(width=1280, height=800)
    shopper.goto(f"{server.base}/demo/shop?shop=1")
    shopper.get_by_test_id("product-card").first.get_by_test_id("ask-product").click()
    widget = shopper.frame_locator("[data-testid=kefu-frame]")
    widget.get_by_test_id("request-human").click()
    agent.get_by_test_id("conversation-item").first.click()
    field(widget, "widget-input").fill(SAID)
    widget.get_by_test_id("widget-send").click()
    expect(agent.get_by_test_id("message-history").get_by_text(SAID)).to_be_visible()
    agent.get_by_test_id("end-button").click()
    agent.locator(".end-confirm .el-button--primary").click()
    expect(agent.get_by_test_id("conversation-pane")).to_have_attribute("data-state", "ended")

    agent.get_by_test_id("tab-history").click()
    field(agent, "history-search-input").fill("绒大衣")
    agent.keyboard.press("Enter")
    hit = agent.get_by_test_id("history-search-hit")
    expect(hit).to_have_count(1)
    expect(hit.locator("mark")).to_have_text("绒大衣")
    expect(hit).to_contain_text("<b>急</b>")  # shown as typed, not as markup
    expect(hit.locator("b")).to_have_count(0)

    field(agent, "history-search-input").fill("火星快递")
    agent.keyboard.press("Enter")
    expect(agent.get_by_test_id("history-search-empty")).to_be_visible()
    field(agent, "history-search-input").fill("绒大衣")
    agent.keyboard.press("Enter")
    agent.get_by_test_id("history-search-hit").first.click()
    expect(agent.get_by_test_id("message-history").get_by_text(SAID)).to_be_visible()
    assert watch.dialogs == []
    assert watch.errors == []
