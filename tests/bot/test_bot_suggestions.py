"""BOT-5, BOT-6 (issue 11): when the bot is not sure, it offers the questions that came close
("您是不是想问") whenever they are plausibly related: likely enough, or sharing a topic word with
the message at a lower floor; a click on one is answered and counts as a hit."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kefu.bot.domain import RELATED_FLOOR, SUGGEST_FLOOR, suggested_ids
from kefu.bot.matcher import Candidate, Matcher
from kefu.domain.shop import ShopSettings
from support import AgentSpec, Frames, Server, bot_answer, make_shop, running_server

BOT_ON = ShopSettings(bot_enabled=True, bot_mode="bot_first")
KB = [
    ("包邮吗", "全场包邮。", ["运费多少"]),
    ("退货运费谁出", "质量问题我们出，其他情况您出。", []),
    ("多久发货", "付款后48小时内发货。", ["什么时候发货"]),
    ("怎么退货", "七天无理由退货，在订单页申请即可。", ["退货流程是什么"]),
]


def _candidate(entry_id: int, confidence: float, *, shares_topic: bool) -> Candidate:
    return Candidate(entry_id, 1.0, confidence, "q", shares_topic=shares_topic)


def test_bot_5_suggestion_rule_floor_and_topic_word() -> None:
    offered = suggested_ids(
        [
            _candidate(1, SUGGEST_FLOOR, shares_topic=False),
            _candidate(2, SUGGEST_FLOOR - 0.01, shares_topic=False),
            _candidate(3, RELATED_FLOOR, shares_topic=True),
            _candidate(4, RELATED_FLOOR - 0.01, shares_topic=True),
            _candidate(5, 0.5, shares_topic=True),
            _candidate(6, 0.5, shares_topic=True),
        ]
    )
    assert offered == [1, 3, 5]  # at most three, best first


@pytest.mark.parametrize(
    ("text", "offered"),
    [
        ("运费", {"包邮吗", "退货运费谁出"}),
        ("退款", {"退款多久到账"}),
        ("发票能改吗", {"能开发票吗", "发票抬头写错了"}),
        ("优惠券怎么用不了", {"优惠券怎么用", "有优惠券吗"}),
    ],
)
def test_bot_5_demo_near_misses_offer_related_questions(
    demo: tuple[Matcher, dict[int, str]], text: str, offered: set[str]
) -> None:
    matcher, questions = demo
    decision = matcher.answer(text)
    assert decision.candidate is None
    assert {questions[i] for i in suggested_ids(decision.alternatives)} == offered


CHATTER: tuple[str, ...] = ("你们老板叫什么名字", "今天天气怎么样", "你喜欢看什么电影")
CHATTER += ("北京到上海的高铁要多久", "如何学好英语", "给我讲个笑话吧", "你是机器人吗", "在吗")


@pytest.mark.parametrize("text", CHATTER)
def test_bot_5_demo_unrelated_chatter_offers_nothing(
    demo: tuple[Matcher, dict[int, str]], text: str
) -> None:
    matcher, _ = demo
    decision = matcher.answer(text)
    assert decision.candidate is None
    assert suggested_ids(decision.alternatives) == []


async def _click(consumer: Frames, seq: int, question_id: int) -> dict[str, Any]:
    cid = consumer.conversation_id  # type: ignore[attr-defined]
    answer: dict[str, Any] = await consumer.request(
        {"type": "suggestion_click", "conversation_id": cid, "seq": seq, "question_id": question_id}
    )
    return answer


async def _kb(srv: Server) -> tuple[int, httpx.AsyncClient, dict[str, int]]:
    shop = await make_shop(srv.db, agents=[AgentSpec("alice")], settings=BOT_ON, clock=srv.clock)
    owner = await srv.staff(shop.shop_id, "owner")
    ids = {}
    for question, answer, phrasings in KB:
        made = await owner.post(
            "/api/kb/questions",
            json={"question": question, "answer": answer, "phrasings": phrasings},
        )
        assert made.status_code == 200, made.text
        ids[question] = made.json()["id"]
    return shop.shop_id, owner, ids


async def test_bot_5_clicking_a_near_miss_answers_it_and_counts_as_a_hit(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop_id, owner, ids = await _kb(srv)
        consumer = await srv.consumer(shop_id)
        cid = consumer.conversation_id  # type: ignore[attr-defined]
        miss = (await bot_answer(consumer, "运费", "c1"))["message"]
        assert miss["notice"]["code"] == "bot.suggestions", miss
        assert miss["meta"]["miss"] is True
        offered = [r["question_id"] for r in miss["meta"]["related"]]
        assert offered == [ids["包邮吗"], ids["退货运费谁出"]]

        # A question that was not offered in that message is refused, and nothing is posted.
        refused = await _click(consumer, miss["seq"], ids["多久发货"])
        assert (refused["type"], refused["code"]) == ("error", "not_found"), refused
        picked = await _click(consumer, miss["seq"], ids["退货运费谁出"])
        assert picked["type"] == "suggestion_click_recorded", picked
        assert (picked["conversation_id"], picked["seq"]) == (cid, miss["seq"])
        assert picked["question_id"] == ids["退货运费谁出"]
        answered = await consumer.wait_for(
            lambda f: f["type"] == "message" and f["message"]["seq"] == picked["answer_seq"]
        )
        answer = answered["message"]
        assert answer["sender"] == "bot"
        assert answer["body"] == "质量问题我们出，其他情况您出。"
        assert answer["meta"]["question_id"] == ids["退货运费谁出"]
        assert answer["meta"]["feedback"] == "pending"

        # The answer broke the run of misses: one more miss does not hand over.
        second = (await bot_answer(consumer, "你们老板叫什么名字", "c2"))["message"]
        assert second["notice"]["code"] == "bot.no_answer", second
        assert "related" not in second["meta"]
        conversation = await owner.get(f"/api/conversations/{cid}")
        assert conversation.status_code == 200, conversation.text
        assert conversation.json()["state"] == "bot"

        question = (await owner.get(f"/api/kb/questions/{ids['退货运费谁出']}")).json()
        assert question["hit_count"] == 1
        day = srv.clock.now().date().isoformat()
        stats = await owner.get("/api/bot/stats", params={"start": day, "end": day})
        assert stats.status_code == 200, stats.text
        figures = stats.json()
        assert (figures["answers"], figures["misses"], figures["suggestion_clicks"]) == (1, 2, 1)
        assert figures["consultations"] == 1


async def test_bot_5_related_questions_of_an_answer_are_answered_when_clicked(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        shop_id, owner, ids = await _kb(srv)
        linked = await owner.put(
            f"/api/kb/questions/{ids['怎么退货']}",
            json={
                "question": "怎么退货",
                "answer": "七天无理由退货，在订单页申请即可。",
                "phrasings": ["退货流程是什么"],
                "related_ids": [ids["退货运费谁出"]],
            },
        )
        assert linked.status_code == 200, linked.text
        consumer = await srv.consumer(shop_id)
        first = (await bot_answer(consumer, "怎么退货", "c1"))["message"]
        assert first["meta"]["related"] == [
            {"question_id": ids["退货运费谁出"], "question": "退货运费谁出"}
        ]
        picked = await _click(consumer, first["seq"], ids["退货运费谁出"])
        assert picked["type"] == "suggestion_click_recorded", picked
        # The consumer's own message is no offer, nor is a seq past the conversation's end.
        own = await _click(consumer, first["seq"] - 1, ids["退货运费谁出"])
        assert own.get("code") == "not_found", own
        beyond = await _click(consumer, first["seq"] + 50, ids["退货运费谁出"])
        assert beyond.get("code") == "not_found", beyond
        day = srv.clock.now().date().isoformat()
        stats = (await owner.get("/api/bot/stats", params={"start": day, "end": day})).json()
        assert (stats["answers"], stats["misses"], stats["suggestion_clicks"]) == (2, 0, 1)
