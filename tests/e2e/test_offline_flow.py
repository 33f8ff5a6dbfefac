"""OFFL-1..3 and ROUTE-5 in the browser: a consumer with nobody online leaves a message that an
agent later answers from the offline tab; a blacklisted consumer reaches nobody."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .conftest import Server, Watch, field, login

pytestmark = pytest.mark.e2e


def open_widget(new_page: Any, server: Server) -> Page:
    page: Page = new_page(width=390, height=844)
    page.goto(f"{server.base}/widget?shop=1")
    expect(page.get_by_test_id("widget-status")).not_to_have_attribute("data-state", "none")
    return page


def say(widget: Page, text: str) -> None:
    field(widget, "widget-input").fill(text)
    widget.get_by_test_id("widget-send").click()
    expect(widget.get_by_test_id("widget-messages")).to_contain_text(text)


def test_offl_1_a_message_left_with_nobody_online_is_started_from_the_offline_tab(
    server: Server, new_page: Any, watch: Watch
) -> None:
    owner = server.staff("owner", online=False)
    try:
        answer = owner.put("/api/shop/settings", json={"offline_when_nobody_online": True})
        assert answer.status_code == 200, answer.text
    finally:
        owner.close()

    widget = open_widget(new_page, server)
    widget.get_by_test_id("request-human").click()
    status = widget.get_by_test_id("widget-status")
    expect(status).to_have_attribute("data-state", "offline")
    expect(widget.get_by_test_id("offline-hint")).to_be_visible()
    expect(widget.get_by_test_id("widget-messages")).to_contain_text("当前暂无客服在线")
    say(widget, "我的快递一直没到，请回电")  # not a dead queue: the message is taken

    agent = new_page(base=server.base)
    login(agent, server, "agent2")
    expect(agent.get_by_test_id("offline-count")).to_have_text("1")
    agent.get_by_test_id("tab-offline").click()
    expect(agent.get_by_test_id("offline-entry")).to_have_count(1)
    agent.get_by_test_id("offline-open").click()
    history = agent.get_by_test_id("offline-history")
    expect(history).to_contain_text("我的快递一直没到，请回电")
    agent.get_by_test_id("offline-start-one").click()

    pane = agent.get_by_test_id("conversation-pane")
    expect(pane).to_have_attribute("data-state", "assigned")
    expect(status).to_have_attribute("data-state", "assigned")
    expect(widget.get_by_test_id("widget-messages")).to_contain_text("看到了您的留言")
    expect(widget.get_by_test_id("offline-hint")).to_be_hidden()
    expect(agent.get_by_test_id("offline-count")).to_be_hidden()
    assert watch.dialogs == [] and watch.missing_keys == [] and watch.errors == []


def test_desk_7_route_5_blacklisted_from_the_conversation_the_consumer_reaches_nobody(
    server: Server, new_page: Any, watch: Watch
) -> None:
    agent = new_page(base=server.base)
    login(agent, server, "agent2")
    widget = open_widget(new_page, server)
    widget.get_by_test_id("request-human").click()
    status = widget.get_by_test_id("widget-status")
    expect(status).to_have_attribute("data-state", "assigned")

    agent.get_by_test_id("conversation-item").first.click()
    agent.get_by_test_id("blacklist-button").click()
    field(agent, "blacklist-reason").fill("<b>骚扰</b> 客服")
    agent.get_by_test_id("blacklist-confirm").click()
    expect(agent.get_by_test_id("blacklist-dialog")).to_be_hidden()
    agent.get_by_test_id("end-button").click()
    agent.locator(".end-confirm .el-button--primary").click()
    expect(agent.get_by_test_id("conversation-pane")).to_have_attribute("data-state", "ended")
    expect(status).to_have_attribute("data-state", "ended")

    widget.get_by_test_id("request-human").click()
    expect(status).to_have_attribute("data-state", "offline")
    expect(widget.get_by_test_id("widget-messages")).to_contain_text("当前暂无客服在线")
    agent.wait_for_timeout(500)
    expect(agent.locator("[data-testid=conversation-item][data-state=assigned]")).to_have_count(0)

    # The owner sees the entry, its reason as text, and lifts it.
    owner = new_page(base=server.base)
    login(owner, server, "owner", online=False)
    owner.goto(f"{server.base}/settings/blacklist")
    table = owner.get_by_test_id("blacklist-table")
    expect(table).to_contain_text("<b>骚扰</b> 客服")
    owner.get_by_test_id("blacklist-remove").click()
    expect(table).not_to_contain_text("骚扰")
    assert watch.dialogs == [] and watch.missing_keys == [] and watch.errors == []
