"""Report periods in the shop's time zone (DATA-1…DATA-4): a day, a week (Monday first), a
month or a custom range of whole days, each with the period before it for comparison."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from kefu import errors

MAX_AGENT_DAYS = 30  # DATA-2: agent analysis over a custom range of at most 30 days
MAX_INTENT_DAYS = 31  # DATA-6


class PeriodKind(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    CUSTOM = "custom"


@dataclass(frozen=True, slots=True)
class Period:
    """Local days `first` to `last` inclusive, in `tz`."""

    kind: PeriodKind
    first: date
    last: date
    tz: ZoneInfo

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.first, time(), self.tz)

    @property
    def ends_at(self) -> datetime:
        """The first instant after the period (exclusive bound)."""
        return datetime.combine(self.last + timedelta(days=1), time(), self.tz)

    def contains(self, at: datetime) -> bool:
        return self.first <= local_day(at, self.tz) <= self.last

    def previous(self) -> Period:
        """Yesterday, last week, last month, or the same number of days just before."""
        if self.kind is PeriodKind.MONTH:
            last = self.first - timedelta(days=1)
            return Period(self.kind, last.replace(day=1), last, self.tz)
        length = timedelta(days=self.days)
        return Period(self.kind, self.first - length, self.last - length, self.tz)


def local_day(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def period_of(
    kind: PeriodKind,
    *,
    tz: ZoneInfo,
    today: date,
    first: date | None = None,
    last: date | None = None,
    max_days: int | None = None,
) -> Period:
    """The period of `kind` that holds `today` (day, week, month), or the custom range
    `first`..`last`, refused beyond `max_days` days or when it ends before it starts."""
    if kind is PeriodKind.DAY:
        return Period(kind, today, today, tz)
    if kind is PeriodKind.WEEK:
        monday = today - timedelta(days=today.weekday())
        return Period(kind, monday, monday + timedelta(days=6), tz)
    if kind is PeriodKind.MONTH:
        start = today.replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
        return Period(kind, start, following - timedelta(days=1), tz)
    if first is None or last is None:
        raise errors.BadInput("A custom period needs its first and last day.", field="first")
    if last < first:
        raise errors.BadInput("A period cannot end before it starts.", field="last")
    period = Period(kind, first, last, tz)
    if max_days is not None and period.days > max_days:
        raise errors.BadInput(
            "The period is too long.", field="last", max_days=max_days, days=period.days
        )
    return period
