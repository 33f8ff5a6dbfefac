"""DATA-6: consultation intents — classification on the bot's normalised text, the editable
taxonomy's limits, and the per-intent table with its top 10s, computed by hand."""

from __future__ import annotations

import pytest

from kefu import errors
from kefu.analytics.intents import (
    DEFAULT_TAXONOMY,
    OTHER,
    classify,
    intent_table,
    parse_taxonomy,
    top_by_contribution,
    top_by_volume,
)

LEAVES = parse_taxonomy(DEFAULT_TAXONOMY)


@pytest.mark.parametrize(
    ("texts", "intent"),
    [
        (["东西不想要了能退不"], ("售后", "退货退款")),
        (["发神么快递"], ("售后", "物流")),
        (["这件偏大吗 我身高165"], ("售前", "尺码")),
        (["还有货吗", "什么时候补货"], ("售前", "库存")),
        (["收到的衣服开线了，质量问题"], ("售后", "质量问题")),
        (["你们客服态度太差了我要投诉"], ("投诉", "服务投诉")),
        (["在吗"], OTHER),
    ],
)
def test_data_6_default_taxonomy_classifies_everyday_questions(
    texts: list[str], intent: tuple[str, str]
) -> None:
    assert classify(LEAVES, texts) == intent


def test_data_6_a_longer_keyword_outweighs_a_shorter_one() -> None:
    leaves = parse_taxonomy(
        [
            {"name": "A", "children": [{"name": "a", "keywords": ["退"]}]},
            {"name": "B", "children": [{"name": "b", "keywords": ["退货地址"]}]},
        ]
    )
    assert classify(leaves, ["退货地址发我一下"]) == ("B", "b")


def test_data_6_taxonomy_limits_are_enforced() -> None:
    leaf = {"name": "x", "keywords": ["k"]}
    with pytest.raises(errors.BadInput):
        parse_taxonomy([{"name": f"t{i}", "children": [leaf]} for i in range(11)])
    with pytest.raises(errors.BadInput):
        parse_taxonomy([{"name": "t", "children": [leaf, leaf]}])  # a name twice
    with pytest.raises(errors.BadInput):
        parse_taxonomy([{"name": "t", "children": [{"name": "x", "keywords": []}]}])
    with pytest.raises(errors.BadInput):
        parse_taxonomy([{"name": "名" * 21, "children": [leaf]}])


def test_data_6_table_dissatisfaction_and_contribution_by_hand() -> None:
    ret, log, size = ("售后", "退货退款"), ("售后", "物流"), ("售前", "尺码")
    rows = intent_table(
        [
            (ret, 1),
            (ret, 2),
            (ret, 5),
            (ret, None),
            (log, 1),
            (log, 4),
            (size, None),
            (size, 3),  # 3 stars is not dissatisfied
        ]
    )
    by = {(r.top, r.name): r for r in rows}
    assert (by[ret].conversations, by[ret].rated, by[ret].dissatisfied) == (4, 3, 2)
    assert by[ret].dissatisfaction_rate == pytest.approx(2 / 3)
    assert by[ret].contribution == pytest.approx(2 / 3)  # 2 of the 3 dissatisfied
    assert by[log].contribution == pytest.approx(1 / 3)
    assert by[size].dissatisfied == 0 and by[size].contribution == 0
    # log and size tie at 2 conversations: ties go by name (售前 sorts before 售后).
    assert [(r.top, r.name) for r in top_by_volume(rows)] == [ret, size, log]
    assert [(r.top, r.name) for r in top_by_contribution(rows)] == [ret, log]
    assert top_by_volume(rows, 1)[0].conversations == 4
