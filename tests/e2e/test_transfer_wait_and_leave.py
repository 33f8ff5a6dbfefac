"""CONV-7 and CONV-8 in the workbench (issue 10): while a transfer waits for its answer the
other actions say why they wait and the sender can cancel it; an invited agent leaves the
conversation with a button; toasts name the consumer, not an id."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from .conftest import PRODUCT, Consumer, Server, Watch, login

pytestmark = pytest.mark.e2e


def _item(page: Page, conversation_id: int) -> Locator:
    return page.locator(
        f"[data-testid=conversation-item][data-conversation-id='{conversation_id}']"
    )


def _pick(page: Page, button: str, username: str) -> None:
    page.get_by_test_id(button).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_test_id(f"pick-agent-{username}").click()
    dialog.get_by_test_id("picker-confirm").click()
    expect(dialog).to_be_hidden()


def test_conv_7_a_pending_transfer_says_why_actions_wait_and_is_cancelled(
    server: Server, new_page: Any, watch: Watch
) -> None:
    a1 = new_page(base=server.base)
    login(a1, server, "agent1")
    a2 = new_page(base=server.base)
    login(a2, server, "agent2")
    consumer = Consumer(server)
    consumer.open(PRODUCT)
    conv = consumer.request_human()
    # The receiver must be online to be offered a transfer (CONV-7).
    sender, receiver, to, to_name = (
        (a1, a2, "agent2", "阿杰") if conv["agent_id"] == 2 else (a2, a1, "agent1", "小美")
    )
    _item(sender, conv["id"]).click()

    _pick(sender, "transfer-button", to)
    notice = sender.get_by_test_id("transfer-pending-notice")
    expect(notice).to_contain_text(to_name)
    for button in ("transfer-button", "invite-button", "end-button"):
        expect(sender.get_by_test_id(button)).to_be_disabled()
        expect(sender.get_by_test_id(button)).to_have_attribute("title", "等待转接回应")
    expect(receiver.get_by_test_id("incoming-transfer")).to_be_visible()

    sender.get_by_test_id("transfer-cancel").click()
    expect(notice).to_be_hidden()
    expect(sender.locator(".el-message--success").last).to_contain_text(to_name)
    expect(sender.get_by_test_id("end-button")).to_be_enabled()
    expect(receiver.get_by_test_id("incoming-transfer")).to_be_hidden()
    consumer.close()
    assert watch.dialogs == [] and watch.errors == [] and watch.missing_keys == []


def test_conv_8_an_invited_agent_leaves_with_a_button(
    server: Server, new_page: Any, watch: Watch
) -> None:
    holder = new_page(base=server.base)
    login(holder, server, "agent2")
    guest = new_page(base=server.base)
    login(guest, server, "agent1", online=False)
    consumer = Consumer(server)
    consumer.open(PRODUCT)
    conv = consumer.request_human()
    _item(holder, conv["id"]).click()
    expect(holder.get_by_test_id("leave-button")).to_have_count(0)  # the holder ends instead
    _pick(holder, "invite-button", "agent1")

    _item(guest, conv["id"]).click()
    expect(guest.get_by_test_id("end-button")).to_have_count(0)  # only the holder ends
    guest.get_by_test_id("leave-button").click()
    expect(_item(guest, conv["id"])).to_have_count(0)
    toast = guest.locator(".el-message--success").last
    nickname = conv["consumer"]["nickname"] if "consumer" in conv else ""
    expect(toast).to_contain_text(nickname)
    # The toast names the consumer, never the conversation id (the nickname may hold digits).
    assert str(conv["id"]) not in (toast.text_content() or "").replace(nickname, "")
    guest.reload()
    guest.get_by_test_id("conversation-list").wait_for()
    expect(_item(guest, conv["id"])).to_have_count(0)  # across reloads too
    consumer.close()
    assert watch.dialogs == [] and watch.errors == [] and watch.missing_keys == []
