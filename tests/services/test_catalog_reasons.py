"""API-1: a rejected import row says why as a stable code with params, which the CLI tells in
English and the web UI in its locales (zh-CN, en-US)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from kefu.catalog import importer
from kefu.catalog.cli import REASONS, reason_text

WEB_LOCALES = Path(__file__).resolve().parents[2] / "web" / "src" / "locales"
PRODUCT = {"external_id": "p1", "title": "茶", "price": "9.90"}
ORDER = {
    "order_no": "D1",
    "consumer_uid": "u1",
    "amount": "9.90",
    "ordered_at": "2026-11-01T08:00:00+08:00",
}


def _rejected(kind: importer.Kind, row: object) -> tuple[str, dict[str, Any]]:
    with pytest.raises(importer.RowRejected) as caught:
        importer.parse_row(kind, row)
    return caught.value.code, dict(caught.value.params)


@pytest.mark.parametrize(
    ("kind", "row", "code", "params"),
    [
        ("products", "text", "row.not_an_object", {}),
        ("products", {**PRODUCT, "title": "a\x00b"}, "row.nul", {}),
        ("products", {"external_id": "p1", "price": "1"}, "field.missing", {"field": "title"}),
        ("products", {**PRODUCT, "colour": "red"}, "field.unknown", {"field": "colour"}),
        ("products", {**PRODUCT, "title": "x" * 201}, "field.too_long", {"field": "title"}),
        ("products", {**PRODUCT, "price": "abc"}, "field.not_number", {"field": "price"}),
        ("products", {**PRODUCT, "price": "1.005"}, "field.decimals", {"field": "price"}),
        ("products", {**PRODUCT, "price": "-1"}, "field.out_of_range", {"field": "price"}),
        ("products", {**PRODUCT, "stock": "many"}, "field.not_integer", {"field": "stock"}),
        ("products", {**PRODUCT, "on_sale": "maybe"}, "field.not_boolean", {"field": "on_sale"}),
        ("products", {**PRODUCT, "url": "javascript:x"}, "field.link", {"field": "url"}),
        ("orders", {**ORDER, "ordered_at": "soon"}, "field.not_datetime", {"field": "ordered_at"}),
        (
            "orders",
            {**ORDER, "ordered_at": "2026-11-01T08:00:00"},
            "field.no_timezone",
            {"field": "ordered_at"},
        ),
        ("orders", {**ORDER, "status": "lost"}, "field.not_a_choice", {"field": "status"}),
        ("orders", {**ORDER, "items": "[{"}, "field.not_json", {"field": "items"}),
        (
            "orders",
            {**ORDER, "items": [{"quantity": 1}]},
            "field.missing",
            {"field": "items.0.title"},
        ),
    ],
)
def test_api_1_each_rejected_row_has_a_stable_code_and_its_field(
    kind: importer.Kind, row: object, code: str, params: dict[str, Any]
) -> None:
    found_code, found_params = _rejected(kind, row)
    assert found_code == code
    assert {k: found_params[k] for k in params} == params


def test_api_1_rejection_params_carry_the_rules_limits() -> None:
    assert _rejected("products", {**PRODUCT, "title": "x" * 201}) == (
        "field.too_long",
        {"field": "title", "max": 200},
    )
    assert _rejected("products", {**PRODUCT, "stock": "-1"}) == (
        "field.out_of_range",
        {"field": "stock", "min": 0},
    )
    _code, params = _rejected("orders", {**ORDER, "status": "lost"})
    assert params["choices"] == "pending, paid, shipped, received, cancelled, refunded"
    items = json.dumps([{"title": "x"}] * (importer.MAX_ORDER_ITEMS + 1))
    assert _rejected("orders", {**ORDER, "items": items}) == (
        "field.too_many",
        {"field": "items", "max": importer.MAX_ORDER_ITEMS},
    )


def test_api_1_a_csv_row_with_the_wrong_cell_count_is_a_code() -> None:
    text = io.StringIO("external_id,title,price\np1,茶\n")
    ((line, row),) = list(importer.rows("products", "csv", text))
    assert line == 2
    assert isinstance(row, importer.RowRejected)
    assert (row.code, row.params) == ("row.cells", {"expected": 3, "found": 2})


def _codes() -> set[str]:
    return {*importer._FIELD_CODES.values(), "field.invalid", "row.not_an_object", "row.nul"} | {
        "row.cells"
    }


def test_api_1_the_cli_tells_every_code_in_english() -> None:
    assert _codes() <= REASONS.keys()
    assert reason_text("field.too_long", {"field": "title", "max": 200}) == (
        "title: longer than 200 characters"
    )
    assert reason_text("row.cells", {"expected": 3, "found": 2}) == "expected 3 cells, found 2"
    assert reason_text("field.missing", {}) == "field.missing"  # params lost: the code itself
    assert reason_text("future.code", {}) == "future.code"


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_api_1_the_web_translates_every_code(locale: str) -> None:
    reasons = json.loads((WEB_LOCALES / locale / "catalog.json").read_text())["import"]["reason"]
    for code in _codes():
        group, name = code.split(".")
        text = reasons[group][name]
        # Every placeholder the text uses is a param the code comes with.
        assert set(re.findall(r"\{(\w+)\}", text)) <= set(
            re.findall(r"\{(\w+)\}", REASONS[code])
        ), (locale, code)
    if locale == "zh-CN":
        assert not re.search(r"[A-Za-z]{4,}", reasons["field"]["missing"].replace("{field}", ""))
