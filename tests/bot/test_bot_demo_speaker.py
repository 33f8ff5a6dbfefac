"""BOT-5 (issue 11): on the demo shop's knowledge base, who asks is no part of the question:
"我想退货" is 退货 (jieba would cut 我|想|退货 and leave 想 as a word the entry lacks), while
unrelated questions that start the same way stay unanswered."""

from __future__ import annotations

import pytest

from kefu.bot.matcher import Matcher
from kefu.bot.text import WordCutter


def test_bot_5_speaker_phrases_are_cut_whole() -> None:
    assert WordCutter([]).cut("我想退货") == ["我想", "退货"]
    assert WordCutter([]).cut("我要退货") == ["我要", "退货"]


@pytest.mark.parametrize(
    ("text", "question"),
    [("我想退货", "怎么退货"), ("我想要退货", "怎么退货"), ("我要退货呢", "怎么退货")],
)
def test_bot_5_demo_speaker_phrase_is_answered(
    demo: tuple[Matcher, dict[int, str]], text: str, question: str
) -> None:
    matcher, questions = demo
    decision = matcher.answer(text)
    assert decision.candidate is not None, (text, matcher.match(text))
    assert questions[decision.candidate.entry_id] == question


@pytest.mark.parametrize("text", ["我想看电影", "我要去北京", "我想知道你们老板是谁"])
def test_bot_5_demo_speaker_phrase_chatter_is_not_answered(
    demo: tuple[Matcher, dict[int, str]], text: str
) -> None:
    matcher, _ = demo
    assert matcher.answer(text).candidate is None
