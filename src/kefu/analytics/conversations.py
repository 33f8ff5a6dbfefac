"""The conversation list's rules (DATA-5): what its filters mean, how a page's cursor reads,
and how a listed conversation flattens into a CSV row (DATA-8). Pure: no I/O.

Filters: `agent_id` keeps the conversations that agent took part in; `rating_source` those
with at least one rating of that source (the consumer's own, `self`; after an invitation,
`invited`; at a forced end, `forced`); `rating` judges the rating that counts (RATE-2: the
best one): a number of stars, `satisfied` (4 or 5 stars, RATE-3), `unsatisfied` (1 to 3) or
`unrated` (none). The time range keeps the conversations started in [since, until)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from kefu import errors
from kefu.ratings.domain import RatingSource

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_EXPORT_ROWS = 10_000  # DATA-8: a CSV export stops here (the header row says nothing)
SATISFIED_STARS = 4  # RATE-3: 4 and 5 stars are satisfied (ratings.domain.SATISFIED_STARS)


class RatingVerdict(StrEnum):
    SATISFIED = "satisfied"
    UNSATISFIED = "unsatisfied"
    UNRATED = "unrated"


@dataclass(frozen=True, slots=True)
class RatingResult:
    """Exactly one of: a number of stars (1–5), or a verdict."""

    stars: int | None = None
    verdict: RatingVerdict | None = None

    @classmethod
    def parse(cls, text: str) -> RatingResult:
        if text in {"1", "2", "3", "4", "5"}:
            return cls(stars=int(text))
        try:
            return cls(verdict=RatingVerdict(text))
        except ValueError:
            raise errors.BadInput(
                "No such rating result.",
                field="rating",
                choices=["1", "2", "3", "4", "5", *RatingVerdict],
            ) from None

    def stars_range(self) -> tuple[int, int] | None:
        """The best rating's allowed stars, inclusive; None: unrated."""
        if self.stars is not None:
            return self.stars, self.stars
        if self.verdict is RatingVerdict.SATISFIED:
            return SATISFIED_STARS, 5
        if self.verdict is RatingVerdict.UNSATISFIED:
            return 1, SATISFIED_STARS - 1
        return None


@dataclass(frozen=True, slots=True)
class ListQuery:
    agent_id: int | None = None
    group_id: int | None = None
    consumer_id: int | None = None
    rating_source: RatingSource | None = None
    rating: RatingResult | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None
    page_size: int = DEFAULT_PAGE_SIZE


def make_query(
    *,
    agent_id: int | None = None,
    group_id: int | None = None,
    consumer_id: int | None = None,
    rating_source: str | None = None,
    rating: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> ListQuery:
    """DATA-5: the filters checked (bad_input names the field)."""
    since, until = _utc(since, "since"), _utc(until, "until")
    if since is not None and until is not None and since >= until:
        raise errors.BadInput("The range ends before it starts.", field="until")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise errors.BadInput("Page size out of range.", field="page_size", max=MAX_PAGE_SIZE)
    source = None
    if rating_source is not None:
        try:
            source = RatingSource(rating_source)
        except ValueError:
            raise errors.BadInput(
                "No such rating source.", field="rating_source", choices=list(RatingSource)
            ) from None
    return ListQuery(
        agent_id=agent_id,
        group_id=group_id,
        consumer_id=consumer_id,
        rating_source=source,
        rating=RatingResult.parse(rating) if rating is not None else None,
        since=since,
        until=until,
        before_id=decode_cursor(cursor) if cursor is not None else None,
        page_size=page_size,
    )


def _utc(value: datetime | None, field: str) -> datetime | None:
    """The time in UTC; one whose offset takes it off the calendar is bad_input, not a 500."""
    try:
        return value.astimezone(UTC) if value is not None else None
    except OverflowError:
        raise errors.BadInput("Time out of range.", field=field) from None


def decode_cursor(cursor: str) -> int:
    """A page's cursor is the id of the last conversation shown (newest first)."""
    if not cursor.isdigit() or not 0 < int(cursor) < 2**62:
        raise errors.BadInput("Malformed cursor.", field="cursor")
    return int(cursor)


CSV_COLUMNS = (
    "conversation_id",
    "created_at",
    "ended_at",
    "state",
    "consumer_uid",
    "consumer_nickname",
    "agent_name",
    "group_name",
    "best_stars",
    "ratings",
    "summary",
    "summary_note",
)


def csv_row(item: dict[str, Any]) -> dict[str, Any]:
    """A listed conversation (the JSON shape) as one CSV row: ratings as `5★(self)` pieces,
    the summary's category path joined by ` › `."""
    ratings: Sequence[dict[str, Any]] = item["ratings"]
    summary = item["summary"]
    return {
        "conversation_id": item["id"],
        "created_at": _iso(item["created_at"]),
        "ended_at": _iso(item["ended_at"]),
        "state": item["state"],
        "consumer_uid": item["consumer"]["uid"],
        "consumer_nickname": item["consumer"]["nickname"],
        "agent_name": item["agent_name"],
        "group_name": item["group_name"],
        "best_stars": item["best_stars"],
        "ratings": " ".join(f"{r['stars']}★({r['source']})" for r in ratings),
        "summary": " › ".join(summary["path"]) if summary else None,
        "summary_note": summary["note"] if summary else None,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
