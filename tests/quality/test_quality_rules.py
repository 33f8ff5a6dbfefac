"""QA-1, pure: each built-in rule has a transcript that triggers it and one that must not;
custom keyword, regex and timing rules; groups and versions; a catastrophic pattern."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu import errors
from kefu.quality.domain import (
    DEFAULT_RULES,
    Line,
    Polarity,
    Rule,
    RuleKind,
    RuleVersion,
    Speaker,
    Transcript,
    check_rules,
    compile_pattern,
    count_hits,
    inspect,
    next_applies_from,
    prepare,
    rule_from_json,
    rule_to_json,
    rules_in_force,
)

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
AGENT = 7


def c(s: float, text: str, seq: int) -> Line:
    return Line(seq, Speaker.CONSUMER, T0 + timedelta(seconds=s), text)


def a(s: float, text: str, seq: int) -> Line:
    return Line(seq, Speaker.AGENT, T0 + timedelta(seconds=s), text, AGENT)


def transcript(*lines: Line, until_s: float = 3600, group_id: int | None = 1) -> Transcript:
    return Transcript(
        conversation_id=1,
        group_id=group_id,
        agent_id=AGENT,
        assigned_at=T0,
        until=T0 + timedelta(seconds=until_s),
        lines=lines,
    )


def default(kind: RuleKind) -> Rule:
    return next(r for r in DEFAULT_RULES if r.kind is kind)


def hits_of(t: Transcript, *rules: Rule) -> list[tuple[str, int | None]]:
    return [(h.rule_key, h.seq) for h in inspect(t, prepare(rules))]


GOOD = transcript(
    c(0, "在吗", 1),
    a(10, "亲，您好，有什么可以帮您", 2),
    c(20, "什么时候发货", 3),
    a(30, "今天就发货", 4),
    a(40, "感谢您的支持，再见", 5),
)


def test_qa_1_a_good_conversation_hits_no_built_in_rule() -> None:
    assert hits_of(GOOD, *DEFAULT_RULES) == []


def test_qa_1_greeting_missing_or_late_is_a_hit() -> None:
    rule = default(RuleKind.GREETING)
    late = transcript(c(0, "在吗", 1), a(10, "在", 2), a(45, "您好", 3))
    assert hits_of(late, rule) == [("greeting", 2)]
    assert hits_of(transcript(c(0, "在吗", 1), a(5, "亲在的", 2)), rule) == []
    # No agent message at all, past the time: a hit at the assignment.
    assert hits_of(transcript(c(0, "在吗", 1)), rule) == [("greeting", None)]
    # Still within the time: not yet.
    assert hits_of(transcript(c(0, "在吗", 1), until_s=5), rule) == []


def test_qa_1_closing_phrase_missing_is_a_hit() -> None:
    rule = default(RuleKind.CLOSING)
    assert hits_of(transcript(c(0, "好的", 1), a(5, "嗯", 2)), rule) == [("closing", 2)]
    assert hits_of(transcript(c(0, "好的", 1), a(5, "谢谢亲", 2)), rule) == []


def test_qa_1_regreeting_after_a_long_silence() -> None:
    rule = default(RuleKind.REGREETING)
    silent = transcript(a(0, "您好", 1), c(5, "我想想", 2), c(900, "还在吗", 3), a(910, "在", 4))
    assert hits_of(silent, rule) == [("regreeting", 4)]
    greeted = transcript(
        a(0, "您好", 1), c(5, "我想想", 2), c(900, "还在吗", 3), a(910, "亲在的", 4)
    )
    assert hits_of(greeted, rule) == []
    assert hits_of(transcript(a(0, "您好", 1), c(5, "嗯", 2), a(20, "在", 3)), rule) == []


def test_qa_1_forbidden_words_hit_each_agent_message() -> None:
    rule = default(RuleKind.FORBIDDEN_WORDS)
    rude = transcript(c(0, "我不知道选哪个", 1), a(5, "我也不知道", 2), a(6, "爱买不买", 3))
    assert hits_of(rude, rule) == [("forbidden_words", 2), ("forbidden_words", 3)]
    assert hits_of(transcript(c(0, "不知道", 1), a(5, "我帮您看看", 2)), rule) == []


def test_qa_1_slow_first_response() -> None:
    rule = default(RuleKind.SLOW_FIRST_RESPONSE)
    slow = transcript(c(0, "在吗", 1), a(61, "您好", 2))
    assert hits_of(slow, rule) == [("slow_first_response", 2)]
    assert hits_of(transcript(c(0, "在吗", 1), a(60, "您好", 2)), rule) == []
    assert hits_of(transcript(c(0, "在吗", 1)), rule) == [("slow_first_response", None)]


def test_qa_1_unanswered_consumer_message() -> None:
    rule = default(RuleKind.UNANSWERED)
    left = transcript(a(0, "您好", 1), c(10, "退款", 2), c(11, "人呢", 3), until_s=400)
    assert hits_of(left, rule) == [("unanswered", 2)]
    assert hits_of(transcript(a(0, "您好", 1), c(10, "退款", 2), a(12, "好的", 3)), rule) == []
    # Still within the time when the inspection ran.
    assert hits_of(transcript(a(0, "您好", 1), c(10, "退款", 2), until_s=60), rule) == []


def test_qa_1_custom_keywords_positive_for_consumers_or_agents() -> None:
    praise = Rule("c1", RuleKind.KEYWORDS, Polarity.POSITIVE, phrases=("好评",), name="praise")
    hits = inspect(transcript(c(0, "给你好评", 1), a(2, "谢谢好评", 2)), prepare([praise]))
    assert [(h.seq, h.polarity) for h in hits] == [(2, Polarity.POSITIVE)]
    consumer = Rule("c2", RuleKind.KEYWORDS, speaker=Speaker.CONSUMER, phrases=("投诉",), name="x")
    assert hits_of(transcript(c(0, "我要投诉", 1)), consumer) == [("c2", 1)]
    assert hits_of(transcript(c(0, "没事了", 1)), consumer) == []


def test_qa_1_custom_regex_and_timing() -> None:
    phone = Rule("c1", RuleKind.REGEX, pattern=r"1\d{10}", name="phone")
    assert hits_of(transcript(a(0, "加我13812345678", 1)), phone) == [("c1", 1)]
    assert hits_of(transcript(a(0, "您好", 1)), phone) == []
    timing = Rule("c2", RuleKind.TIMING, within_s=30, name="slow")
    t = transcript(c(0, "在吗", 1), a(10, "在", 2), c(20, "?", 3), a(80, "抱歉", 4))
    assert hits_of(t, timing) == [("c2", 4)]


def test_qa_1_rules_apply_per_group_and_when_enabled() -> None:
    rule = Rule(
        "forbidden_words", RuleKind.FORBIDDEN_WORDS, group_ids=frozenset({2}), phrases=("滚",)
    )
    rude = (c(0, "?", 1), a(1, "滚", 2))
    assert hits_of(transcript(*rude, group_id=1), rule) == []
    assert hits_of(transcript(*rude, group_id=2), rule) == [("forbidden_words", 2)]
    off = Rule("forbidden_words", RuleKind.FORBIDDEN_WORDS, is_enabled=False, phrases=("滚",))
    assert hits_of(transcript(*rude), off) == []


def test_qa_1_catastrophic_pattern_neither_hangs_nor_fails() -> None:
    rule = check_rules([Rule("c1", RuleKind.REGEX, pattern="(a+)+$", name="evil")])[-1]
    evil = transcript(*(a(i, "a" * 40 + "!", i) for i in range(1, 200)))
    started = time.perf_counter()
    assert hits_of(evil, rule) == []
    assert time.perf_counter() - started < 0.5
    assert hits_of(transcript(a(0, "a" * 40, 1)), rule) == [("c1", 1)]


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=a)b", "(", "", "x" * 201])
def test_qa_1_unsupported_patterns_are_refused_with_a_code(pattern: str) -> None:
    with pytest.raises(errors.BadInput) as refused:
        compile_pattern(pattern)
    assert refused.value.code == "quality.pattern_invalid"


def test_qa_1_check_rules_keeps_built_ins_and_refuses_bad_ones() -> None:
    rules = check_rules([Rule("c1", RuleKind.KEYWORDS, phrases=(" 好评 ", "好评"), name="n")])
    assert {r.kind for r in rules} >= {r.kind for r in DEFAULT_RULES}
    assert rules[-1].phrases == ("好评",)
    bad = [
        [Rule("x1", RuleKind.KEYWORDS, phrases=("a",), name="n")],
        [Rule("c1", RuleKind.KEYWORDS, name="n")],
        [Rule("c1", RuleKind.TIMING, name="n")],
        [Rule("greeting", RuleKind.CLOSING, phrases=("a",))],
        [Rule("c1", RuleKind.KEYWORDS, phrases=("a",), name="n")] * 2,
        [Rule("c1", RuleKind.KEYWORDS, phrases=("a" * 51,), name="n")],
    ]
    for rules_in in bad:
        with pytest.raises(errors.BadInput):
            check_rules(rules_in)


def test_qa_1_a_change_applies_from_the_next_local_day() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    # 17:00 UTC on 1 December is already 2 December in Shanghai.
    assert next_applies_from(datetime(2026, 12, 1, 17, tzinfo=UTC), shanghai) == date(2026, 12, 3)
    new = (Rule("closing", RuleKind.CLOSING, is_enabled=False),)
    versions = [RuleVersion(date(2026, 12, 3), new)]
    assert rules_in_force(versions, date(2026, 12, 2)) == DEFAULT_RULES
    assert rules_in_force(versions, date(2026, 12, 3)) == new
    newer = (Rule("c1", RuleKind.TIMING, within_s=5, name="n"),)
    both = [*versions, RuleVersion(date(2026, 12, 5), newer)]
    assert rules_in_force(both, date(2026, 12, 4)) == new
    assert rules_in_force(both, date(2026, 12, 9)) == newer


def test_qa_2_counts_leave_out_false_positives() -> None:
    counts = count_hits([(1, "closing", False, 2), (1, "closing", True, 1), (2, "c1", True, 1)])
    assert counts == {1: {"closing": 2}, 2: {"c1": 0}}


def test_qa_1_rules_round_trip_as_json() -> None:
    rule = Rule(
        "c3", RuleKind.REGEX, Polarity.POSITIVE, True, frozenset({4}), 0, (), "a+", name="n"
    )
    assert rule_from_json(rule_to_json(rule)) == rule


WORDS = ("您好", "谢谢", "不知道", "在", "a", "好的", "滚")


@st.composite
def transcripts(draw: st.DrawFn) -> Transcript:
    gaps = draw(st.lists(st.integers(0, 1200), min_size=0, max_size=12))
    lines, at = [], 0
    for seq, gap in enumerate(gaps, start=1):
        at += gap
        speaker = draw(st.sampled_from(Speaker))
        text = "".join(draw(st.lists(st.sampled_from(WORDS), max_size=3)))
        lines.append(
            Line(
                seq,
                speaker,
                T0 + timedelta(seconds=at),
                text,
                AGENT if speaker is Speaker.AGENT else None,
            )
        )
    return transcript(*lines, until_s=at + draw(st.integers(0, 3600)))


@given(transcripts())
def test_qa_1_hits_point_at_the_transcripts_own_messages(t: Transcript) -> None:
    hits = inspect(t, prepare(DEFAULT_RULES))
    seqs = {x.seq for x in t.lines}
    agent_seqs = {x.seq for x in t.lines if x.speaker is Speaker.AGENT}
    for h in hits:
        assert h.seq is None or h.seq in seqs
        assert h.agent_id == AGENT and h.polarity is Polarity.NEGATIVE
    per_rule = {r.key: [h for h in hits if h.rule_key == r.key] for r in DEFAULT_RULES}
    for once in ("greeting", "closing", "slow_first_response"):
        assert len(per_rule[once]) <= 1
    forbidden = default(RuleKind.FORBIDDEN_WORDS).phrases
    expected = [
        x.seq for x in t.lines if x.speaker is Speaker.AGENT and any(w in x.text for w in forbidden)
    ]
    assert [h.seq for h in per_rule["forbidden_words"]] == expected
    assert all(h.seq in agent_seqs for h in per_rule["closing"] + per_rule["regreeting"])
    assert all(h.seq not in agent_seqs for h in per_rule["unanswered"])


@given(st.text(alphabet="a+*?()[]{}|\\^$.1!你好", max_size=30))
def test_qa_1_any_pattern_compiles_or_is_refused_with_the_code(pattern: str) -> None:
    try:
        program = compile_pattern(pattern)
    except errors.BadInput as refused:
        assert refused.code == "quality.pattern_invalid"
        return
    program.search("a" * 40 + "!")  # linear time, whatever the pattern
