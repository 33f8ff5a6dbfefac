"""PRES-1 in the browser: an agent who closes the page stops being routed to."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .conftest import PRODUCT, Consumer, Server, Watch, login

pytestmark = pytest.mark.e2e

GRACE_S = 2.0


@pytest.fixture(autouse=True)
def short_grace(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`kefu demo` inherits the environment: a short presence grace period keeps the test fast."""
    monkeypatch.setenv("KEFU_PRESENCE_GRACE_S", str(GRACE_S))
    yield


def accounts(page: Page) -> dict[str, dict[str, Any]]:
    """GET /api/agents with the page's session."""
    r = page.request.get("/api/agents")
    assert r.ok, r.text()
    return {a["username"]: a for a in r.json()["items"]}


def test_pres_1_an_agent_who_closes_the_page_is_not_assigned_the_next_consumer(
    server: Server, new_page: Any, watch: Watch
) -> None:
    pages = {"agent1": new_page(base=server.base), "agent2": new_page(base=server.base)}
    for username, page in pages.items():
        login(page, server, username)
    owner = new_page(base=server.base)
    login(owner, server, "owner", online=False)
    seen = accounts(owner)
    assert all(seen[u]["status"] == "online" and seen[u]["connected"] for u in pages)

    # One of them takes the first consumer: the other becomes the freer agent, the one
    # ROUTE-1 would pick next; that one closes the page.
    first = Consumer(server)
    first.open(PRODUCT)
    conv1 = first.request_human()
    busy = next(u for u in pages if seen[u]["id"] == conv1["agent_id"])
    gone = next(u for u in pages if u != busy)
    expect(pages[busy].get_by_test_id("conversation-item")).to_have_count(1)

    pages[gone].close()
    closed_at = time.monotonic()
    # The server says when the grace period has run out (its heartbeat runs every third of it).
    deadline = closed_at + GRACE_S + 10
    while accounts(owner)[gone]["connected"]:
        assert time.monotonic() < deadline, "the agent still counts as connected"
        time.sleep(0.2)  # polling the HTTP API, no page is waited on here
    assert time.monotonic() - closed_at >= GRACE_S - 0.5  # not at once: a reload is forgiven
    left = accounts(owner)[gone]
    assert left["status"] == "online"  # still online by choice, but not there
    assert left["last_seen_at"] is not None

    # The next consumer goes to the agent who is there, though the one who left is freer.
    second = Consumer(server)
    second.open(PRODUCT)
    conv2 = second.request_human()
    assert conv2["agent_id"] == seen[busy]["id"] != seen[gone]["id"]
    expect(pages[busy].get_by_test_id("conversation-item")).to_have_count(2)
    assert accounts(owner)[gone]["current_load"] == 0

    # The workbench shows the agent as disconnected: in the transfer picker of the one who
    # stayed, and on the team page of the owner.
    stayed = pages[busy]
    stayed.get_by_test_id("conversation-item").first.click()
    stayed.get_by_test_id("transfer-button").click()
    option = stayed.get_by_test_id(f"pick-agent-{gone}")
    expect(option).to_have_attribute("data-presence", "disconnected")
    expect(option).to_contain_text("已断开")
    stayed.keyboard.press("Escape")
    owner.goto(f"{server.base}/settings/team")
    owner.get_by_test_id("team-page").wait_for()
    rows = owner.get_by_test_id("account-table").locator("tr.el-table__row")

    def status(username: str) -> Any:
        row = rows.filter(has=owner.get_by_test_id("acct-username").get_by_text(username))
        return row.get_by_test_id("acct-status")

    expect(status(gone)).to_have_text("已断开")
    expect(status(gone)).to_have_attribute("data-presence", "disconnected")
    expect(status(busy)).to_have_text("在线")

    for c in (first, second):
        c.close()
    assert watch.missing_keys == []
    assert watch.dialogs == []
    assert watch.errors == []
