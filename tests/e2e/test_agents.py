"""Two agents: routing to the freer one, transfer accepted and declined; smart switch and Esc."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from .conftest import PRODUCT, Consumer, Server, Watch, field, login, sign_identity

pytestmark = pytest.mark.e2e


def owner_of(page: Page) -> int:
    return page.get_by_test_id("conversation-item").count()


def item(page: Page, conversation_id: int) -> Locator:
    return page.locator(
        f"[data-testid=conversation-item][data-conversation-id='{conversation_id}']"
    )


def transfer_to(page: Page, username: str) -> None:
    page.get_by_test_id("transfer-button").click()
    page.get_by_test_id(f"pick-agent-{username}").click()
    page.get_by_test_id("picker-confirm").click()


def test_freer_agent_gets_next_and_transfers(server: Server, new_page: Any, watch: Watch) -> None:
    a1 = new_page(base=server.base)
    login(a1, server, "agent1")
    a2 = new_page(base=server.base)
    login(a2, server, "agent2")

    first = Consumer(server)
    first.open(PRODUCT)
    conv1 = first.request_human()
    busy, free = (a1, a2) if conv1["agent_id"] == 2 else (a2, a1)
    expect(busy.get_by_test_id("conversation-item")).to_have_count(1)

    # ROUTE-1: the next consumer goes to the agent with the higher idle rate.
    second = Consumer(server)
    second.open(PRODUCT)
    conv2 = second.request_human()
    assert conv2["agent_id"] != conv1["agent_id"]
    expect(free.get_by_test_id("conversation-item")).to_have_count(1)
    expect(busy.get_by_test_id("conversation-item")).to_have_count(1)

    # Transfer with accept: the conversation moves to the receiver, the sender is told.
    busy.get_by_test_id("conversation-item").first.click()
    transfer_to(busy, "agent2" if busy is a1 else "agent1")
    expect(free.get_by_test_id("incoming-transfer")).to_be_visible()
    free.get_by_test_id("transfer-accept").click()
    expect(busy.locator(".transfer-result.transfer-accepted")).to_be_visible()
    expect(free.get_by_test_id("conversation-item")).to_have_count(2)
    expect(busy.get_by_test_id("conversation-item")).to_have_count(0)
    expect(
        free.locator(f"[data-testid=conversation-item][data-conversation-id='{conv1['id']}']")
    ).to_be_visible()

    # Transfer with decline: the conversation stays, the sender is told.
    free.locator(f"[data-testid=conversation-item][data-conversation-id='{conv2['id']}']").click()
    transfer_to(free, "agent1" if free is a2 else "agent2")
    expect(busy.get_by_test_id("incoming-transfer")).to_be_visible()
    busy.get_by_test_id("transfer-decline").click()
    expect(free.locator(".transfer-result.transfer-declined")).to_be_visible()
    expect(free.get_by_test_id("conversation-item")).to_have_count(2)
    for c in (first, second):
        c.close()
    assert watch.dialogs == []


def test_desk_3_smart_switch_and_escape(server: Server, new_page: Any, watch: Watch) -> None:
    agent = new_page(base=server.base)
    login(agent, server, "agent2")

    waiting_longest = Consumer(server)
    waiting_longest.open(PRODUCT)
    waiting_longest.request_human()
    waiting_longest.send("我先来的")
    agent.wait_for_timeout(1100)
    vip = Consumer(server, identity=sign_identity(server, "demo-buyer", "买家小王"))
    vip.open(PRODUCT)
    c_vip = vip.request_human()
    assert c_vip["consumer"]["is_vip"] is True
    vip.send("我是 VIP")
    agent.wait_for_timeout(1100)
    chatty = Consumer(server)
    chatty.open(PRODUCT)
    c_chatty = chatty.request_human()
    for i in range(3):
        chatty.send(f"第 {i} 条")
    expect(agent.get_by_test_id("conversation-item")).to_have_count(3)

    pane = agent.get_by_test_id("conversation-pane")
    # DESK-3: VIP first …
    agent.keyboard.press("Control+Tab")
    expect(pane).to_have_attribute("data-conversation-id", str(c_vip["id"]))
    field(agent, "message-input").fill("您好，VIP 客户")
    agent.keyboard.press("Enter")
    expect(agent.get_by_test_id("message-history").get_by_text("您好，VIP 客户")).to_be_visible()
    # The reply shows at once as pending; the smart switch reads the server's answer to it.
    expect(item(agent, c_vip["id"])).to_have_class(re.compile(r"\btone-replied\b"))
    # … then the longest waiting …
    agent.keyboard.press("Control+Tab")
    c_first = waiting_longest.conversation
    assert c_first is not None
    expect(pane).to_have_attribute("data-conversation-id", str(c_first["id"]))
    field(agent, "message-input").fill("您好")
    agent.keyboard.press("Enter")
    expect(agent.get_by_test_id("message-history").get_by_text("您好", exact=True)).to_be_visible()
    expect(item(agent, c_first["id"])).to_have_class(re.compile(r"\btone-replied\b"))
    agent.keyboard.press("Control+Tab")
    expect(pane).to_have_attribute("data-conversation-id", str(c_chatty["id"]))

    # Esc closes the current conversation once it has ended; "close all ended" the rest.
    agent.get_by_test_id("end-button").click()
    agent.locator(".end-confirm .el-button--primary").click()
    expect(pane).to_have_attribute("data-state", "ended")
    field(agent, "message-input").blur()
    agent.keyboard.press("Escape")
    expect(agent.get_by_test_id("conversation-item")).to_have_count(2)
    expect(agent.get_by_test_id("no-conversation")).to_be_visible()

    agent.locator(f"[data-testid=conversation-item][data-conversation-id='{c_vip['id']}']").click()
    agent.get_by_test_id("end-button").click()
    agent.locator(".end-confirm .el-button--primary").click()
    expect(pane).to_have_attribute("data-state", "ended")
    agent.get_by_test_id("close-all-ended").click()
    expect(agent.get_by_test_id("conversation-item")).to_have_count(1)
    for c in (waiting_longest, vip, chatty):
        c.close()
    assert watch.dialogs == []
