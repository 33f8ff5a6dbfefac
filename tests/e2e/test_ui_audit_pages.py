"""Every page of the workbench and the settings, opened by the owner (and by an agent, who is
refused some): none logs a console error or throws, and no text misses its locale key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from .conftest import Server, field, login

pytestmark = pytest.mark.e2e

ROUTER = "web/src/router.ts"


def settings_pages() -> list[str]:
    """Every child route of /settings, read from the router so that a new page is covered."""
    source = (Path(__file__).resolve().parents[2] / ROUTER).read_text()
    block = source[source.index("path: '/settings'") :]
    block = block[: block.index("],")]
    return re.findall(r"\{ path: '([a-z-]+)'", block)


def _watch(page: Page) -> list[str]:
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" or "Not found" in message.text:
            problems.append(f"console {message.type}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    return problems


@pytest.mark.parametrize("username", ["owner", "agent1"])
def test_ui_every_page_opens_without_console_errors(
    server: Server, new_page: Any, username: str
) -> None:
    """The owner sees every page; an agent gets the pages' refusals, which are no errors."""
    pages = settings_pages()
    assert len(pages) >= 15 and "phrases" in pages and "tokens" in pages
    page: Page = new_page(base=server.base)
    problems = _watch(page)
    login(page, server, username, online=False)
    expect(page.get_by_test_id("workbench")).to_be_visible()
    page.get_by_test_id("notification-prefs").click()
    expect(page.get_by_test_id("notification-prefs-panel")).to_be_visible()
    for tab in ("recent", "colleagues", "history", "mine"):
        page.get_by_test_id(f"tab-{tab}").click()
        expect(page.get_by_test_id(f"tab-{tab}")).to_have_attribute("aria-selected", "true")
        page.wait_for_load_state("networkidle")
        if tab == "history":
            field(page, "history-search-input").fill("退款")
            page.keyboard.press("Enter")
            expect(page.get_by_test_id("history-search-results")).to_be_visible()
    page.get_by_test_id("tab-offline").click()
    expect(page.get_by_test_id("offline-drawer")).to_be_visible()
    page.keyboard.press("Escape")
    page.wait_for_load_state("networkidle")
    seen: dict[str, list[str]] = {"/workbench": list(problems)}
    for name in pages:
        before = len(problems)
        page.goto(f"{server.base}/settings/{name}")
        page.wait_for_load_state("networkidle")
        expect(page.locator("main, .settings, [data-testid]").first).to_be_visible()
        seen[f"/settings/{name}"] = problems[before:]
    for locale in ("en-US", "zh-CN"):
        page.get_by_test_id(f"lang-{locale}").click()
        expect(page.locator("html")).to_have_attribute("lang", locale)
    page.wait_for_load_state("networkidle")
    assert {path: found for path, found in seen.items() if found} == {}
    assert problems == []
