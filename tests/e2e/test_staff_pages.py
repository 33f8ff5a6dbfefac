"""Issue 10, set-up and staff in the browser: the owner manages accounts, groups and the audit
log (ACCT-1, ACCT-3, ACCT-6); supervisors and group leaders suspend and move agents in batch
(PRES-1, ACCT-5); the owner sets reception rules (SET-1, PRES-4)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from .conftest import Server, Watch, field, login

pytestmark = pytest.mark.e2e


def _row(page: Page, username: str) -> Locator:
    """The account table's row of `username`."""
    return (
        page.get_by_test_id("account-table")
        .locator("tr.el-table__row")
        .filter(has=page.get_by_test_id("acct-username").get_by_text(username, exact=True))
    )


def _db(server: Server) -> sqlite3.Connection:
    db = sqlite3.connect(server.data_dir / "kefu.db")
    db.row_factory = sqlite3.Row
    return db


def _groups(server: Server) -> dict[str, int]:
    """The demo shop's groups, read from its database (an API login would end the page's)."""
    with closing(_db(server)) as db:
        rows = db.execute("select id, name from groups where shop_id = 1 order by id").fetchall()
    return {r["name"]: r["id"] for r in rows}


def _accounts(server: Server) -> dict[str, dict[str, Any]]:
    with closing(_db(server)) as db:
        rows = db.execute("select * from accounts where shop_id = 1").fetchall()
    return {r["username"]: dict(r) for r in rows}


def _settings(server: Server) -> dict[str, Any]:
    with closing(_db(server)) as db:
        (raw,) = db.execute("select settings from shops where id = 1").fetchone()
    return dict(json.loads(raw))


def test_acct_1_owner_creates_an_agent_in_the_ui_who_then_logs_in(
    server: Server, new_page: Any, watch: Watch
) -> None:
    groups = _groups(server)
    group_name, group_id = next(iter(groups.items()))
    owner = new_page(base=server.base)
    login(owner, server, "owner", online=False)
    owner.goto(f"{server.base}/settings/staff")
    owner.get_by_test_id("staff-page").wait_for()
    expect(_row(owner, "agent2")).to_have_count(1)

    owner.get_by_test_id("account-new").click()
    dialog = owner.get_by_test_id("new-account-dialog")
    expect(dialog).to_be_visible()
    # The form refuses a short password itself, and the server's code for a taken username
    # is shown on the username field, translated.
    field(dialog, "new-username").fill("agent2")
    field(dialog, "new-password").fill("short")
    dialog.get_by_test_id("new-account-submit").click()
    expect(dialog.locator(".el-form-item__error")).to_contain_text("8–200")
    field(dialog, "new-password").fill("welcome-2026")
    dialog.get_by_test_id("new-account-submit").click()
    # The password's error leaves with a transition while the username's enters.
    taken = dialog.locator(".el-form-item__error", has_text="该用户名已被使用，请换一个")
    expect(taken).to_be_visible()
    expect(dialog.locator(".el-form-item__error")).to_have_count(1)

    field(dialog, "new-username").fill("xiaozhang")
    field(dialog, "new-display-name").fill("小张 <b>新</b>")
    dialog.get_by_test_id("new-role-agent").click()
    dialog.get_by_test_id("new-group").click()
    owner.locator(f".new-group-popper [data-testid=new-group-{group_id}]").click()
    dialog.get_by_test_id("new-account-submit").click()
    expect(dialog).to_be_hidden()
    row = _row(owner, "xiaozhang")
    expect(row.get_by_test_id("acct-name")).to_have_text("小张 <b>新</b>")  # escaped, as text
    expect(row.get_by_test_id("acct-group")).to_have_text(group_name)
    expect(row.get_by_test_id("acct-role")).to_have_text("客服")
    created = _accounts(server)["xiaozhang"]
    assert (created["group_id"], created["role"]) == (group_id, "agent")

    # The owner renames the account, takes IM permission away and gives it back, and resets
    # the password (too short first, refused by the form).
    row.get_by_test_id("account-edit").click()
    edit = owner.get_by_test_id("edit-account-dialog")
    field(edit, "edit-display-name").fill("小张")
    edit.get_by_test_id("edit-im").click()
    edit.get_by_test_id("edit-account-submit").click()
    expect(edit).to_be_hidden()
    expect(row.get_by_test_id("acct-name")).to_have_text("小张")
    assert _accounts(server)["xiaozhang"]["has_im_permission"] == 0
    row.get_by_test_id("account-edit").click()
    edit.get_by_test_id("edit-im").click()
    edit.get_by_test_id("edit-account-submit").click()
    expect(edit).to_be_hidden()
    assert _accounts(server)["xiaozhang"]["has_im_permission"] == 1
    row.get_by_test_id("account-password").click()
    reset = owner.get_by_test_id("password-dialog")
    field(reset, "reset-password").fill("1234567")
    reset.get_by_test_id("reset-password-submit").click()
    expect(reset.locator(".el-form-item__error")).to_contain_text("8–200")
    field(reset, "reset-password").fill("second-pass-9")
    reset.get_by_test_id("reset-password-submit").click()
    expect(reset).to_be_hidden()

    # ACCT-6: the audit log names who did what to whom, newest first.
    owner.locator("#tab-audit").click()
    rows = owner.get_by_test_id("audit-table").locator("tr.el-table__row")
    expect(rows.get_by_test_id("audit-action")).to_have_text(
        ["重置密码", "修改账号", "修改账号", "创建账号"]
    )
    expect(rows.get_by_test_id("audit-who").first).to_have_text("林晓")
    expect(rows.get_by_test_id("audit-target").last).to_have_text("小张")

    # The owner signs out; the new agent signs in through the login page.
    owner.goto(f"{server.base}/workbench")
    owner.get_by_test_id("logout").click()
    owner.wait_for_url("**/login")
    field(owner, "login-username").fill("xiaozhang")
    field(owner, "login-password").fill("welcome-2026")  # the password before the reset
    owner.get_by_test_id("login-submit").click()
    expect(owner.get_by_test_id("login-error")).to_be_visible()
    field(owner, "login-password").fill("second-pass-9")
    owner.get_by_test_id("login-submit").click()
    owner.get_by_test_id("workbench").wait_for()
    expect(owner.get_by_test_id("me")).to_contain_text("小张")
    # An agent is offered neither the staff pages nor the team page.
    expect(owner.get_by_test_id("open-settings")).to_have_count(0)
    expect(owner.get_by_test_id("open-team")).to_have_count(0)
    owner.goto(f"{server.base}/settings/phrases")
    owner.get_by_test_id("phrases-page").wait_for()
    for page in ("staff", "team", "reception", "bot"):
        expect(owner.get_by_test_id(f"menu-{page}")).to_have_count(0)
    owner.goto(f"{server.base}/settings/team")
    expect(owner.get_by_test_id("forbidden")).to_be_visible()
    assert watch.dialogs == [] and watch.missing_keys == [], "\n".join(watch.console)


def test_pres_1_supervisor_suspends_and_moves_two_agents_in_batch(
    server: Server, new_page: Any, watch: Watch
) -> None:
    before = _accounts(server)
    target_group = before["agent4"]["group_id"]
    assert before["agent2"]["group_id"] != target_group
    group_name = {v: k for k, v in _groups(server).items()}[target_group]

    sup = new_page(base=server.base)
    login(sup, server, "agent1", online=False)  # 小美, the demo's supervisor
    with sup.expect_popup() as popup:
        sup.get_by_test_id("open-team").click()
    page = popup.value
    page.get_by_test_id("team-page").wait_for()
    expect(page.get_by_test_id("menu-staff")).to_have_count(0)  # owner-only
    expect(page.get_by_test_id("batch-suspend")).to_be_disabled()

    for username in ("agent2", "agent4"):
        _row(page, username).locator(".el-checkbox").click()
    expect(page.get_by_test_id("batch-count")).to_contain_text("2")
    page.get_by_test_id("batch-suspend").click()
    for username in ("agent2", "agent4"):
        expect(_row(page, username).get_by_test_id("acct-suspended")).to_be_visible()
    expect(_row(page, "agent3").get_by_test_id("acct-active")).to_be_visible()
    expect(page.get_by_test_id("batch-count")).to_contain_text("0")

    for username in ("agent2", "agent4"):
        _row(page, username).locator(".el-checkbox").click()
    page.get_by_test_id("batch-group").click()
    page.locator(f".batch-group-popper [data-testid=batch-group-{target_group}]").click()
    page.get_by_test_id("batch-move").click()
    for username in ("agent2", "agent4"):
        expect(_row(page, username).get_by_test_id("acct-group")).to_have_text(group_name)

    after = _accounts(server)
    for username in ("agent2", "agent4"):
        assert after[username]["is_suspended"] == 1
        assert after[username]["group_id"] == target_group
    assert after["agent3"]["is_suspended"] == 0

    # Un-suspending from the same page puts them back into routing.
    for username in ("agent2", "agent4"):
        _row(page, username).locator(".el-checkbox").click()
    page.get_by_test_id("batch-unsuspend").click()
    for username in ("agent2", "agent4"):
        expect(_row(page, username).get_by_test_id("acct-active")).to_be_visible()
    assert not any(_accounts(server)[u]["is_suspended"] for u in ("agent2", "agent4"))
    assert watch.dialogs == [] and watch.missing_keys == [], "\n".join(watch.console)


def test_acct_5_a_group_leader_sees_and_suspends_only_their_own_group(
    server: Server, new_page: Any
) -> None:
    accounts = _accounts(server)
    leader_group = accounts["agent3"]["group_id"]
    own = {u for u, a in accounts.items() if a["group_id"] == leader_group and a["role"] != "owner"}
    page = new_page(base=server.base)
    login(page, server, "agent3", online=False)  # 小雨, a group leader
    page.goto(f"{server.base}/settings/team")
    page.get_by_test_id("team-page").wait_for()
    expect(page.get_by_test_id("acct-username")).to_have_count(len(own))
    assert set(page.get_by_test_id("acct-username").all_inner_texts()) == own
    expect(page.get_by_test_id("batch-move")).to_have_count(0)
    _row(page, "agent4").locator(".el-checkbox").click()
    page.get_by_test_id("batch-suspend").click()
    expect(_row(page, "agent4").get_by_test_id("acct-suspended")).to_be_visible()
    assert _accounts(server)["agent4"]["is_suspended"] == 1


def test_acct_3_disabling_an_agent_closes_their_open_workbench(
    server: Server, new_page: Any, watch: Watch
) -> None:
    agent = new_page(base=server.base)
    login(agent, server, "agent2")  # online, workbench open
    owner = new_page(base=server.base)
    login(owner, server, "owner", online=False)
    owner.goto(f"{server.base}/settings/staff")
    _row(owner, "agent2").get_by_test_id("account-toggle").click()
    owner.locator(".disable-box .el-button--primary").click()
    expect(_row(owner, "agent2").get_by_test_id("acct-disabled")).to_be_visible()
    expect(_row(owner, "agent2").get_by_test_id("acct-status")).to_have_text("离线")

    # The agent's socket gets session_closed: the workbench leaves for the login page.
    agent.wait_for_url("**/login", timeout=10_000)
    expect(agent.locator(".session-ended-disabled")).to_be_visible()
    field(agent, "login-username").fill("agent2")
    field(agent, "login-password").fill("demo1234")
    agent.get_by_test_id("login-submit").click()
    expect(agent.get_by_test_id("login-error")).to_contain_text("停用")

    # Re-enabled, the same password gets in again.
    _row(owner, "agent2").get_by_test_id("account-toggle").click()
    owner.locator(".disable-box .el-button--primary").click()
    expect(_row(owner, "agent2").get_by_test_id("acct-enabled")).to_be_visible()
    agent.get_by_test_id("login-submit").click()
    agent.get_by_test_id("workbench").wait_for()
    assert watch.dialogs == [] and watch.missing_keys == [], "\n".join(watch.console)


def test_acct_1_groups_are_created_renamed_and_a_busy_group_is_not_deleted(
    server: Server, new_page: Any
) -> None:
    owner = new_page(base=server.base)
    login(owner, server, "owner", online=False)
    owner.goto(f"{server.base}/settings/staff")
    owner.locator("#tab-groups").click()
    panel = owner.get_by_test_id("groups-panel")
    names = panel.get_by_test_id("group-row-name")
    count = names.count()
    field(panel, "group-name").fill("夜班组")
    panel.get_by_test_id("group-add").click()
    expect(names).to_have_count(count + 1)
    expect(names.last).to_have_text("夜班组")

    rows = panel.locator("tr.el-table__row")
    rows.last.get_by_test_id("group-rename").click()
    box = owner.locator(".group-rename-box")
    box.locator("input").fill("晚班组")
    box.locator(".el-button--primary").click()
    expect(names.last).to_have_text("晚班组")

    # A group with members says why it stays.
    rows.first.get_by_test_id("group-delete").click()
    owner.locator(".group-delete-box .el-button--primary").click()
    expect(panel.get_by_test_id("group-error")).to_contain_text("名成员")
    expect(names).to_have_count(count + 1)

    rows.last.get_by_test_id("group-delete").click()
    owner.locator(".group-delete-box .el-button--primary").click()
    expect(names).to_have_count(count)
    assert "晚班组" not in _groups(server)


def test_set_1_owner_sets_queue_order_auto_end_and_who_sets_limits(
    server: Server, new_page: Any
) -> None:
    owner = new_page(base=server.base)
    login(owner, server, "owner", online=False)
    owner.goto(f"{server.base}/settings/reception")
    owner.get_by_test_id("reception-page").wait_for()
    owner.get_by_test_id("queue-order-lcfs").click()
    owner.get_by_test_id("auto-end-5min_warn").click()
    owner.get_by_test_id("limit-by-supervisor").click()
    field(owner, "max-limit").fill("8")
    owner.get_by_test_id("reception-save").click()
    expect(owner.locator(".el-message--success").last).to_be_visible()
    s = _settings(server)
    assert (s["queue_order"], s["auto_end"]) == ("lcfs", "5min_warn")
    assert (s["reception_limit_by"], s["max_reception_limit"]) == ("supervisor", 8)

    # PRES-4: the supervisor now sets an agent's limit on the team page, under the maximum.
    sup = new_page(base=server.base)
    login(sup, server, "agent1", online=False)
    sup.goto(f"{server.base}/settings/team")
    limit = field(_row(sup, "agent2"), "acct-limit-input")
    limit.fill("6")
    limit.press("Enter")
    expect(sup.locator(".el-message--success").last).to_be_visible()
    assert _accounts(server)["agent2"]["reception_limit"] == 6


def test_acct_6_many_accounts_are_paged_and_the_audit_log_loads_more(
    server: Server, new_page: Any
) -> None:
    group_id = next(iter(_groups(server).values()))
    api = server.staff("owner", online=False)  # set-up over HTTP, then signed out
    for i in range(51):
        body = {"username": f"extra{i:02d}", "password": "extra-pass-1", "group_id": group_id}
        api.post("/api/agents", json=body).raise_for_status()
    api.post("/api/auth/logout").raise_for_status()
    api.close()
    owner = new_page(base=server.base)
    login(owner, server, "owner", online=False)
    owner.goto(f"{server.base}/settings/staff")
    names = owner.get_by_test_id("acct-username")
    expect(names).to_have_count(20)  # 56 accounts, 20 a page
    owner.get_by_test_id("account-pager").locator(".el-pager li", has_text="3").click()
    expect(names).to_have_count(16)

    owner.locator("#tab-audit").click()
    actions = owner.get_by_test_id("audit-action")
    expect(actions).to_have_count(50)
    expect(owner.get_by_test_id("audit-target").first).to_have_text("extra50")  # newest first
    owner.get_by_test_id("audit-more").click()
    expect(actions).to_have_count(51)
    expect(owner.get_by_test_id("audit-target").last).to_have_text("extra00")
    expect(owner.get_by_test_id("audit-more")).to_have_count(0)
