"""ENTRY-3, MSG-1: the demo's buyer sends an order card from the widget's "+" panel, the agent
sees it and answers with a product link found by search, and the buyer sees the link."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from kefu.services.accounts import identity_signature

from .conftest import Server, Watch, field, login

pytestmark = pytest.mark.e2e


def _buyer_token(server: Server) -> str:
    """The demo's buyer (who has orders), signed in as the shop's own site would sign them."""
    uid, nickname, ts = "demo-buyer", "买家小王", int(time.time())
    sig = identity_signature(server.shop_secret(), uid, nickname, ts)
    identity = {"uid": uid, "nickname": nickname, "ts": ts, "sig": sig}
    answer = httpx.post(
        f"{server.base}/api/consumer/session", json={"shop_id": 1, "identity": identity}
    )
    answer.raise_for_status()
    return str(answer.json()["token"])


def test_entry_3_order_card_and_product_link_between_buyer_and_agent(
    server: Server, new_page: Any, watch: Watch
) -> None:
    agent = new_page(base=server.base)
    login(agent, server, "agent2")

    shopper = new_page(width=420, height=760)
    shopper.add_init_script(f"localStorage.setItem('kefu.consumer.1', '{_buyer_token(server)}')")
    shopper.goto(f"{server.base}/widget?shop=1&source=product")
    shopper.get_by_test_id("request-human").click()
    expect(shopper.get_by_test_id("widget-status")).to_have_attribute("data-state", "assigned")

    shopper.get_by_test_id("card-panel-button").click()
    order = shopper.locator("[data-testid=send-order-card][data-order-no=DD20261000]")
    expect(order).to_be_visible()
    order.click()

    agent.get_by_test_id("conversation-item").first.click()
    history = agent.get_by_test_id("message-history")
    card = history.locator("[data-testid=card-message][data-kind=order_card]")
    expect(card.get_by_test_id("card-order-no")).to_contain_text("DD20261000")
    expect(card.get_by_test_id("card-item-count")).to_contain_text("1")
    expect(card.get_by_test_id("card-amount")).to_have_text("¥399.00")

    agent.get_by_test_id("product-link-button").click()
    search = field(agent, "product-search")
    search.fill("耳机")
    search.press("Enter")
    pick = agent.locator("[data-testid=send-product-link][data-product-id=p-1002]")
    expect(pick).to_have_count(1)
    expect(agent.get_by_test_id("send-product-link")).to_have_count(1)
    pick.click()

    link = shopper.get_by_test_id("widget-messages").locator(
        "[data-testid=card-message][data-kind=product_link]"
    )
    expect(link.get_by_test_id("card-title")).to_have_text("无线降噪蓝牙耳机 长续航")
    expect(link.get_by_test_id("card-price")).to_have_text("¥259.00")
    expect(link.get_by_test_id("card-title")).to_have_attribute("href", "/demo/shop?shop=1#p-1002")
    assert watch.missing_keys == [], watch.missing_keys
    assert watch.dialogs == []
    assert watch.errors == []


def test_api_2_owner_creates_a_token_shown_once_and_revokes_it(
    server: Server, new_page: Any, watch: Watch
) -> None:
    owner = new_page(base=server.base)
    login(owner, server, "owner", online=False)
    owner.goto(f"{server.base}/settings/tokens")
    field(owner, "token-name").fill("ERP")
    owner.get_by_test_id("token-create").click()
    value = owner.get_by_test_id("token-value").inner_text()
    assert value.startswith("kefu_")
    bearer = {"authorization": f"Bearer {value}"}
    assert httpx.get(f"{server.base}/api/catalog/products", headers=bearer).status_code == 200
    owner.get_by_test_id("token-revoke").click()
    owner.locator(".el-message-box .el-button--primary").click()
    expect(owner.get_by_test_id("token-revoke")).to_have_count(0)
    assert httpx.get(f"{server.base}/api/catalog/products", headers=bearer).status_code == 401
    owner.reload()
    expect(owner.get_by_test_id("token-table")).to_contain_text("ERP")
    expect(owner.get_by_test_id("token-value")).to_have_count(0)
    assert watch.missing_keys == [], watch.missing_keys
    assert watch.errors == []
