"""Screenshots of the workbench (1366×768) and the widget (390×844) with live conversations."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from .conftest import PRODUCT, SCREENSHOTS, Consumer, Server, Watch, field, login, sign_identity

pytestmark = pytest.mark.e2e

PRODUCTS = [
    {
        "id": "p-1002",
        "title": "无线降噪蓝牙耳机 长续航",
        "price": "259.00",
        "url": "https://shop.example/x",
    },
    {
        "id": "p-1003",
        "title": "有机高山绿茶 250g 礼盒装",
        "price": "128.00",
        "url": "https://shop.example/x",
    },
    {
        "id": "p-1005",
        "title": "智能体脂秤 蓝牙连接 家用",
        "price": "119.00",
        "url": "https://shop.example/x",
    },
    PRODUCT,
]
QUESTIONS = [
    "耳机能连两台手机吗？",
    "绿茶是今年的新茶吗",
    "体脂秤支持几个人用？",
    "羽绒服会掉毛吗？",
]


def test_screenshots(server: Server, new_page: Any, watch: Watch) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    agent = new_page(base=server.base)
    login(agent, server, "agent2")
    agent.get_by_test_id("reception-limit").locator("input").fill("8")
    agent.get_by_test_id("reception-limit").locator("input").press("Enter")

    consumers = []
    vip = Consumer(server, identity=sign_identity(server, "demo-buyer", "买家小王"))
    vip.open(PRODUCTS[0])
    vip.request_human()
    vip.send(QUESTIONS[0])
    consumers.append(vip)
    for product, question in zip(PRODUCTS[1:], QUESTIONS[1:], strict=True):
        c = Consumer(server)
        c.open(product)
        c.request_human()
        c.send(question)
        consumers.append(c)
    expect(agent.get_by_test_id("conversation-item")).to_have_count(len(consumers))

    # A fresh consumer in the widget, served by the same agent.
    phone = new_page(width=390, height=844)
    phone.goto(f"{server.base}/widget?shop=1&source=product&product={quote(json.dumps(PRODUCT))}")
    expect(phone.get_by_test_id("widget-status")).to_have_attribute("data-state", "bot")
    phone.get_by_test_id("request-human").click()
    expect(phone.get_by_test_id("widget-status")).to_have_attribute("data-state", "assigned")
    field(phone, "widget-input").fill("你好，这款羽绒服 160 的身高穿什么码？")
    phone.get_by_test_id("widget-send").click()

    expect(agent.get_by_test_id("conversation-item")).to_have_count(len(consumers) + 1)
    agent.get_by_test_id("conversation-item").first.click()
    expect(agent.get_by_test_id("message-history").get_by_text("160 的身高")).to_be_visible()
    field(agent, "message-input").fill("您好！160 的身高建议选 M 码，偏宽松可以选 S 码。")
    agent.keyboard.press("Enter")
    expect(phone.get_by_test_id("widget-messages").get_by_text("建议选 M 码")).to_be_visible()
    field(phone, "widget-input").fill("好的，那黑色还有")
    expect(agent.get_by_test_id("typing-preview")).to_contain_text("黑色还有")

    agent.wait_for_timeout(300)
    agent.screenshot(path=str(SCREENSHOTS / "workbench-1366x768.png"))
    phone.screenshot(path=str(SCREENSHOTS / "widget-390x844.png"))
    for c in consumers:
        c.close()
    assert watch.dialogs == []
    assert watch.errors == []
