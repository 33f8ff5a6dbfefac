"""MSG-4 polish (issue 10): a quick phrase added on the settings page, opened from the
workbench in another tab, is suggested in the workbench's composer without a reload."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import PRODUCT, Consumer, Server, Watch, field, login

pytestmark = pytest.mark.e2e


def test_msg_4_a_phrase_added_in_settings_reaches_the_composer_without_reload(
    server: Server, new_page: Any, watch: Watch
) -> None:
    agent = new_page(base=server.base)
    login(agent, server, "agent2")
    consumer = Consumer(server)
    consumer.open(PRODUCT)
    consumer.request_human()
    agent.get_by_test_id("conversation-item").first.click()
    box = field(agent, "message-input")
    box.fill("退换须知")
    expect(agent.get_by_test_id("phrase-suggestion")).to_have_count(0)
    box.fill("")

    with agent.expect_popup() as popup:
        agent.get_by_test_id("open-phrases").click()
    page = popup.value
    page.get_by_test_id("phrases-page").wait_for()
    page.get_by_test_id("phrase-new").click()
    dialog = page.get_by_test_id("phrase-dialog")
    field(dialog, "phrase-title").fill("退换须知")
    field(dialog, "phrase-body").fill("七天无理由退换，请保留吊牌")
    dialog.get_by_test_id("phrase-save").click()
    expect(page.get_by_test_id("phrase-row-body")).to_contain_text(["七天无理由退换，请保留吊牌"])

    box.fill("退换须知")
    expect(agent.get_by_test_id("phrase-suggestion")).to_contain_text(
        ["七天无理由退换，请保留吊牌"]
    )
    consumer.close()
    assert watch.dialogs == [] and watch.errors == [] and watch.missing_keys == []
