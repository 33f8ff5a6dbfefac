"""RATE-1 to RATE-3, DESK-4, CONV-10: the pure rules of ratings and summaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu import errors
from kefu.ratings.domain import (
    RatingRecord,
    RatingSource,
    average_response_time,
    best_rating,
    check_may_rate,
    check_source,
    check_stars,
    satisfaction_rate,
)
from kefu.summaries.domain import (
    Category,
    NodeDraft,
    build_tree,
    check_tree,
    leaf_path,
    needs_summary,
)

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _rating(
    stars: int, source: RatingSource = RatingSource.SELF, card: int | None = None
) -> RatingRecord:
    return RatingRecord(1, 7, stars, source, T0, card)


def test_rate_3_satisfaction_rate_against_a_hand_computed_fixture() -> None:
    # Ten conversations, by their best rating: 5 5 4 4 4 3 2 1, and two never rated.
    # Satisfied (4★ or 5★): 5 of the 8 rated → 5 / 8 = 0.625.
    best = [5, 5, 4, 4, 4, 3, 2, 1, None, None]
    assert satisfaction_rate(best) == 0.625
    assert satisfaction_rate([None, None]) is None
    assert satisfaction_rate([]) is None
    assert satisfaction_rate([3]) == 0.0
    assert satisfaction_rate([4]) == 1.0


def test_rate_3_each_conversation_counts_once_with_its_best_rating() -> None:
    # Conversation A rated 2 then 5 (counts as 5), B rated 4 then 1 (counts as 4), C rated 3.
    per_conversation = {"A": [2, 5], "B": [4, 1], "C": [3]}
    best = [best_rating(stars) for stars in per_conversation.values()]
    assert best == [5, 4, 3]
    assert satisfaction_rate(best) == pytest.approx(2 / 3)


@given(st.lists(st.one_of(st.none(), st.integers(1, 5)), max_size=50))
def test_rate_3_the_rate_is_a_share_of_the_rated_conversations(best: list[int | None]) -> None:
    rate = satisfaction_rate(best)
    rated = [s for s in best if s is not None]
    if not rated:
        assert rate is None
    else:
        assert rate is not None and 0.0 <= rate <= 1.0
        assert rate * len(rated) == pytest.approx(sum(1 for s in rated if s >= 4))


def test_rate_2_the_best_rating_counts_and_none_without_ratings() -> None:
    assert best_rating([_rating(2), _rating(5), _rating(1)]) == 5
    assert best_rating([]) is None


@pytest.mark.parametrize("stars", [0, 6, -1, True])
def test_rate_2_only_1_to_5_stars(stars: int) -> None:
    with pytest.raises(errors.BadInput):
        check_stars(stars)


def test_rate_1_self_rating_once_and_each_card_once() -> None:
    check_source(RatingSource.SELF, card_seq=None, earlier=[_rating(3, RatingSource.INVITED, 4)])
    with pytest.raises(errors.Conflict):
        check_source(RatingSource.SELF, card_seq=None, earlier=[_rating(3)])
    earlier = [_rating(3), _rating(4, RatingSource.INVITED, 9)]
    check_source(RatingSource.INVITED, card_seq=12, earlier=earlier)
    with pytest.raises(errors.Conflict):
        check_source(RatingSource.INVITED, card_seq=9, earlier=earlier)


def test_rate_1_rating_window_is_72_hours_after_the_end() -> None:
    assert check_may_rate(agent_id=7, ended_at=None, now=T0) == 7
    end = T0
    assert check_may_rate(agent_id=7, ended_at=end, now=end + timedelta(hours=72)) == 7
    with pytest.raises(errors.RuleViolation) as closed:
        check_may_rate(agent_id=7, ended_at=end, now=end + timedelta(hours=72, seconds=1))
    assert closed.value.code == "rating.window_closed"
    with pytest.raises(errors.RuleViolation) as nobody:
        check_may_rate(agent_id=None, ended_at=None, now=T0)
    assert nobody.value.code == "rating.no_agent"


def test_desk_4_average_response_time_counts_from_the_first_unanswered_message() -> None:
    s = timedelta(seconds=1)
    messages = [
        ("system", T0),
        ("consumer", T0 + 0 * s),
        ("consumer", T0 + 10 * s),
        ("agent", T0 + 30 * s),  # 30 s after the first unanswered message
        ("agent", T0 + 35 * s),  # answers nothing
        ("bot", T0 + 40 * s),
        ("consumer", T0 + 40 * s),
        ("agent", T0 + 90 * s),  # 50 s
    ]
    assert average_response_time(messages) == timedelta(seconds=40)
    assert average_response_time([("consumer", T0)]) is None
    assert average_response_time([]) is None


def _chain(levels: int) -> NodeDraft:
    node = NodeDraft(f"L{levels}")
    for level in range(levels - 1, 0, -1):
        node = NodeDraft(f"L{level}", children=(node,))
    return node


def test_conv_10_a_6_level_tree_is_refused_and_5_levels_pass() -> None:
    check_tree([_chain(5)])
    with pytest.raises(errors.RuleViolation) as refused:
        check_tree([_chain(6)])
    assert refused.value.code == "summary.too_deep"
    assert refused.value.params["max_depth"] == 5


@pytest.mark.parametrize("name", ["", "   ", "x" * 31, "a\x00b"])
def test_conv_10_category_names_are_1_to_30_characters(name: str) -> None:
    with pytest.raises(errors.BadInput):
        check_tree([NodeDraft(name)])


def test_conv_10_a_summary_names_a_leaf_and_keeps_its_path() -> None:
    stored = [
        Category(1, None, "售后", 0),
        Category(2, 1, "退货", 0),
        Category(3, 1, "换货", 1),
        Category(4, None, "售前", 1),
    ]
    assert leaf_path(stored, 3) == ["售后", "换货"]
    assert leaf_path(stored, 4) == ["售前"]
    with pytest.raises(errors.RuleViolation) as not_leaf:
        leaf_path(stored, 1)
    assert not_leaf.value.code == "summary.not_a_leaf"
    with pytest.raises(errors.NotFound):
        leaf_path(stored, 99)
    tree = build_tree(stored)
    assert [(n.name, [c.name for c in n.children]) for n in tree] == [
        ("售后", ["退货", "换货"]),
        ("售前", []),
    ]


def test_desk_2_needs_summary_only_when_a_human_served_and_not_summarised() -> None:
    assert needs_summary(assigned_at=T0, summarised=False)
    assert not needs_summary(assigned_at=T0, summarised=True)
    assert not needs_summary(assigned_at=None, summarised=False)
