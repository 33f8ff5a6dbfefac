"""DATA-5, DATA-7, DATA-8 in the browser: the demo shop's owner filters the conversation list
by rating, opens a transcript and exports the list; then reads the inquiry conversion (询单转化)
card, whose figures are the API's and the CSV's."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from .conftest import SCREENSHOTS, Consumer, Server, Watch, login, sign_identity

pytestmark = pytest.mark.e2e
BUYER_UID = "e2e-convlist-buyer"


def _served_rated_and_paid(server: Server) -> int:
    """A signed-in buyer asks, agent2 answers, the buyer gives 5 stars and then pays."""
    owner = server.staff("owner", online=False)
    agent = server.staff("agent2", limit=1)
    buyer = Consumer(server, sign_identity(server, BUYER_UID, "小张"))
    try:
        buyer.open()
        buyer.send("你好，请问有货吗")
        conversation = buyer.request_human()
        agent.post(
            f"/api/conversations/{conversation['id']}/messages",
            json={"client_id": f"a-{uuid.uuid4()}", "body": "有的，亲"},
        ).raise_for_status()
        buyer.ws.send(
            json.dumps({"type": "rate", "conversation_id": conversation["id"], "stars": 5})
        )
        buyer.wait_for(lambda f: f["type"] == "rated")
        now = datetime.now(UTC).isoformat()
        order = {
            "order_no": f"e2e-{uuid.uuid4().hex[:8]}",
            "consumer_uid": BUYER_UID,
            "amount": "88.00",
            "ordered_at": now,
            "paid_at": now,
            "items": [{"title": "羊绒大衣", "quantity": 1, "price": "88.00"}],
        }
        imported = owner.post(
            "/api/catalog/orders/import",
            content=json.dumps([order]),
            headers={"Content-Type": "application/json"},
        )
        imported.raise_for_status()
        assert imported.json()["imported"] == 1, imported.text
        owner.post("/api/auth/logout").raise_for_status()  # the browser signs in next
        return int(conversation["id"])
    finally:
        buyer.close()
        agent.close()
        owner.close()


def test_data_5_data_7_list_filter_transcript_sales_card_and_csv(
    server: Server, new_page: Page, watch: Watch
) -> None:
    conversation_id = _served_rated_and_paid(server)
    page = new_page()
    login(page, server, "owner", online=False)

    page.goto(f"{server.base}/settings/conversations")
    listing = page.get_by_test_id("analytics-conversations")
    table = listing.get_by_test_id("convlist-table")
    row = table.locator("tr", has_text="小张")
    expect(row).to_be_visible()
    expect(row.get_by_test_id("convlist-rating")).to_contain_text("买家主动评价")

    # Unsatisfied ones only: the 5-star conversation goes; satisfied ones: it is back.
    listing.get_by_test_id("filter-rating").click()
    page.locator(".convlist-rating-popper [data-testid=filter-rating-unsatisfied]").click()
    listing.get_by_test_id("convlist-search").click()
    expect(table.locator("tr", has_text="小张")).to_have_count(0)
    listing.get_by_test_id("filter-rating").click()
    page.locator(".convlist-rating-popper [data-testid=filter-rating-satisfied]").click()
    listing.get_by_test_id("convlist-search").click()
    expect(table.locator("tr", has_text="小张")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "analytics-conversations.png"), full_page=True)

    table.locator("tr", has_text="小张").get_by_test_id("convlist-open").click()
    transcript = page.get_by_test_id("transcript")
    expect(transcript).to_contain_text("你好，请问有货吗")
    expect(transcript).to_contain_text("有的，亲")
    page.keyboard.press("Escape")

    with page.expect_download() as download_info:
        listing.get_by_test_id("export-conversations").click()
    text = download_info.value.path().read_text(encoding="utf-8-sig")
    rows = {r["conversation_id"]: r for r in csv.DictReader(io.StringIO(text))}
    exported = rows[str(conversation_id)]
    assert (exported["consumer_nickname"], exported["best_stars"]) == ("小张", "5")
    # The export carries the filter: satisfied conversations only.
    assert all(r["best_stars"] in ("4", "5") for r in rows.values())

    # DATA-7: the card shows the API's numbers, and the CSV the same.
    page.get_by_test_id("menu-sales").click()
    sales = page.get_by_test_id("analytics-sales")
    view = page.evaluate("fetch('/api/analytics/sales').then(r => r.json())")
    assert view["current"]["served"] >= 1 and view["current"]["paying"] >= 1
    for key in ("served", "inquiring", "paying"):
        value = sales.get_by_test_id(f"figure-sales-{key}").get_by_test_id("figure-value")
        expect(value).to_have_text(str(view["current"][key]))
    expect(sales.get_by_test_id("figure-sales-sales").get_by_test_id("figure-value")).to_have_text(
        f"¥{view['current']['sales']}"
    )
    expect(sales.get_by_test_id("sales-chart").locator("canvas")).to_have_count(1)
    expect(sales.get_by_test_id("sales-agents")).to_contain_text("阿杰")
    page.screenshot(path=str(SCREENSHOTS / "analytics-sales.png"), full_page=True)
    with page.expect_download() as download_info:
        sales.get_by_test_id("export-sales").click()
    text = download_info.value.path().read_text(encoding="utf-8-sig")
    shop_today = next(csv.DictReader(io.StringIO(text)))
    assert shop_today["day"] == view["day"] and shop_today["agent_id"] == ""
    assert shop_today["served"] == str(view["current"]["served"])
    assert shop_today["sales"] == view["current"]["sales"]

    # In English too, with every key translated.
    page.get_by_test_id("lang-en-US").click()
    expect(sales.get_by_test_id("figure-sales-served")).to_contain_text("Served")
    expect(sales.get_by_test_id("figure-sales-served")).to_contain_text("Yesterday")
    page.get_by_test_id("menu-conversations").click()
    expect(listing.get_by_test_id("convlist-rating").first).to_contain_text("Rated by the buyer")
    assert watch.missing_keys == [] and watch.errors == []
