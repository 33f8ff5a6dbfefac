"""API-2 in the browser: the owner adds a webhook endpoint under 设置, sees its secret once and
the endpoint listed, then opens its (empty) delivery log; an agent has no such menu."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest
from playwright.sync_api import expect

from .conftest import Server, Watch, field, login

pytestmark = pytest.mark.e2e

URL = "https://1.1.1.1/kefu-hook"  # a public address: saved without name resolution


def test_api_2_owner_adds_a_webhook_endpoint_and_sees_it_listed(
    server: Server, new_page: object, watch: Watch
) -> None:
    page = new_page()  # type: ignore[operator]
    login(page, server, "owner", online=False)
    page.goto(f"{server.base}/settings/webhooks")
    page.get_by_test_id("webhooks-page").wait_for()
    page.get_by_test_id("webhook-add").click()
    field(page, "webhook-url").fill(URL)
    page.get_by_test_id("webhook-event-rating.created").click()
    page.get_by_test_id("webhook-save").click()

    secret = page.get_by_test_id("webhook-secret")
    expect(secret).to_contain_text("whsec_")
    rows = page.get_by_test_id("webhook-table").locator("tr.el-table__row")
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_test_id("webhook-row-url")).to_have_text(URL)
    expect(rows.first).to_contain_text("评价")  # the event just ticked, in zh-CN

    # The secret is not shown again: a reload lists the endpoint without it.
    page.reload()
    expect(page.get_by_test_id("webhook-table").locator("tr.el-table__row")).to_have_count(1)
    expect(page.get_by_test_id("webhook-secret")).to_have_count(0)

    page.get_by_test_id("webhook-log-open").click()
    expect(page.get_by_test_id("webhook-log")).to_contain_text(URL)
    assert watch.missing_keys == [] and watch.errors == [] and watch.dialogs == []


def test_api_2_agents_have_no_webhooks_menu(server: Server, new_page: object, watch: Watch) -> None:
    page = new_page()  # type: ignore[operator]
    agent = next(iter(_agents(server)))
    login(page, server, agent, online=False)
    page.goto(f"{server.base}/settings/phrases")
    page.get_by_test_id("settings-menu").wait_for()
    expect(page.get_by_test_id("menu-webhooks")).to_have_count(0)
    assert watch.errors == []


def _agents(server: Server) -> list[str]:
    with closing(sqlite3.connect(server.data_dir / "kefu.db")) as db:
        rows = db.execute("select username from accounts where role = 'agent' order by id")
        return [r[0] for r in rows]
