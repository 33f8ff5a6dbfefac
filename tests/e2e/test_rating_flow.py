"""RATE-1, RATE-2, DESK-4, DESK-2, CONV-10 in the browser: the agent invites a rating, the
consumer rates in the widget and is thanked by the agent's name, the agent's header shows the
rating; the agent then writes the consultation summary and the list's flag clears."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import Server, Watch, login

pytestmark = pytest.mark.e2e


def test_rate_1_desk_7_agent_invites_consumer_rates_and_the_header_shows_it(
    server: Server, new_page: Any, watch: Watch
) -> None:
    agent = new_page(base=server.base)
    login(agent, server, "agent2")

    shopper = new_page(width=420, height=760)
    shopper.goto(f"{server.base}/widget?shop=1")
    widget = shopper
    widget.get_by_test_id("request-human").click()
    expect(widget.get_by_test_id("widget-status")).to_have_attribute("data-state", "assigned")

    item = agent.get_by_test_id("conversation-item").first
    expect(item).to_be_visible()
    expect(item.get_by_test_id("flag-needs-summary")).to_be_visible()  # DESK-2
    item.click()
    expect(agent.get_by_test_id("pane-rating")).to_have_attribute("data-stars", "")

    agent.get_by_test_id("invite-rating-button").click()
    card = widget.get_by_test_id("rating-card")
    expect(card).to_be_visible()
    # RATE-2: no default; submitting needs a pick.
    expect(card.get_by_test_id("rating-submit")).to_be_disabled()
    card.get_by_test_id("rating-star-4").click()
    card.get_by_test_id("rating-submit").click()

    thanks = widget.locator("[data-notice='rating.thanks']")
    expect(thanks).to_be_visible()
    expect(thanks).to_contain_text("感谢您对客服")
    expect(widget.get_by_test_id("rating-done")).to_be_visible()
    expect(agent.get_by_test_id("pane-rating")).to_have_attribute("data-stars", "4")

    # CONV-10: the agent picks a leaf of the default tree; the flag clears.
    agent.get_by_test_id("summary-button").click()
    agent.get_by_test_id("summary-form").locator(".el-cascader").click()
    agent.locator(".el-cascader-node").filter(has_text="售前").first.click()
    agent.get_by_test_id("summary-save").click()
    expect(item.get_by_test_id("flag-needs-summary")).to_have_count(0)

    assert watch.dialogs == []
    assert watch.errors == []
    assert watch.missing_keys == []


def test_conv_10_owner_edits_the_tree_and_forces_ratings_on_the_settings_page(
    server: Server, new_page: Any, watch: Watch
) -> None:
    owner = new_page(base=server.base)
    login(owner, server, "owner", online=False)
    owner.goto(f"{server.base}/settings/ratings")
    page = owner.get_by_test_id("ratings-page")
    names = page.get_by_test_id("tree-node-name")
    expect(names).to_have_count(5)  # 售前/售后/投诉/建议/其他
    page.get_by_test_id("tree-add-top").click()
    expect(names).to_have_count(6)
    names.nth(5).fill("物流")
    page.get_by_test_id("rating-forced").click()
    page.get_by_test_id("ratings-save").click()
    expect(owner.locator(".el-message--success").last).to_be_visible()

    api = server.staff("agent2", online=False)
    try:
        settings = api.get("/api/shop/settings").json()
        tree = api.get("/api/summary-categories").json()
    finally:
        api.close()
    assert settings["rating_forced"] is True
    assert [n["name"] for n in tree["nodes"]][-1] == "物流"
    assert watch.errors == []
    assert watch.missing_keys == []
