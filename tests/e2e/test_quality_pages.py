"""QA-1, QA-2 in the browser: on the demo shop the owner starts an inspection under 设置 → 质检,
watches it finish, reads the per-agent report, opens a hit in its chat context and marks it a
false positive, which leaves the count."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from .conftest import SCREENSHOTS, Consumer, Server, Watch, login

pytestmark = pytest.mark.e2e

RUDE = "这个我不知道呢"


def _rude_reply(server: Server) -> None:
    """agent2 (阿杰) answers a consumer with a forbidden word (QA-1 `forbidden_words`)."""
    agent = server.staff("agent2", limit=1)
    consumer = Consumer(server)
    try:
        consumer.open()
        consumer.send("请问有货吗")
        conversation = consumer.request_human()
        agent.post(
            f"/api/conversations/{conversation['id']}/messages",
            json={"client_id": f"a-{uuid.uuid4()}", "body": RUDE},
        ).raise_for_status()
    finally:
        consumer.close()
        agent.close()


def test_qa_2_inspect_the_demo_shop_and_mark_a_false_positive(
    server: Server, new_page: Page, watch: Watch
) -> None:
    _rude_reply(server)
    page = new_page()
    login(page, server, "owner", online=False)
    page.goto(f"{server.base}/settings/team")
    page.get_by_test_id("menu-quality").click()
    inspection = page.get_by_test_id("quality-inspection")
    expect(inspection.get_by_test_id("inspection-start")).to_be_enabled()
    inspection.get_by_test_id("inspection-start").click()
    expect(inspection.get_by_test_id("inspection-progress")).to_have_attribute(
        "data-state", "done", timeout=15_000
    )
    row = inspection.get_by_test_id("report-table").locator("tr", has_text="阿杰")
    expect(row.get_by_test_id("report-cell-forbidden_words")).to_have_text("1")
    expect(inspection.get_by_test_id("hits-chart").locator("canvas")).to_have_count(1)
    page.screenshot(path=str(SCREENSHOTS / "quality-report.png"), full_page=True)

    row.get_by_test_id("report-cell-forbidden_words").click()
    hits = inspection.get_by_test_id("hits-table")
    expect(hits.get_by_test_id("hit-context")).to_have_count(1)
    hits.get_by_test_id("hit-context").click()
    dialog = page.get_by_test_id("context-dialog")
    expect(dialog.get_by_test_id("context-hit")).to_contain_text(RUDE)
    expect(dialog).to_contain_text("请问有货吗")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    hits.get_by_test_id("hit-false-positive").click()
    # The machine may be busy: the report is fetched again after the mark.
    expect(row.get_by_test_id("report-false-positives")).to_have_text("1", timeout=15_000)
    expect(row.get_by_test_id("report-cell-forbidden_words")).to_have_count(0)
    expect(hits.get_by_test_id("hit-false-positive")).to_have_class(re.compile("is-checked"))

    page.get_by_role("tab", name="质检规则").click()
    rules = page.get_by_test_id("quality-rules")
    expect(rules.get_by_test_id("rules-apply-note")).to_contain_text("次日生效")
    expect(rules.get_by_test_id("rule-enabled-forbidden_words")).to_be_visible()

    # Agents have no quality pages (QA-2 is for owners, supervisors and group leaders).
    agent = new_page()
    login(agent, server, "agent4", online=False)
    agent.goto(f"{server.base}/settings/quality")
    expect(agent.get_by_test_id("forbidden")).to_be_visible()
    expect(agent.get_by_test_id("menu-quality")).to_have_count(0)
    assert watch.missing_keys == [], watch.missing_keys
    assert watch.errors == [], watch.errors
