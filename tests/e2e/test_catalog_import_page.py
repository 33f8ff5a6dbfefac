"""API-1 in the browser: the owner imports a product file; each rejected row's reason code is
shown translated (zh-CN by default, English in en-US), never as the server's code."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import Server, Watch, login

pytestmark = pytest.mark.e2e

CSV = (
    "external_id,title,price\n"
    "k1,保温杯,89\n"
    "k2,,12\n"  # line 3: no title
    "k3,茶,1.005\n"  # line 4: three decimals
    "k4,杯\n"  # line 5: a cell short
).encode()


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("zh-CN", ["title：必填", "price：最多 2 位小数", "应有 3 列，实际 2 列"]),
        ("en-US", ["title: required", "price: at most 2 decimal places", "Expected 3 cells"]),
    ],
)
def test_api_1_import_page_translates_rejected_rows(
    server: Server, new_page: Any, watch: Watch, locale: str, expected: list[str]
) -> None:
    owner = new_page(base=server.base)
    login(owner, server, "owner", online=False)
    owner.goto(f"{server.base}/settings/tokens")
    if locale != "zh-CN":
        owner.get_by_test_id(f"lang-{locale}").click()
        expect(owner.locator("html")).to_have_attribute("lang", locale)
    panel = owner.get_by_test_id("catalog-import")
    panel.get_by_test_id("catalog-import-file").set_input_files(
        files=[{"name": "products.csv", "mimeType": "text/csv", "buffer": CSV}]
    )
    expect(panel.get_by_test_id("catalog-import-done")).to_contain_text("1")
    rows = panel.get_by_test_id("catalog-import-rejected").locator("tbody tr")
    expect(rows).to_have_count(3)
    for row, line, text in zip(rows.all(), ["3", "4", "5"], expected, strict=True):
        expect(row.locator("td").first).to_have_text(line)
        expect(row.locator("td").nth(1)).to_contain_text(text)
        expect(row).not_to_contain_text("field.")
    assert watch.missing_keys == [], watch.missing_keys
    assert watch.errors == []
