"""DESK-5 and CONV-6 rules, pure: the profile's limits, time on page, and the 30-day window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kefu import errors
from kefu.customers.domain import (
    PageView,
    check_profile,
    may_start_proactive,
    page_view_time,
    time_on_pages,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("days", "allowed"), [(0, True), (29, True), (30, True), (30.001, False), (31, False)]
)
def test_limit_2_proactive_window_is_30_days_from_the_last_order(
    days: float, allowed: bool
) -> None:
    assert may_start_proactive(NOW - timedelta(days=days), NOW) is allowed


def test_conv_6_no_order_no_proactive_conversation() -> None:
    assert not may_start_proactive(None, NOW)


def test_desk_5_profile_limits() -> None:
    ok = check_profile("n" * 500, [f"t{i}" for i in range(10)], "13800138000")
    assert len(ok.tags) == 10 and ok.phone == "13800138000"
    assert check_profile("", ["x" * 20], "").tags == ("x" * 20,)
    for notes, tags, phone in (("n" * 501, [], ""), ("", ["x" * 21], ""), ("", [], "12ab5678")):
        with pytest.raises(errors.BadInput):
            check_profile(notes, tags, phone)


def test_desk_5_time_on_page_from_consecutive_views() -> None:
    views = [
        PageView("https://s.example/b", "B", NOW + timedelta(seconds=45)),
        PageView("https://s.example/a", "A", NOW),
    ]
    assert [(p.title, p.seconds_on_page) for p in time_on_pages(views)] == [("A", 45), ("B", None)]
    assert time_on_pages([]) == []


def test_desk_5_a_page_views_reported_time_is_kept_within_the_last_day() -> None:
    assert page_view_time(None, NOW) == NOW
    assert page_view_time(NOW - timedelta(minutes=5), NOW) == NOW - timedelta(minutes=5)
    assert page_view_time(NOW + timedelta(hours=3), NOW) == NOW
    assert page_view_time(NOW - timedelta(days=9), NOW) == NOW - timedelta(days=1)
