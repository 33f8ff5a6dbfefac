"""BOT-5 (issue 11): on the demo shop's own knowledge base (src/kefu/demo/kb.json, questions and
phrasings as the seed imports them), the paraphrases consumers typed are answered with the
right entry, and questions the shop never wrote about are not."""

from __future__ import annotations

import pytest

from kefu.bot.matcher import Matcher

# The paraphrases of issue 11, then variants of our own, each with the entry that answers it.
ISSUE_11_PARAPHRASES = (
    ("我要怎么退货呢", "怎么退货"),
    ("退货流程是什么", "怎么退货"),
    ("可以开票吗", "能开发票吗"),
    ("快递用的哪家", "发什么快递"),
    ("发货要几天", "多久发货"),
    ("发神么快递", "发什么快递"),
    ("东西不想要了能退不", "支持七天无理由退货吗"),
)
OWN_VARIANTS = (
    ("退货怎么弄", "怎么退货"),
    ("能开发票不", "能开发票吗"),
    ("有没有优惠券", "有优惠券吗"),
    ("包邮不", "包邮吗"),
    ("你们发啥快递", "发什么快递"),
    ("咋退货", "怎么退货"),
    ("退款几天到账", "退款多久到账"),
    ("订单怎么取消", "怎么取消订单"),
    ("不想要了能退吗", "支持七天无理由退货吗"),
)
UNRELATED = (
    "你们老板叫什么名字",
    "今天天气怎么样",
    "你喜欢看什么电影",
    "北京到上海的高铁要多久",
    "如何学好英语",
    "给我讲个笑话吧",
)


@pytest.mark.parametrize(("text", "question"), ISSUE_11_PARAPHRASES + OWN_VARIANTS)
def test_bot_5_issue_11_demo_paraphrase_is_answered(
    demo: tuple[Matcher, dict[int, str]], text: str, question: str
) -> None:
    matcher, questions = demo
    decision = matcher.answer(text)
    assert decision.candidate is not None, (text, matcher.match(text))
    assert questions[decision.candidate.entry_id] == question


@pytest.mark.parametrize("text", UNRELATED)
def test_bot_5_issue_11_demo_unrelated_question_is_not_answered(
    demo: tuple[Matcher, dict[int, str]], text: str
) -> None:
    matcher, _ = demo
    decision = matcher.answer(text)
    assert decision.candidate is None, (text, decision.candidate)
