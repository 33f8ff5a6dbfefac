"""DATA-5, pure: the conversation list's filters, cursor and CSV row."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kefu import errors
from kefu.analytics.conversations import (
    MAX_PAGE_SIZE,
    RatingResult,
    RatingVerdict,
    csv_row,
    make_query,
)
from kefu.ratings.domain import RatingSource

T = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def test_data_5_rating_results_judge_the_best_rating() -> None:
    assert RatingResult.parse("4").stars_range() == (4, 4)
    assert RatingResult.parse("satisfied").stars_range() == (4, 5)
    assert RatingResult.parse("unsatisfied").stars_range() == (1, 3)
    unrated = RatingResult.parse("unrated")
    assert unrated.verdict is RatingVerdict.UNRATED and unrated.stars_range() is None
    for bad in ("0", "6", "good", ""):
        with pytest.raises(errors.BadInput) as refused:
            RatingResult.parse(bad)
        assert refused.value.params["field"] == "rating"


def test_data_5_query_checks_its_range_page_size_source_and_cursor() -> None:
    query = make_query(rating_source="forced", rating="satisfied", cursor="42", page_size=5)
    assert query.rating_source is RatingSource.FORCED and query.before_id == 42
    with pytest.raises(errors.BadInput):
        make_query(since=T, until=T)
    with pytest.raises(errors.BadInput):
        make_query(page_size=MAX_PAGE_SIZE + 1)
    with pytest.raises(errors.BadInput):
        make_query(rating_source="bot")
    edge = datetime.fromisoformat("0001-01-01T00:00:00+05:00")
    with pytest.raises(errors.BadInput) as refused:
        make_query(since=edge)
    assert refused.value.params["field"] == "since"
    for bad in ("abc", "-1", "0", "9" * 20):
        with pytest.raises(errors.BadInput):
            make_query(cursor=bad)


def test_data_5_csv_row_flattens_ratings_and_summary() -> None:
    item = {
        "id": 7,
        "state": "ended",
        "created_at": T,
        "ended_at": None,
        "consumer": {"id": 1, "uid": "u1", "nickname": "=cmd"},
        "agent_name": "Mei",
        "group_name": "售前",
        "best_stars": 4,
        "ratings": [{"stars": 2, "source": "invited"}, {"stars": 4, "source": "invited"}],
        "summary": {"path": ["售前", "价格"], "note": "问价"},
    }
    row = csv_row(item)
    assert row["ratings"] == "2★(invited) 4★(invited)"
    assert (row["summary"], row["summary_note"]) == ("售前 › 价格", "问价")
    assert (row["created_at"], row["ended_at"]) == ("2026-01-05T08:00:00+00:00", None)
    assert csv_row({**item, "summary": None})["summary"] is None
