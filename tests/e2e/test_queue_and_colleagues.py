"""ROUTE-4 queue in the widget; CONV-8 invitations and CONV-9 colleague sessions."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .conftest import PRODUCT, Consumer, Server, Watch, field, login

pytestmark = pytest.mark.e2e


def open_widget(new_page: Any, server: Server) -> Page:
    page: Page = new_page(width=390, height=844)
    page.goto(f"{server.base}/widget?shop=1")
    expect(page.get_by_test_id("widget-status")).not_to_have_attribute("data-state", "none")
    return page


def item(page: Page, conversation_id: int) -> Any:
    return page.locator(
        f"[data-testid=conversation-item][data-conversation-id='{conversation_id}']"
    )


def end_current(page: Page) -> None:
    page.get_by_test_id("end-button").click()
    page.locator(".end-confirm .el-button--primary").click()
    expect(page.get_by_test_id("conversation-pane")).to_have_attribute("data-state", "ended")


def test_queue_position_service_and_leaving(server: Server, new_page: Any, watch: Watch) -> None:
    agent = new_page(base=server.base)
    login(agent, server, "agent2")
    # PRES-2 in the header: one conversation at a time.
    limit = field(agent, "reception-limit")
    limit.fill("1")
    limit.press("Enter")
    expect(agent.get_by_test_id("current-load")).to_have_text("接待中 0/1")

    first = open_widget(new_page, server)
    first.get_by_test_id("request-human").click()
    expect(first.get_by_test_id("widget-status")).to_have_attribute("data-state", "assigned")
    expect(agent.get_by_test_id("conversation-item")).to_have_count(1)

    # The agent is full: the second consumer waits, first in line, with an estimate.
    second = open_widget(new_page, server)
    second.get_by_test_id("request-human").click()
    expect(second.get_by_test_id("widget-status")).to_have_attribute("data-state", "queued")
    queue = second.get_by_role("status").filter(has=second.get_by_test_id("queue-wait"))
    expect(queue).to_be_visible()
    expect(queue).to_contain_text("第 1 位")
    expect(second.get_by_test_id("queue-wait")).to_be_visible()
    expect(second.get_by_test_id("queue-wait")).not_to_be_empty()
    expect(agent.get_by_test_id("conversation-item")).to_have_count(1)

    # The first conversation ends: the waiting consumer is served at once.
    agent.get_by_test_id("conversation-item").first.click()
    end_current(agent)
    expect(second.get_by_test_id("widget-status")).to_have_attribute("data-state", "assigned")
    expect(second.get_by_test_id("queue-status")).to_be_hidden()
    expect(second.get_by_test_id("widget-status")).to_contain_text("阿杰")
    expect(agent.locator("[data-testid=conversation-item][data-state=assigned]")).to_have_count(1)
    ids_before = [
        agent.get_by_test_id("conversation-item").nth(i).get_attribute("data-conversation-id")
        for i in range(agent.get_by_test_id("conversation-item").count())
    ]

    # A third consumer queues, then leaves: the conversation ends and never reaches the agent.
    third = open_widget(new_page, server)
    third.get_by_test_id("request-human").click()
    expect(third.get_by_test_id("widget-status")).to_have_attribute("data-state", "queued")
    expect(third.get_by_test_id("queue-status")).to_contain_text("第 1 位")
    third.get_by_role("button", name="退出排队").click()
    expect(third.get_by_test_id("widget-status")).to_have_attribute("data-state", "ended")
    expect(third.get_by_test_id("queue-status")).to_be_hidden()
    agent.wait_for_timeout(500)
    ids_after = [
        agent.get_by_test_id("conversation-item").nth(i).get_attribute("data-conversation-id")
        for i in range(agent.get_by_test_id("conversation-item").count())
    ]
    assert ids_after == ids_before
    agent.get_by_test_id("tab-history").click()
    expect(agent.get_by_test_id("conversation-item")).to_have_count(1)
    assert watch.dialogs == []
    assert watch.errors == []


def test_invited_colleague_speaks_to_the_consumer(
    server: Server, new_page: Any, watch: Watch
) -> None:
    a = new_page(base=server.base)
    login(a, server, "agent2")
    b = new_page(base=server.base)
    login(b, server, "agent1", online=False)

    consumer = Consumer(server)
    consumer.open(PRODUCT)
    conv = consumer.request_human()
    assert conv["agent_name"] == "阿杰"
    expect(b.get_by_test_id("conversation-item")).to_have_count(0)

    # CONV-8: A invites B from the conversation pane.
    item(a, conv["id"]).click()
    a.get_by_test_id("invite-button").click()
    dialog = a.get_by_role("dialog")
    dialog.get_by_test_id("pick-agent-agent1").click()
    dialog.get_by_test_id("picker-confirm").click()
    expect(dialog).to_be_hidden()

    # B has it in their own list at once and can speak; the consumer hears B.
    expect(item(b, conv["id"])).to_be_visible()
    item(b, conv["id"]).click()
    expect(b.get_by_test_id("readonly-notice")).to_be_hidden()
    field(b, "message-input").fill("主管小美也来帮您看看")
    b.keyboard.press("Enter")
    consumer.wait_for(
        lambda f: f["type"] == "message" and f["message"]["body"] == "主管小美也来帮您看看"
    )
    expect(a.get_by_test_id("message-history").get_by_text("主管小美也来帮您看看")).to_be_visible()
    consumer.close()
    assert watch.dialogs == []
    assert watch.errors == []


def test_conv_9_supervisor_joins_a_colleague_session(
    server: Server, new_page: Any, watch: Watch
) -> None:
    colleague = new_page(base=server.base)
    login(colleague, server, "agent2")
    boss = new_page(base=server.base)
    login(boss, server, "agent1", online=False)

    consumer = Consumer(server)
    consumer.open(PRODUCT)
    conv = consumer.request_human()
    consumer.send("羽绒服什么时候发货？")
    item(colleague, conv["id"]).click()

    # CONV-9: the colleague-sessions tab lists it; the supervisor reads but cannot type.
    boss.get_by_test_id("tab-colleagues").click()
    expect(item(boss, conv["id"])).to_be_visible()
    item(boss, conv["id"]).click()
    history = boss.get_by_test_id("message-history")
    expect(history.get_by_text("羽绒服什么时候发货？")).to_be_visible()
    expect(boss.get_by_test_id("readonly-notice")).to_be_visible()
    expect(field(boss, "message-input")).to_be_disabled()
    expect(boss.get_by_test_id("send-button")).to_be_disabled()

    boss.get_by_test_id("join-button").click()
    expect(boss.get_by_test_id("join-button")).to_be_hidden()
    expect(boss.get_by_test_id("readonly-notice")).to_be_hidden()
    expect(field(boss, "message-input")).to_be_enabled()
    field(boss, "message-input").fill("今天下午就发")
    boss.keyboard.press("Enter")
    expect(history.get_by_text("今天下午就发")).to_be_visible()
    consumer.wait_for(lambda f: f["type"] == "message" and f["message"]["body"] == "今天下午就发")
    expect(colleague.get_by_test_id("message-history").get_by_text("今天下午就发")).to_be_visible()
    consumer.close()
    assert watch.dialogs == []
    assert watch.errors == []
