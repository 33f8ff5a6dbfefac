"""DATA-1…DATA-4 periods: day, week, month and custom, in the shop's time zone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from kefu import errors
from kefu.analytics.periods import MAX_AGENT_DAYS, PeriodKind, local_day, period_of

TZ = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 12, 1)  # a Tuesday


def test_data_1_periods_hold_today_and_name_the_one_before() -> None:
    day = period_of(PeriodKind.DAY, tz=TZ, today=TODAY)
    assert (day.first, day.last, day.previous().first) == (TODAY, TODAY, date(2026, 11, 30))
    week = period_of(PeriodKind.WEEK, tz=TZ, today=TODAY)
    assert (week.first, week.last) == (date(2026, 11, 30), date(2026, 12, 6))
    assert week.previous().first == date(2026, 11, 23)
    month = period_of(PeriodKind.MONTH, tz=TZ, today=date(2026, 3, 15))
    assert (month.first, month.last) == (date(2026, 3, 1), date(2026, 3, 31))
    assert (month.previous().first, month.previous().last) == (date(2026, 2, 1), date(2026, 2, 28))


def test_data_1_a_period_is_bounded_by_local_midnights() -> None:
    day = period_of(PeriodKind.DAY, tz=TZ, today=TODAY)
    assert day.starts_at == datetime(2026, 11, 30, 16, 0, tzinfo=ZoneInfo("UTC"))
    assert day.contains(datetime(2026, 11, 30, 16, 0, tzinfo=ZoneInfo("UTC")))
    assert not day.contains(datetime(2026, 11, 30, 15, 59, tzinfo=ZoneInfo("UTC")))
    assert local_day(datetime(2026, 11, 30, 16, 0, tzinfo=ZoneInfo("UTC")), TZ) == TODAY


def test_data_2_a_custom_range_over_30_days_is_refused() -> None:
    ok = period_of(
        PeriodKind.CUSTOM,
        tz=TZ,
        today=TODAY,
        first=date(2026, 11, 1),
        last=date(2026, 11, 30),
        max_days=MAX_AGENT_DAYS,
    )
    assert ok.days == 30 and ok.previous().last == date(2026, 10, 31)
    with pytest.raises(errors.BadInput) as refused:
        period_of(
            PeriodKind.CUSTOM,
            tz=TZ,
            today=TODAY,
            first=date(2026, 11, 1),
            last=date(2026, 12, 1),
            max_days=MAX_AGENT_DAYS,
        )
    assert refused.value.params["max_days"] == 30
    with pytest.raises(errors.BadInput):
        period_of(PeriodKind.CUSTOM, tz=TZ, today=TODAY, first=TODAY, last=date(2026, 11, 1))
