"""ROUTE-6 service hours and the OFFL-1 decisions as pure rules, in the shop's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu import errors
from kefu.domain.shop import ShopSettings
from kefu.offline import domain
from kefu.offline.domain import OfflineCause

WEEKDAYS_9_TO_18 = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def _hours(**overrides: object) -> domain.ServiceHours:
    values: dict[str, object] = {
        "enabled": True,
        "time_zone": "Asia/Shanghai",
        "weekly": WEEKDAYS_9_TO_18,
        "holidays": [],
        "special_days": {},
    }
    values.update(overrides)
    return domain.service_hours(**values)  # type: ignore[arg-type]


def _utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)  # 2026-01-05 is a Monday


def test_route_6_hours_are_read_in_the_shops_time_zone() -> None:
    hours = _hours()
    assert hours.is_open(_utc(5, 1))  # 09:00 Monday in Shanghai
    assert not hours.is_open(_utc(5, 0, 59))  # 08:59
    assert hours.is_open(_utc(5, 9, 59))  # 17:59
    assert not hours.is_open(_utc(5, 10))  # 18:00: the window's end is closed
    # 20:00 UTC Sunday is 04:00 Monday in Shanghai: closed although Monday in UTC opens later.
    assert not hours.is_open(_utc(4, 20))
    # 09:00 UTC Saturday is 17:00 Saturday in Shanghai: closed on the weekend.
    assert not hours.is_open(_utc(10, 9))


def test_route_6_a_zone_west_of_utc() -> None:
    hours = _hours(time_zone="America/New_York")
    # 15:00 UTC Monday is 10:00 in New York (EST, UTC-5): open; 02:00 UTC Tuesday is 21:00 Mon.
    assert hours.is_open(_utc(5, 15))
    assert not hours.is_open(_utc(6, 2))


def test_route_6_a_holiday_is_closed_and_a_special_day_opens() -> None:
    hours = _hours(
        holidays=["2026-01-06"],
        special_days={"2026-01-10": [["10:00", "12:00"]], "2026-01-07": [["13:00", "14:00"]]},
    )
    assert not hours.is_open(_utc(6, 2))  # Tuesday 10:00 Shanghai, a holiday
    assert hours.is_open(_utc(10, 2, 30))  # Saturday 10:30, a special opening day
    assert not hours.is_open(_utc(10, 4))  # Saturday 12:00
    assert not hours.is_open(_utc(7, 2))  # a special day's own windows replace the weekday's
    assert hours.is_open(_utc(7, 5, 30))


def test_route_6_not_enabled_is_always_open() -> None:
    assert _hours(enabled=False, weekly={}).is_open(_utc(10, 3))


@given(st.integers(min_value=0, max_value=7 * 24 * 60 - 1))
def test_route_6_an_all_day_week_is_always_open(minutes: int) -> None:
    hours = _hours(weekly={d: [["00:00", "24:00"]] for d in domain.WEEKDAYS})
    assert hours.is_open(_utc(5, 0) + timedelta(minutes=minutes))


@pytest.mark.parametrize(
    "change",
    [
        {"time_zone": "Mars/Olympus"},
        {"time_zone": "../etc/passwd"},
        {"service_hours": {"funday": []}},
        {"service_hours": {"mon": [["18:00", "09:00"]]}},
        {"service_hours": {"mon": [["9:00", "18:00"]]}},
        {"service_hours": {"mon": [["09:00", "18:00"]] * 5}},
        {"holidays": ["2026-13-01"]},
        {"special_days": {"tomorrow": [["09:00", "10:00"]]}},
        {"offline_after_s": -1},
        {"offline_message": "x" * 501},
    ],
)
def test_route_6_bad_settings_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(errors.BadInput):
        ShopSettings().updated(**change)


def test_route_6_settings_keep_their_values_through_json() -> None:
    settings = ShopSettings().updated(
        time_zone="Europe/Berlin",
        service_hours_enabled=True,
        service_hours={"sat": [["10:00", "14:00"]]},
        holidays=["2026-12-25"],
        offline_after_s=90,
        offline_auto_assign=True,
    )
    assert ShopSettings.from_json(settings.to_json()) == settings
    assert settings.hours.is_open(datetime(2026, 1, 10, 10, tzinfo=UTC))  # 11:00 Berlin


def test_offl_1_why_a_request_goes_offline() -> None:
    decide = domain.offline_cause
    assert decide(blacklisted=True, is_open=True, anyone_online=True) is OfflineCause.BLACKLISTED
    assert decide(blacklisted=False, is_open=False, anyone_online=True) is (
        OfflineCause.OUTSIDE_HOURS
    )
    assert decide(blacklisted=False, is_open=True, anyone_online=False) is OfflineCause.NO_AGENT
    assert decide(blacklisted=False, is_open=True, anyone_online=True) is None


def test_offl_1_left_the_queue_15_minutes_ago_and_not_served() -> None:
    left = _utc(5, 1)
    grace = domain.LEFT_QUEUE_GRACE
    assert grace == timedelta(minutes=15)
    assert not domain.left_queue_is_offline(left_at=left, served_since=False, now=left + grace / 2)
    assert domain.left_queue_is_offline(left_at=left, served_since=False, now=left + grace)
    assert not domain.left_queue_is_offline(left_at=left, served_since=True, now=left + grace)


def test_route_5_a_reason_is_trimmed_and_size_limited() -> None:
    assert domain.check_reason("  辱骂 ") == "辱骂"
    with pytest.raises(ValueError, match="200"):
        domain.check_reason("x" * 201)
