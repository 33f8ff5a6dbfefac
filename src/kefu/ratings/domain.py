"""The rules of ratings (RATE-1 to RATE-3), pure: who may rate when, which rating counts, the
satisfaction rate, and a conversation's average response time (DESK-4). Stdlib and kefu.errors
only; the analytics reuse `satisfaction_rate` and `average_response_time`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from kefu import errors
from kefu.domain.conversation import CONTINUATION_WINDOW

MIN_STARS = 1
MAX_STARS = 5
# RATE-1: an ended conversation can be rated as long as it can be continued (LIMIT-3, 72 h).
RATING_WINDOW = CONTINUATION_WINDOW
SATISFIED_STARS = frozenset({4, 5})


class RatingSource(StrEnum):
    """RATE-1: on the consumer's own, after the agent's invitation, or the shop's forced card."""

    SELF = "self"
    INVITED = "invited"
    FORCED = "forced"


@dataclass(frozen=True, slots=True)
class RatingRecord:
    """One rating event (RATE-2): every rating is kept; the best one counts."""

    conversation_id: int
    agent_id: int
    stars: int
    source: RatingSource
    at: datetime
    card_seq: int | None = None


def check_stars(stars: int) -> int:
    """RATE-2: 1 to 5 stars; there is no default."""
    if isinstance(stars, bool) or not MIN_STARS <= stars <= MAX_STARS:
        raise errors.BadInput(
            "Rate with 1 to 5 stars.", field="stars", min=MIN_STARS, max=MAX_STARS
        )
    return stars


def check_may_rate(
    *,
    agent_id: int | None,
    ended_at: datetime | None,
    now: datetime,
) -> int:
    """RATE-1, CONV-7: a conversation a human served (its current holder is rated), open or
    ended within RATING_WINDOW. Returns the rated agent's id."""
    if agent_id is None:
        raise errors.RuleViolation(
            "Only a conversation an agent served can be rated.", code="rating.no_agent"
        )
    if ended_at is not None and now > ended_at + RATING_WINDOW:
        raise errors.RuleViolation(
            "This conversation can no longer be rated.",
            code="rating.window_closed",
            window_h=int(RATING_WINDOW.total_seconds() // 3600),
        )
    return agent_id


def check_source(
    source: RatingSource, *, card_seq: int | None, earlier: Sequence[RatingRecord]
) -> None:
    """RATE-1: a consumer rates on their own once per conversation; each invitation or forced
    card is answered once (an agent may invite any number of times)."""
    if source is RatingSource.SELF:
        if any(r.source is RatingSource.SELF for r in earlier):
            raise errors.Conflict(
                "You have already rated this conversation.", code="rating.already_rated"
            )
        return
    if any(r.card_seq == card_seq for r in earlier):
        raise errors.Conflict(
            "This invitation has already been answered.",
            code="rating.already_rated",
            card_seq=card_seq,
        )


def best_rating(ratings: Iterable[RatingRecord | int]) -> int | None:
    """RATE-2: with several ratings, the best one counts; None when never rated."""
    stars = [r if isinstance(r, int) else r.stars for r in ratings]
    return max(stars) if stars else None


def satisfaction_rate(best_per_conversation: Iterable[int | None]) -> float | None:
    """RATE-3: (4★ + 5★ rated conversations) / rated conversations; each conversation counts
    once with its best rating, unrated ones (None) not at all; None when nothing was rated."""
    rated = [stars for stars in best_per_conversation if stars is not None]
    if not rated:
        return None
    return sum(1 for stars in rated if stars in SATISFIED_STARS) / len(rated)


def average_response_time(messages: Iterable[tuple[str, datetime]]) -> timedelta | None:
    """DESK-4 (DATA-1's definition): the mean, over each agent reply, of the reply's time minus
    the consumer message it answers: the first consumer message since the previous agent reply.
    `messages` are (sender, created_at) in seq order; bot and system messages answer nothing.
    None when no agent reply answered a consumer message."""
    waiting_since: datetime | None = None
    spans: list[timedelta] = []
    for sender, at in messages:
        if sender == "consumer" and waiting_since is None:
            waiting_since = at
        elif sender == "agent" and waiting_since is not None:
            spans.append(at - waiting_since)
            waiting_since = None
    if not spans:
        return None
    return sum(spans, timedelta()) / len(spans)
