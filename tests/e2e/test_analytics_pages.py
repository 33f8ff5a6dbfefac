"""DATA-1, DATA-2, DATA-8 in the browser: the demo shop's owner reads today's dashboard with
its chart, the agent analysis, and downloads a CSV that carries the same numbers."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from .conftest import SCREENSHOTS, Consumer, Server, Watch, login

pytestmark = pytest.mark.e2e


def _one_served_one_abandoned(server: Server) -> None:
    """A consumer asks for a human and agent2 (limit 1) answers; a second one queues and
    leaves the queue: pickup 1 of 2."""
    agent = server.staff("agent2", limit=1)
    served, leaving = Consumer(server), Consumer(server)
    try:
        served.open()
        served.send("你好，请问有货吗")
        conversation = served.request_human()
        agent.post(
            f"/api/conversations/{conversation['id']}/messages",
            json={"client_id": f"a-{uuid.uuid4()}", "body": "有的，亲"},
        ).raise_for_status()
        leaving.open()
        leaving.request_human(expect="queued")
        leaving.ws.send(json.dumps({"type": "leave_queue"}))
        leaving.wait_for(
            lambda f: f["type"] == "conversation" and f["conversation"]["state"] != "queued"
        )
    finally:
        served.close()
        leaving.close()
        agent.close()


def test_data_1_dashboard_chart_agents_and_csv_export(
    server: Server, new_page: Page, watch: Watch
) -> None:
    _one_served_one_abandoned(server)
    page = new_page()
    login(page, server, "owner", online=False)
    page.goto(f"{server.base}/settings/analytics")
    dashboard = page.get_by_test_id("analytics-dashboard")
    expect(dashboard.get_by_test_id("period-text")).to_contain_text("统计周期")
    assigned = dashboard.get_by_test_id("figure-assigned").get_by_test_id("figure-value")
    expect(assigned).to_have_text("1")
    expect(
        dashboard.get_by_test_id("figure-pickup_rate").get_by_test_id("figure-value")
    ).to_have_text("50%")
    expect(dashboard.get_by_test_id("trend-chart").locator("canvas")).to_have_count(1)
    page.screenshot(path=str(SCREENSHOTS / "analytics-dashboard.png"), full_page=True)

    with page.expect_download() as download_info:
        dashboard.get_by_test_id("export-dashboard").click()
    text = download_info.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and rows[-1]["assigned"] == "1" and rows[-1]["pickup_rate"] == "0.5"

    page.get_by_test_id("menu-targets").click()
    targets = page.get_by_test_id("analytics-targets")
    expect(targets.get_by_test_id("target-pickup_rate")).to_have_class(re.compile("fail"))
    expect(
        targets.get_by_test_id("target-pickup_rate").get_by_test_id("target-verdict")
    ).to_contain_text("差距 30%")
    expect(targets.get_by_test_id("target-response_s")).to_have_class(re.compile("pass"))
    # The owner lowers the pickup target to 50 %: it passes.
    pickup_row = targets.get_by_test_id("target-row").nth(1)
    pickup_row.locator("input").last.fill("50")
    targets.get_by_test_id("targets-save").click()
    expect(targets.get_by_test_id("target-pickup_rate")).to_have_class(re.compile("pass"))

    page.get_by_test_id("menu-agent-analysis").click()
    table = page.get_by_test_id("agents-table")
    row = table.locator("tr", has_text="阿杰")
    expect(row).to_contain_text("1")
    page.get_by_test_id("period-week").click()
    expect(table.locator("tr", has_text="阿杰")).to_be_visible()

    # DATA-6: "你好，请问有货吗" is a stock question.
    page.get_by_test_id("menu-intents").click()
    intents = page.get_by_test_id("analytics-intents")
    expect(intents.get_by_test_id("intents-by-volume")).to_contain_text("售前 › 库存")
    expect(intents.get_by_test_id("intents-chart").locator("canvas")).to_have_count(1)
    assert watch.missing_keys == [] and watch.errors == []
