"""MSG-1: system notices are shown in each viewer's language, on the workbench and the widget."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from .conftest import Server, Watch, login, set_status

pytestmark = pytest.mark.e2e

HAN = re.compile(r"[\u4e00-\u9fff]")
# Latin display names, so that an English notice has no Chinese at all, names included.
NAMES = {"agent1": "Mei", "agent2": "Jay"}
TRANSFERRED = {
    "en-US": "Jay transferred the conversation to Mei.",
    "zh-CN": "Jay已将会话转接给Mei。",
}
ENDED = {
    "en-US": "This conversation has ended. Thank you for contacting us.",
    "zh-CN": "本次会话已结束，感谢您的咨询。",
}


class Workbench:
    def __init__(self, page: Page) -> None:
        self.page = page

    def switch_to(self, locale: str) -> None:
        self.page.get_by_test_id(f"lang-{locale}").click()
        expect(self.page.locator("html")).to_have_attribute("lang", locale)

    def item(self, conversation_id: str) -> Locator:
        return self.page.locator(
            f"[data-testid=conversation-item][data-conversation-id='{conversation_id}']"
        )

    def open(self, conversation_id: str) -> None:
        self.item(conversation_id).click()
        expect(self.page.get_by_test_id("conversation-pane")).to_have_attribute(
            "data-conversation-id", conversation_id
        )

    def transfer_to(self, username: str) -> None:
        self.page.get_by_test_id("transfer-button").click()
        self.page.get_by_test_id(f"pick-agent-{username}").click()
        self.page.get_by_test_id("picker-confirm").click()

    def accept_transfer(self) -> None:
        self.page.get_by_test_id("transfer-accept").click()

    def end_current(self) -> None:
        self.page.get_by_test_id("end-button").click()
        self.page.locator(".end-confirm .el-button--primary").click()
        expect(self.page.get_by_test_id("conversation-pane")).to_have_attribute(
            "data-state", "ended"
        )

    def notice(self, code: str) -> Locator:
        return _notice(self.page.get_by_test_id("message-history"), code)

    def preview(self, conversation_id: str) -> Locator:
        return self.item(conversation_id).get_by_test_id("item-last-message")


class Widget:
    def __init__(self, page: Page) -> None:
        self.page = page

    def switch_to(self, locale: str) -> None:
        self.page.get_by_test_id(f"lang-{locale}").click()
        expect(self.page.locator("html")).to_have_attribute("lang", locale)

    def request_human(self) -> None:
        self.page.get_by_test_id("request-human").click()
        expect(self.page.get_by_test_id("widget-status")).to_have_attribute(
            "data-state", "assigned"
        )

    def notice(self, code: str) -> Locator:
        return _notice(self.page.get_by_test_id("widget-messages"), code)


def _notice(history: Locator, code: str) -> Locator:
    return history.locator(f"[data-testid=message][data-notice='{code}']").get_by_test_id(
        "message-body"
    )


def _rename_agents(server: Server) -> None:
    owner = server.staff("owner", online=False)
    for account in owner.get("/api/agents").json()["items"]:
        if account["username"] in NAMES:
            owner.put(
                f"/api/agents/{account['id']}", json={"display_name": NAMES[account["username"]]}
            ).raise_for_status()
    owner.post("/api/auth/logout")
    owner.close()


def _english_without_chinese(notice: Locator, text: str) -> None:
    expect(notice).to_have_text(text)
    assert not HAN.search(notice.inner_text()), notice.inner_text()


def test_notices_follow_each_viewer_language(server: Server, new_page: Any, watch: Watch) -> None:
    _rename_agents(server)
    jay = Workbench(new_page(base=server.base))
    login(jay.page, server, "agent2")
    mei = Workbench(new_page(base=server.base))
    login(mei.page, server, "agent1", online=False)
    widget_page: Page = new_page(width=390, height=844)
    widget_page.goto(f"{server.base}/widget?shop=1")
    widget = Widget(widget_page)
    for side in (jay, mei, widget):
        side.switch_to("en-US")

    # Jay is the only one online, so he serves the consumer, then transfers to Mei.
    widget.request_human()
    item = jay.page.get_by_test_id("conversation-item")
    expect(item).to_have_count(1)
    cid = str(item.first.get_attribute("data-conversation-id"))
    jay.open(cid)
    set_status(mei.page, "online")
    jay.transfer_to("agent1")
    mei.accept_transfer()
    mei.open(cid)
    for side in (mei, widget):
        _english_without_chinese(side.notice("conversation.transferred"), TRANSFERRED["en-US"])

    # Mei ends it: the end notice, and her list's preview of it, are English too.
    mei.end_current()
    for notice in (mei.notice("conversation.ended"), widget.notice("conversation.ended")):
        _english_without_chinese(notice, ENDED["en-US"])
    _english_without_chinese(mei.preview(cid), ENDED["en-US"])

    # Back in Chinese, the same messages read in Chinese on both sides.
    for side in (mei, widget):
        side.switch_to("zh-CN")
        expect(side.notice("conversation.transferred")).to_have_text(TRANSFERRED["zh-CN"])
        expect(side.notice("conversation.ended")).to_have_text(ENDED["zh-CN"])
    expect(mei.preview(cid)).to_have_text(ENDED["zh-CN"])
    assert watch.missing_keys == [], watch.missing_keys
    assert watch.dialogs == []
    assert watch.errors == []
