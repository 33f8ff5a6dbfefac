"""ACCT-6 in the browser: an agent asks for a feature area from the permissions page, the
owner approves it there and grants another by its checkbox; the agent sees both."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .conftest import Server, Watch, field, login

pytestmark = pytest.mark.e2e


def _permissions(page: Page, server: Server) -> None:
    page.goto(f"{server.base}/settings/permissions")
    page.get_by_test_id("permissions-page").wait_for()


def test_acct_6_agent_asks_owner_approves_and_grants_in_the_ui(
    server: Server, new_page: Any, watch: Watch
) -> None:
    agent = new_page(base=server.base)
    login(agent, server, "agent2", online=False)
    _permissions(agent, server)
    analytics = agent.get_by_test_id("my-permission-analytics")
    expect(agent.get_by_test_id("my-permission-workbench")).not_to_contain_text("申请")
    field(agent, "permission-note").fill("看本组的数据")
    analytics.get_by_test_id("permission-ask").click()
    expect(analytics).to_contain_text("已申请")

    owner = new_page(base=server.base)
    login(owner, server, "owner", online=False)
    _permissions(owner, server)
    request = owner.get_by_test_id("permission-request")
    expect(request).to_contain_text("阿杰")
    expect(request).to_contain_text("看本组的数据")
    request.get_by_test_id("permission-approve").click()
    expect(owner.get_by_test_id("permission-requests-empty")).to_be_visible()

    row = (
        owner.get_by_test_id("permission-table")
        .locator("tr.el-table__row")
        .filter(has=owner.get_by_test_id("permission-account").get_by_text("阿杰", exact=True))
    )
    expect(row.get_by_test_id("permission-analytics").locator("input")).to_be_checked()
    row.get_by_test_id("permission-quality").click()
    expect(row.get_by_test_id("permission-quality").locator("input")).to_be_checked()
    expect(owner.locator(".el-message--success").last).to_contain_text("阿杰")

    agent.reload()
    agent.get_by_test_id("permissions-page").wait_for()
    expect(agent.get_by_test_id("my-permission-analytics")).to_contain_text("已开通")
    expect(agent.get_by_test_id("my-permission-quality")).to_contain_text("已开通")
    expect(agent.get_by_test_id("my-permission-settings")).to_contain_text("申请")
    expect(agent.get_by_test_id("my-permission-request")).to_contain_text("已同意")
    assert watch.dialogs == [] and watch.errors == [] and watch.missing_keys == []
