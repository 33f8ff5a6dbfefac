"""The only place that reads the system time; everything else receives a Clock."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that moves only when told to (tests and the simulator)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when


# How many round trips a sample makes; the quickest one is kept (the least uncertain).
SAMPLE_ROUND_TRIPS = 3


@dataclass(frozen=True, slots=True)
class Sample:
    """The reference time at a reading of this process's monotonic clock, and its uncertainty
    (half the round trip that fetched it)."""

    reference: datetime
    monotonic: float
    uncertainty_s: float
    offset_s: float  # reference minus this process's wall clock, for the logs


class FollowingClock:
    """One time for every process (issue 17): a reference clock's time (the database's),
    sampled at start and every few seconds, and carried between samples by this process's
    monotonic clock, so neither a skewed nor a jumping wall clock here moves it.

    Until the first sample it falls back to `fallback`.
    """

    def __init__(
        self, *, fallback: Clock | None = None, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._fallback = fallback or SystemClock()
        self._monotonic = monotonic
        self.sample: Sample | None = None

    def now(self) -> datetime:
        sample = self.sample
        if sample is None:
            return self._fallback.now()
        return sample.reference + timedelta(seconds=self._monotonic() - sample.monotonic)

    async def resample(self, read: Callable[[], Awaitable[datetime]]) -> Sample:
        """Read the reference a few times; keep the reading with the shortest round trip,
        taken as the reference's time at the middle of that round trip."""
        best: Sample | None = None
        for _ in range(SAMPLE_ROUND_TRIPS):
            sent = self._monotonic()
            reference = await read()
            received = self._monotonic()
            if best is None or (received - sent) / 2 < best.uncertainty_s:
                midpoint = (sent + received) / 2
                local = self._fallback.now() - timedelta(seconds=self._monotonic() - midpoint)
                offset = (reference - local).total_seconds()
                best = Sample(reference, midpoint, (received - sent) / 2, offset)
        assert best is not None
        self.sample = best
        return best
