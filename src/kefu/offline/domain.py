"""Offline messages, the blacklist and service hours (OFFL-1 to OFFL-4, ROUTE-5, ROUTE-6).

Pure: the caller passes the shop's settings and the time. The service-hours rule reads the
time in the shop's own time zone (zoneinfo), so a Shanghai shop opens at 09:00 Shanghai time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIME_ZONE = "Asia/Shanghai"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order
# OFFL-1: a consumer who left the queue becomes an offline message unless back by then.
LEFT_QUEUE_GRACE = timedelta(minutes=15)
# OFFL-2: the tab counts consumers with unprocessed messages from this far back.
COUNT_WINDOW = timedelta(days=7)
MAX_REASON_CHARS = 200  # ROUTE-5: a blacklist entry's reason
MAX_OFFLINE_MESSAGE_CHARS = 500  # ROUTE-6: the shop's message outside service hours
MAX_WINDOWS_PER_DAY = 4
MAX_DATES = 366  # holidays, and special opening days, each
MAX_OFFLINE_AFTER_S = 24 * 3600
MAX_BATCH = 100  # OFFL-3: entries marked or started at once

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


class OfflineCause(StrEnum):
    """OFFL-1, ROUTE-5, ROUTE-6: why a human request became an offline message."""

    NO_AGENT = "no_agent"  # nobody eligible online
    NO_PICKUP = "no_pickup"  # queued longer than the shop's wait
    OUTSIDE_HOURS = "outside_hours"
    LEFT_QUEUE = "left_queue"  # left the queue and did not come back within 15 minutes
    BLACKLISTED = "blacklisted"


class ProcessedCause(StrEnum):
    """OFFL-3, OFFL-4: how an entry came to be processed."""

    MARKED = "marked"
    STARTED = "started"
    SERVED = "served"
    AUTO_ASSIGNED = "auto_assigned"


Window = tuple[time, time]


@dataclass(frozen=True, slots=True)
class ServiceHours:
    """ROUTE-6: opening windows per weekday, closed dates and special opening days.

    Not enabled: always open. A weekday without windows is closed; a holiday is closed
    whatever its weekday; a special opening day uses its own windows (a holiday that is also
    a special day opens)."""

    enabled: bool
    time_zone: ZoneInfo
    weekly: Mapping[int, Sequence[Window]]
    holidays: frozenset[date]
    special_days: Mapping[date, Sequence[Window]]

    def is_open(self, now: datetime) -> bool:
        if not self.enabled:
            return True
        local = now.astimezone(self.time_zone)
        day = local.date()
        if day in self.special_days:
            windows = self.special_days[day]
        elif day in self.holidays:
            return False
        else:
            windows = self.weekly.get(day.weekday(), ())
        at = local.time().replace(tzinfo=None)
        return any(start <= at < end for start, end in windows)


def service_hours(
    *,
    enabled: bool,
    time_zone: str,
    weekly: Mapping[str, Sequence[Sequence[str]]],
    holidays: Sequence[str],
    special_days: Mapping[str, Sequence[Sequence[str]]],
) -> ServiceHours:
    """ROUTE-6: the shop's settings as a rule; raises ValueError for a bad value."""
    unknown = set(weekly) - set(WEEKDAYS)
    if unknown:
        raise ValueError(f"service_hours weekdays are {', '.join(WEEKDAYS)}")
    if len(holidays) > MAX_DATES or len(special_days) > MAX_DATES:
        raise ValueError(f"at most {MAX_DATES} holidays and special days")
    return ServiceHours(
        enabled=enabled,
        time_zone=zone(time_zone),
        weekly={WEEKDAYS.index(d): _windows(w) for d, w in weekly.items()},
        holidays=frozenset(_date(d) for d in holidays),
        special_days={_date(d): _windows(w) for d, w in special_days.items()},
    )


def zone(name: str) -> ZoneInfo:
    """ROUTE-6: the shop's IANA time zone; ValueError for an unknown name."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise ValueError("time_zone is an IANA time zone name such as Asia/Shanghai")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("time_zone is an IANA time zone name such as Asia/Shanghai") from exc


def _windows(raw: Sequence[Sequence[str]]) -> list[Window]:
    if len(raw) > MAX_WINDOWS_PER_DAY:
        raise ValueError(f"at most {MAX_WINDOWS_PER_DAY} opening windows a day")
    out: list[Window] = []
    for pair in raw:
        if len(pair) != 2 or not all(isinstance(v, str) and _HHMM.match(v) for v in pair):
            raise ValueError('an opening window is ["HH:MM", "HH:MM"]')
        start, end = (_time(v) for v in pair)
        if start >= end:
            raise ValueError("an opening window starts before it ends")
        out.append((start, end))
    return out


def _time(value: str) -> time:
    if value == "24:00":
        return time.max
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise ValueError("a date is YYYY-MM-DD") from exc


def check_reason(reason: str) -> str:
    """ROUTE-5: a blacklist reason, trimmed, at most MAX_REASON_CHARS."""
    reason = reason.strip()
    if len(reason) > MAX_REASON_CHARS:
        raise ValueError(f"reason is at most {MAX_REASON_CHARS} characters")
    return reason


def offline_cause(*, blacklisted: bool, is_open: bool, anyone_online: bool) -> OfflineCause | None:
    """OFFL-1, ROUTE-5, ROUTE-6: whether a human request goes to offline messages at once,
    and why; None: it is routed (and queues if everyone is full)."""
    if blacklisted:
        return OfflineCause.BLACKLISTED
    if not is_open:
        return OfflineCause.OUTSIDE_HOURS
    if not anyone_online:
        return OfflineCause.NO_AGENT
    return None


def left_queue_is_offline(*, left_at: datetime, served_since: bool, now: datetime) -> bool:
    """OFFL-1: a consumer who left the queue at `left_at` and was not served (nor queued or
    served again) since is an offline message once the grace has passed."""
    return not served_since and now >= left_at + LEFT_QUEUE_GRACE
