"""The demo as a newcomer meets it (issue 10): the bot answers first from the seeded knowledge
base, and the widget never says the bot is serving once the owner has switched it off."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .conftest import Server, Watch, field, login

pytestmark = pytest.mark.e2e

BOT_STATUS = "智能助手为您服务"
SHIPPING = "现货订单付款后 48 小时内发货，预售商品按页面标注的时间发货。"


def ask(widget: Page, text: str) -> None:
    field(widget, "widget-input").fill(text)
    widget.get_by_test_id("widget-send").click()


def bot_answers(widget: Page) -> Any:
    return widget.locator("[data-testid=message][data-sender=bot]")


def test_bot_1_demo_consumer_is_answered_by_the_seeded_bot(
    server: Server, new_page: Any, watch: Watch
) -> None:
    phone = new_page(width=390, height=844)
    phone.goto(f"{server.base}/widget?shop=1")
    status = phone.get_by_test_id("widget-status")
    expect(status).to_have_attribute("data-state", "bot")
    expect(status).to_have_text(BOT_STATUS)
    expect(phone.get_by_test_id("entry-speaker")).to_have_attribute("data-bot", "1")

    # A question in words of the consumer's own, none of the seeded phrasings verbatim.
    ask(phone, "请问几天能发货呀")
    expect(bot_answers(phone).filter(has_text=SHIPPING)).to_have_count(1)
    expect(status).to_have_attribute("data-state", "bot")
    assert watch.dialogs == []
    assert watch.errors == []


def test_widget_never_says_the_bot_serves_when_it_is_off(
    server: Server, new_page: Any, watch: Watch
) -> None:
    owner = new_page(base=server.base)
    login(owner, server, "owner", online=False)
    owner.goto(f"{server.base}/settings/bot")
    switch = owner.get_by_test_id("bot-enabled")
    expect(switch).to_have_class(re.compile(r"\bis-checked\b"))
    switch.click()
    expect(owner.locator(".el-message--success").last).to_be_visible()
    expect(switch).not_to_have_class(re.compile(r"\bis-checked\b"))
    agent = new_page(base=server.base)
    login(agent, server, "agent1")

    phone = new_page(width=390, height=844)
    phone.goto(f"{server.base}/widget?shop=1")
    status = phone.get_by_test_id("widget-status")
    # Nobody has the conversation yet; the bot does not claim it.
    expect(status).to_have_attribute("data-state", "bot")
    expect(status).to_have_text("发送消息即可联系人工客服")
    speaker = phone.get_by_test_id("entry-speaker")
    expect(speaker).to_have_attribute("data-bot", "0")
    expect(speaker).to_contain_text("小鹿优选旗舰店")
    expect(phone.get_by_test_id("faq-menu")).to_have_count(0)
    expect(phone.get_by_test_id("bot-cards")).to_have_count(0)

    ask(phone, "你们一般发什么快递")
    expect(status).to_have_attribute("data-state", "assigned")
    expect(agent.get_by_test_id("conversation-item")).to_have_count(1)
    expect(bot_answers(phone)).to_have_count(0)
    expect(phone.get_by_text(BOT_STATUS)).to_have_count(0)
    expect(phone.get_by_text("智能助手")).to_have_count(0)
    assert watch.dialogs == []
    assert watch.errors == []


def test_acct_1_demo_shop_opens_the_widget_as_its_signed_in_vip_buyer(
    server: Server, new_page: Any, watch: Watch
) -> None:
    """Issue 10: the demo buyer has a shop-signed identity, so the widget opened from the demo
    shop's page chats as 买家小王 (VIP, with orders), and the agent's workbench shows them."""
    agent = server.staff("agent2", limit=5)
    page = new_page()
    page.goto(f"{server.base}/demo/shop?shop=1")
    page.get_by_test_id("buyer-sign-in").click()
    expect(page.get_by_test_id("buyer-sign-out")).to_be_visible()
    page.get_by_test_id("kefu-launcher").click()
    widget = page.frame_locator("[data-testid=kefu-frame]")
    widget.get_by_test_id("request-human").click()
    field(widget, "widget-input").fill("我的订单什么时候发货")
    widget.get_by_test_id("widget-send").click()
    expect(widget.locator("[data-testid=message][data-sender=consumer]")).to_have_count(1)

    mine: list[dict[str, Any]] = []
    for _ in range(50):
        mine = agent.get("/api/conversations", params={"scope": "mine"}).json()["items"]
        if mine:
            break
        page.wait_for_timeout(100)
    (conversation,) = mine
    assert conversation["consumer"]["nickname"] == "买家小王"
    assert conversation["consumer"]["is_vip"] is True
    assert watch.errors == []
    agent.close()
