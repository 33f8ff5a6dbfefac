"""ACCT-4 in the browser: one person works for two shops in the same browser at once, one
session per shop; a return to the login page with a live session goes straight in; a
signed-out page asks for its session without a 401 in the console (issue 10)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .conftest import PASSWORD, REPO, Server, Watch, field

pytestmark = pytest.mark.e2e
CLI = [sys.executable, "-m", "kefu", "shop", "create"]


def _second_shop(server: Server) -> int:
    """A second shop in the demo's database, made as a merchant makes one."""
    env = {
        **os.environ,
        "KEFU_DATABASE_URL": f"sqlite+aiosqlite:///{(server.data_dir / 'kefu.db').resolve()}",
        "KEFU_DATA_DIR": str(server.data_dir),
    }
    done = subprocess.run(
        [
            *CLI,
            "--name",
            "二号店",
            "--owner",
            "boss",
            "--manager-name",
            "王店长",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
        check=True,
    )
    assert "2" in done.stdout, done.stdout
    return 2


def _login(page: Page, server: Server, shop_id: int, username: str) -> None:
    page.goto(f"{server.base}/login")
    shop = field(page, "login-shop")
    shop.fill(str(shop_id))
    field(page, "login-username").fill(username)
    field(page, "login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("workbench").wait_for()


def _no_401(watch: Watch) -> list[str]:
    return [m for m in watch.console if "401" in m or "Unauthorized" in m]


def test_acct_4_two_shops_in_one_browser_each_keep_their_session(
    server: Server, new_page: Any, watch: Watch
) -> None:
    shop2 = _second_shop(server)
    first = new_page(base=server.base)
    second = first.context.new_page()  # the same browser: the same cookie jar
    watch.attach(second)

    _login(first, server, 1, "owner")
    expect(first.get_by_test_id("me")).to_contain_text("林晓")
    _login(second, server, shop2, "boss")
    expect(second.get_by_test_id("me")).to_contain_text("王店长")

    # Both stay in their own shop across reloads: the second login did not replace the first.
    first.reload()
    first.get_by_test_id("workbench").wait_for()
    expect(first.get_by_test_id("me")).to_contain_text("林晓")
    second.reload()
    second.get_by_test_id("workbench").wait_for()
    expect(second.get_by_test_id("me")).to_contain_text("王店长")

    # A return to the login page with the still-valid session goes straight in, no prompt.
    first.goto(f"{server.base}/login?shop=1")
    first.wait_for_url("**/workbench?shop=1")
    expect(first.get_by_test_id("me")).to_contain_text("林晓")
    assert first.locator(".takeover-dialog").count() == 0

    # Another browser logging in as the same account is asked to take over.
    other = new_page(base=server.base)
    other.goto(f"{server.base}/login")
    field(other, "login-username").fill("owner")
    field(other, "login-password").fill(PASSWORD)
    other.get_by_test_id("login-submit").click()
    expect(other.locator(".takeover-dialog")).to_be_visible()
    assert watch.errors == [] and watch.dialogs == []


def test_acct_4_a_signed_out_page_logs_no_401(server: Server, new_page: Any, watch: Watch) -> None:
    page = new_page(base=server.base)
    page.goto(f"{server.base}/login")
    page.get_by_test_id("login-submit").wait_for()
    page.goto(f"{server.base}/workbench")
    page.wait_for_url("**/login")
    page.get_by_test_id("login-submit").wait_for()
    page.goto(f"{server.base}/settings")
    page.wait_for_url("**/login")
    page.get_by_test_id("login-submit").wait_for()
    assert _no_401(watch) == []
    assert [m for m in watch.console if m.startswith("error")] == []
    assert watch.errors == []
