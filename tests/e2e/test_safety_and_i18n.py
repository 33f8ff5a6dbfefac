"""MSG-5: user text is shown as text everywhere; both languages have every key."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from .conftest import PRODUCT, REPO, Consumer, Server, Watch, field, login, sign_identity

pytestmark = pytest.mark.e2e

XSS = "<img src=x onerror=alert(1)>"
RAW_KEY = re.compile(
    r"\b(common|desk|widget|shop|landing|auth|errors|settings)\.[A-Za-z]+\.[A-Za-z.]+"
)


def test_msg_5_script_payloads_are_shown_as_text(
    server: Server, new_page: Any, watch: Watch
) -> None:
    agent = new_page(base=server.base)
    login(agent, server, "agent2")

    # Nickname (signed identity, the shop's secret read from the demo's own database)
    # and product title over the consumer socket.
    evil = Consumer(server, identity=sign_identity(server, "evil-1", XSS))
    evil.open({**PRODUCT, "title": XSS})
    evil.request_human()
    evil.send(XSS)

    # Product title and message through the widget page.
    phone = new_page(width=390, height=844)
    product = {**PRODUCT, "title": XSS}
    phone.goto(f"{server.base}/widget?shop=1&source=product&product={quote(json.dumps(product))}")
    expect(phone.get_by_test_id("context-product-title")).to_have_text(XSS)
    phone.get_by_test_id("request-human").click()
    expect(phone.get_by_test_id("widget-status")).to_have_attribute("data-state", "assigned")
    field(phone, "widget-input").fill(XSS)
    phone.get_by_test_id("widget-send").click()

    expect(agent.get_by_test_id("conversation-item")).to_have_count(2)
    expect(agent.get_by_test_id("item-nickname").filter(has_text=XSS)).to_have_count(1)
    for i in range(2):
        agent.get_by_test_id("conversation-item").nth(i).click()
        bodies = agent.get_by_test_id("message-history").get_by_test_id("message-body")
        expect(bodies.filter(has_text=XSS).first).to_have_text(XSS)
        expect(
            agent.get_by_test_id("context-panel").get_by_test_id("context-product-title")
        ).to_have_text(XSS)
        field(agent, "message-input").fill(XSS + " reply")
        agent.keyboard.press("Enter")
        expect(agent.get_by_test_id("message-history").get_by_text(XSS + " reply")).to_be_visible()
    expect(phone.get_by_test_id("widget-messages").get_by_text(XSS + " reply")).to_be_visible()
    agent.wait_for_timeout(500)
    assert agent.locator("img[src=x]").count() == 0
    assert phone.locator("img[src=x]").count() == 0
    evil.close()
    assert watch.dialogs == []


def _keys(tree: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for k, v in tree.items():
        out |= _keys(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k}
    return out


def test_locale_files_have_the_same_keys() -> None:
    root = REPO / "web" / "src" / "locales"
    zh = {p.name: p for p in (root / "zh-CN").glob("*.json")}
    en = {p.name: p for p in (root / "en-US").glob("*.json")}
    assert zh.keys() == en.keys()
    for name in zh:
        a = _keys(json.loads(Path(zh[name]).read_text("utf-8")))
        b = _keys(json.loads(Path(en[name]).read_text("utf-8")))
        assert a == b, (name, a ^ b)


SETTINGS_PAGES = {
    "bot": [],
    "kb": [
        ("kb-add", "question-dialog"),
        ("kb-import", "import-dialog"),
        ("kb-synonyms", "synonyms-dialog"),
    ],
    "entry": [],
    "greetings": [],
    "phrases": [("phrase-new", "phrase-dialog")],
    "reception": [],
    "staff": [("account-new", "new-account-dialog")],
    "team": [],
    "ratings": [],
    "quality": [],
    "live": [("edit-faq", "faq-dialog")],  # LIVE-1, LIVE-3
}


def _check(page: Page, where: str) -> None:
    page.wait_for_timeout(300)
    text = page.locator("body").inner_text()
    raw = RAW_KEY.findall(text)
    assert not raw, f"raw i18n keys on {where}: {RAW_KEY.search(text)}"


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_every_page_is_translated(server: Server, new_page: Any, watch: Watch, locale: str) -> None:
    page = new_page(base=server.base)
    page.goto(f"{server.base}/")
    page.get_by_test_id(f"lang-{locale}").click()
    expect(page.locator("html")).to_have_attribute("lang", locale)
    _check(page, "/")
    page.goto(f"{server.base}/login")
    field(page, "login-username").fill("agent2")
    field(page, "login-password").fill("wrong-password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_be_visible()
    _check(page, "/login")
    page.goto(f"{server.base}/demo/shop?shop=1")
    expect(page.get_by_test_id("product-card").first).to_be_visible()
    _check(page, "/demo/shop")
    page.goto(f"{server.base}/widget?shop=1&source=product&product={quote(json.dumps(PRODUCT))}")
    expect(page.get_by_test_id("widget-status")).to_have_attribute("data-state", "bot")
    _check(page, "/widget")

    login(page, server, "agent1")
    c = Consumer(server)
    c.open(PRODUCT)
    c.request_human()
    c.send("hello")
    page.get_by_test_id("conversation-item").first.click()
    _check(page, "/workbench")
    page.get_by_test_id("transfer-button").click()
    expect(page.get_by_test_id("picker-confirm")).to_be_visible()
    _check(page, "transfer dialog")
    page.keyboard.press("Escape")
    for tab in ("recent", "colleagues", "history", "mine"):
        page.get_by_test_id(f"tab-{tab}").click()
        _check(page, f"tab {tab}")
    c.close()
    page.goto(f"{server.base}/settings/phrases")
    expect(page.get_by_test_id("phrases-page")).to_be_visible()
    _check(page, "/settings/phrases (agent)")
    page.goto(f"{server.base}/settings/bot")
    expect(page.get_by_test_id("forbidden")).to_be_visible()
    _check(page, "/settings/bot (agent)")

    owner = new_page(base=server.base)
    owner.goto(f"{server.base}/")
    owner.get_by_test_id(f"lang-{locale}").click()
    login(owner, server, "owner", online=False)
    for sub, dialogs in SETTINGS_PAGES.items():
        owner.goto(f"{server.base}/settings/{sub}")
        expect(owner.get_by_test_id(f"{sub}-page")).to_be_visible()
        _check(owner, f"/settings/{sub}")
        for opener, dialog in dialogs:
            owner.get_by_test_id(opener).click()
            expect(owner.get_by_test_id(dialog)).to_be_visible()
            _check(owner, f"/settings/{sub} {dialog}")
            owner.keyboard.press("Escape")
            expect(owner.get_by_test_id(dialog)).to_be_hidden()
    assert watch.missing_keys == [], watch.missing_keys
    assert watch.dialogs == []


LEGACY_LINKS = ["javascript:alert(1)", "//evil.example/x", "data:text/html,<b>x</b>"]


@pytest.mark.parametrize("unsafe", LEGACY_LINKS)
def test_msg_5_unsafe_links_stored_before_validation_are_shown_as_text(
    server: Server, new_page: Any, watch: Watch, unsafe: str
) -> None:
    """Links are validated on the way in now, but rows written before that may still hold a
    script or protocol-relative URL: the workbench shows them as text, never as a link."""
    agent = new_page(base=server.base)
    login(agent, server, "agent1")
    c = Consumer(server)
    c.open(PRODUCT)
    c.request_human()
    with sqlite3.connect(server.data_dir / "kefu.db") as db:
        (raw,) = db.execute("select entry from conversations order by id desc limit 1").fetchone()
        entry = json.loads(raw)
        entry["page_url"] = unsafe
        entry["product"] = {**entry["product"], "url": unsafe, "image": unsafe}
        db.execute(
            "update conversations set entry = ? where id = (select max(id) from conversations)",
            (json.dumps(entry),),
        )
    agent.reload()
    agent.get_by_test_id("conversation-item").first.click()
    expect(agent.get_by_test_id("pane-origin")).to_have_text(unsafe)
    panel = agent.get_by_test_id("context-panel")
    expect(panel.get_by_test_id("context-product-title")).to_have_text(PRODUCT["title"])
    for testid in ("pane-origin", "context-product-title"):
        tags = agent.get_by_test_id(testid).evaluate_all("els => els.map(e => e.tagName)")
        assert "A" not in tags, (testid, tags)
    assert agent.locator(f'a[href="{unsafe}"], img[src="{unsafe}"]').count() == 0
    assert agent.locator('a[href^="javascript:"], a[href^="//"], a[href^="data:"]').count() == 0
    c.close()
    assert watch.dialogs == []
