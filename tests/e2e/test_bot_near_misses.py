"""BOT-5, BOT-6 in the browser, on the demo shop's own knowledge base: a question the bot is not
sure of offers the close questions under "您是不是想问" ("Did you mean" in English); clicking
one answers it, and the owner's statistics count it as an answer and a suggestion picked."""

from __future__ import annotations

import datetime as dt
from typing import Any

from playwright.sync_api import Locator, Page, expect

from .conftest import Server, Watch, field

RETURN_SHIPPING = "质量问题由我们承担运费；无理由退货的运费由买家承担，购买了运费险的会按保险理赔。"


def _bot_messages(widget: Page) -> Locator:
    return widget.locator("[data-testid=message][data-sender=bot]")


def _ask(widget: Page, text: str) -> None:
    field(widget, "widget-input").fill(text)
    widget.get_by_test_id("widget-send").click()


def _stats(server: Server) -> dict[str, Any]:
    owner = server.staff("owner", online=False)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    stats = owner.get("/api/bot/stats", params={"start": today, "end": today})
    stats.raise_for_status()
    owner.post("/api/auth/logout")
    owner.close()
    return dict(stats.json())


def test_bot_5_widget_offers_did_you_mean_and_answers_the_pick(
    server: Server, new_page: Any, watch: Watch
) -> None:
    before = _stats(server)
    phone = new_page(width=390, height=844)
    phone.goto(f"{server.base}/widget?shop=1")
    expect(field(phone, "widget-input")).to_be_visible()
    _ask(phone, "运费")
    miss = phone.locator("[data-testid=message][data-notice='bot.suggestions']").first
    # The first question of a fresh demo server opens the conversation and waits for the bot's
    # warm-up: on a loaded machine that took longer than Playwright's default 5 s once.
    expect(miss.get_by_test_id("related-label")).to_have_text("您是不是想问", timeout=15000)
    offered = miss.get_by_test_id("related-question")
    expect(offered).to_have_count(2)
    expect(offered).to_have_text(["包邮吗", "退货运费谁出"])

    offered.filter(has_text="退货运费谁出").click()
    answer = _bot_messages(phone).filter(has_text=RETURN_SHIPPING).first
    expect(answer.get_by_test_id("feedback-resolved")).to_be_visible()
    # Nothing was sent as the consumer's own message: the pick is not re-asked as text.
    expect(phone.locator("[data-testid=message][data-sender=consumer]")).to_have_count(1)

    # In English the same offer reads "Did you mean".
    phone.get_by_test_id("lang-en-US").click()
    expect(phone.locator("html")).to_have_attribute("lang", "en-US")
    expect(miss.get_by_test_id("related-label")).to_have_text("Did you mean")

    after = _stats(server)
    assert after["suggestion_clicks"] == before["suggestion_clicks"] + 1
    assert after["answers"] == before["answers"] + 1
    assert after["misses"] == before["misses"] + 1
    assert watch.errors == []
    assert watch.dialogs == []
