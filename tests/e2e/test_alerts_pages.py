"""LIVE-2 in the browser: the owner saves an alert rule on the rules page; the scheduler
evaluates it and the recipient's workbench shows a notification with sound; the history page
lists the alert with its value in red."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .conftest import Server, Watch, field, login
from .test_notifications import beeps, wait_for_notifications, workbench

pytestmark = pytest.mark.e2e


def _add_rule(page: Page) -> None:
    """Queued at least 0: true at once, so the next evaluation alerts."""
    page.get_by_test_id("alert-rule-add").click()
    dialog = page.get_by_test_id("alert-rule-dialog")
    dialog.get_by_test_id("alert-rule-comparison").click()
    page.get_by_test_id("alert-comparison-ge").click()
    threshold = field(dialog, "alert-rule-threshold")
    threshold.fill("0")
    threshold.blur()
    dialog.get_by_test_id("alert-rule-recipients").click()
    page.get_by_test_id("alert-recipient-agent1").click()
    dialog.locator(".el-dialog__header").click()  # closes the multiple select's list
    dialog.get_by_test_id("alert-rule-save").click()


def test_live_2_rule_page_saves_and_the_alert_notifies_the_recipient(
    server: Server, new_page: Any, watch: Watch
) -> None:
    supervisor = workbench(new_page, server, "agent1", "granted")

    owner: Page = new_page(base=server.base)
    login(owner, server, "owner", online=False)
    owner.goto(f"{server.base}/settings/alerts")
    owner.get_by_test_id("alert-rules-page").wait_for()
    _add_rule(owner)
    rows = owner.get_by_test_id("alert-rules-table").locator(".el-table__body tr")
    expect(rows).to_have_count(1)
    expect(owner.get_by_test_id("alert-rule-dialog")).to_be_hidden()

    # The scheduler (every second in `kefu demo`) evaluates the new rule: an in-app
    # notification with sound, and a desktop one, on the recipient's workbench.
    expect(supervisor.locator(".alert-notification")).to_be_visible(timeout=15_000)
    shown = wait_for_notifications(supervisor, 1)
    assert any(n["tag"].startswith("kefu-alert-") for n in shown), shown
    assert beeps(supervisor) >= 1

    owner.goto(f"{server.base}/settings/alert-history")
    value = owner.get_by_test_id("alert-value").first
    expect(value).to_have_text("0")
    color = value.evaluate("el => getComputedStyle(el).color")
    assert color == "rgb(229, 72, 77)", color  # alerting values are red
    assert watch.missing_keys == [] and watch.errors == []
