"""MSG-4: an agent keeps personal quick phrases, imports them, and uses them in the workbench."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import PRODUCT, Consumer, Server, Watch, field, login

pytestmark = pytest.mark.e2e

CSV = "title,body\n退货,亲，签收 7 天内可申请退货哦\n空的,\n尺码,160 cm 建议 M 码\n".encode()


def test_msg_4_personal_phrases_are_managed_imported_and_suggested(
    server: Server, new_page: Any, watch: Watch
) -> None:
    agent = new_page(base=server.base)
    login(agent, server, "agent1")
    expect(agent.get_by_test_id("open-settings")).to_have_count(0)

    with agent.expect_popup() as popup:
        agent.get_by_test_id("open-phrases").click()
    page = popup.value
    page.get_by_test_id("phrases-page").wait_for()
    # Owner-only pages are not offered to an agent.
    expect(page.get_by_test_id("menu-kb")).to_have_count(0)

    page.get_by_test_id("phrase-new").click()
    dialog = page.get_by_test_id("phrase-dialog")
    field(dialog, "phrase-title").fill("发货时间")
    field(dialog, "phrase-body").fill("亲，下单后 48 小时内发货哦")
    dialog.get_by_test_id("phrase-save").click()
    expect(page.get_by_test_id("phrase-row-body")).to_have_text(["亲，下单后 48 小时内发货哦"])

    # Import: the good rows land, the empty one is reported by its line number.
    page.get_by_test_id("phrases-import").click()
    imp = page.get_by_test_id("import-dialog")
    imp.get_by_test_id("import-file").set_input_files(
        {"name": "phrases.csv", "mimeType": "text/csv", "buffer": CSV}
    )
    imp.get_by_test_id("import-start").click()
    expect(imp.get_by_test_id("import-result")).to_be_visible()
    expect(imp.get_by_test_id("import-progress")).to_be_visible()
    rejected = imp.get_by_test_id("import-rejected")
    expect(rejected.locator("tbody tr")).to_have_count(1)
    expect(rejected.locator("tbody tr td").first).to_have_text("3")
    imp.get_by_test_id("import-close").click()
    expect(page.get_by_test_id("phrase-row-body")).to_have_count(3)

    # The owner's pages answer an agent with the translated refusal.
    page.goto(f"{server.base}/settings/kb")
    expect(page.get_by_test_id("forbidden")).to_be_visible()

    # Smart input: typing suggests the phrase; the inserted text stays editable.
    agent.reload()
    agent.get_by_test_id("conversation-list").wait_for()
    consumer = Consumer(server)
    consumer.open(PRODUCT)
    consumer.request_human()
    consumer.send("什么时候发货")
    agent.get_by_test_id("conversation-item").first.click()
    box = field(agent, "message-input")
    box.fill("发货")
    # The demo's shop-wide phrase on the same topic is offered next to the personal one.
    suggestions = agent.get_by_test_id("phrase-suggestion")
    expect(suggestions.filter(has_text="现货订单付款后 48 小时内发货")).to_have_count(1)
    suggestions.filter(has_text="亲，下单后 48 小时内发货哦").click()
    expect(box).to_have_value("亲，下单后 48 小时内发货哦")
    box.press("End")
    box.type("，今天就能发")
    box.press("Enter")
    history = agent.get_by_test_id("message-history")
    expect(history.get_by_text("亲，下单后 48 小时内发货哦，今天就能发")).to_be_visible()
    consumer.close()
    assert watch.dialogs == []
    assert watch.errors == []
