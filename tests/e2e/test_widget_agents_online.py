"""ROUTE-4 in the widget (issue 10): a queued consumer is told honestly when no agent of the
group is there, instead of an invented or pending estimate."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .conftest import Server, Watch, field, login, set_status

pytestmark = pytest.mark.e2e


def _widget(new_page: Any, server: Server) -> Page:
    page: Page = new_page(width=390, height=844)
    page.goto(f"{server.base}/widget?shop=1")
    expect(page.get_by_test_id("widget-status")).not_to_have_attribute("data-state", "none")
    return page


def test_route_4_the_widget_says_when_no_agent_is_online(
    server: Server, new_page: Any, watch: Watch
) -> None:
    agent = new_page(base=server.base)
    login(agent, server, "agent2")
    limit = field(agent, "reception-limit")
    limit.fill("1")
    limit.press("Enter")
    expect(agent.get_by_test_id("current-load")).to_have_text("接待中 0/1")

    first = _widget(new_page, server)
    first.get_by_test_id("request-human").click()
    expect(first.get_by_test_id("widget-status")).to_have_attribute("data-state", "assigned")
    second = _widget(new_page, server)
    second.get_by_test_id("request-human").click()
    expect(second.get_by_test_id("widget-status")).to_have_attribute("data-state", "queued")
    wait = second.get_by_test_id("queue-wait")
    expect(wait).not_to_contain_text("没有客服在线")

    set_status(agent, "busy")  # busy agents take no one: nobody is there for the queue
    expect(wait).to_contain_text("当前没有客服在线")
    expect(second.get_by_test_id("queue-status")).to_contain_text("第 1 位")
    set_status(agent, "online")
    expect(wait).not_to_contain_text("没有客服在线")
    assert watch.dialogs == [] and watch.errors == [] and watch.missing_keys == []
