"""The conversation state machine (CONV-1), reply windows (LIMIT-1, LIMIT-3) and the auto-end
rule (CONV-3). Pure: the caller passes the conversation's facts and the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from kefu import errors


class ConversationState(StrEnum):
    BOT = "bot"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    ENDED = "ended"
    OFFLINE = "offline"


# OFFL-1: an offline message stays the consumer's open conversation, where they keep writing.
OPEN_STATES = frozenset(
    {
        ConversationState.BOT,
        ConversationState.QUEUED,
        ConversationState.ASSIGNED,
        ConversationState.OFFLINE,
    }
)

_ALLOWED: dict[ConversationState, frozenset[ConversationState]] = {
    ConversationState.BOT: frozenset(
        {
            ConversationState.QUEUED,
            ConversationState.ASSIGNED,
            ConversationState.ENDED,
            ConversationState.OFFLINE,
        }
    ),
    ConversationState.QUEUED: frozenset(
        {ConversationState.ASSIGNED, ConversationState.ENDED, ConversationState.OFFLINE}
    ),
    ConversationState.ASSIGNED: frozenset({ConversationState.ASSIGNED, ConversationState.ENDED}),
    ConversationState.ENDED: frozenset(),
    # OFFL-3, OFFL-4: asked again, started by an agent or auto-assigned; or it ends by itself.
    ConversationState.OFFLINE: frozenset(
        {ConversationState.QUEUED, ConversationState.ASSIGNED, ConversationState.ENDED}
    ),
}


class ParticipantRole(StrEnum):
    """Why an account takes part in a conversation; not to be confused with a shop role."""

    HOLDER = "holder"  # the agent the conversation is assigned to (ROUTE-1, CONV-7)
    PREVIOUS = "previous"  # held it until a transfer (CONV-7)
    INVITED = "invited"  # brought in by a participant (CONV-8)
    OBSERVER = "observer"  # a supervisor or group leader who joined (CONV-9)
    LEFT = "left"  # was invited and left the invitation (CONV-8)


# CONV-7, CONV-8: who may write; a previous holder and one who left read only (they stay
# credited). Only the holder ends the conversation.
SPEAKING_ROLES = frozenset(
    {ParticipantRole.HOLDER, ParticipantRole.INVITED, ParticipantRole.OBSERVER}
)
# CONV-7, CONV-8: an invitation brings these back as speakers.
INVITED_BACK = frozenset({ParticipantRole.PREVIOUS, ParticipantRole.LEFT})


class EndCause(StrEnum):
    AGENT = "agent"
    TIMEOUT = "timeout"
    LEFT_QUEUE = "left_queue"
    CONSUMER = "consumer"


def check_transition(current: ConversationState, target: ConversationState) -> None:
    """CONV-1: refuse a transition the state machine does not have."""
    if target not in _ALLOWED[current]:
        raise errors.ConversationClosed(
            "The conversation cannot go from this state to that one.",
            state=current.value,
            target=target.value,
        )


CONSUMER_MESSAGE_WINDOW = timedelta(hours=24)
CONTINUATION_WINDOW = timedelta(hours=72)


@dataclass(frozen=True, slots=True)
class ReplyWindow:
    is_open: bool
    closes_at: datetime | None
    code: str | None


def agent_reply_window(
    *,
    state: ConversationState,
    ended_at: datetime | None,
    last_consumer_message_at: datetime | None,
    now: datetime,
) -> ReplyWindow:
    """LIMIT-1, LIMIT-3: may an agent still reply, until when, and if not, which rule closed it."""
    if state in (ConversationState.BOT, ConversationState.QUEUED, ConversationState.OFFLINE):
        return ReplyWindow(False, None, errors.ConversationClosed.code)
    deadlines: list[tuple[datetime, str]] = []
    if last_consumer_message_at is not None:
        deadlines.append(
            (last_consumer_message_at + CONSUMER_MESSAGE_WINDOW, errors.ReplyWindowClosed.code)
        )
    if state is ConversationState.ENDED and ended_at is not None:
        deadlines.append((ended_at + CONTINUATION_WINDOW, errors.ContinuationWindowClosed.code))
    if not deadlines:
        return ReplyWindow(True, None, None)
    closes_at, code = min(deadlines)
    if now >= closes_at:
        return ReplyWindow(False, closes_at, code)
    return ReplyWindow(True, closes_at, None)


def check_agent_may_reply(window: ReplyWindow) -> None:
    """LIMIT-1 / LIMIT-3: raise the rule's own error when the window is closed."""
    if window.is_open:
        return
    if window.code == errors.ReplyWindowClosed.code:
        raise errors.ReplyWindowClosed(window_h=24, closed_at=_iso(window.closes_at))
    if window.code == errors.ContinuationWindowClosed.code:
        raise errors.ContinuationWindowClosed(window_h=72, closed_at=_iso(window.closes_at))
    raise errors.ConversationClosed()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class AutoEndMode(StrEnum):
    STANDARD = "15min"
    XIXI = "5min_warn"


@dataclass(frozen=True, slots=True)
class AutoEndPolicy:
    end_after: timedelta
    warn_after: timedelta | None

    @classmethod
    def for_mode(cls, mode: AutoEndMode) -> AutoEndPolicy:
        if mode is AutoEndMode.XIXI:
            return cls(end_after=timedelta(minutes=5), warn_after=timedelta(minutes=4))
        return cls(end_after=timedelta(minutes=15), warn_after=None)


class TimerAction(StrEnum):
    END = "end"
    WARN = "warn"
    WAIT = "wait"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class TimerDecision:
    action: TimerAction
    next_due_at: datetime | None


def silence_started_at(
    *,
    created_at: datetime,
    assigned_at: datetime | None,
    last_consumer_message_at: datetime | None,
) -> datetime:
    """CONV-3: the consumer's silence runs from their last message, or from the start of service."""
    return max(t for t in (created_at, assigned_at, last_consumer_message_at) if t is not None)


def decide_auto_end(
    *,
    state: ConversationState,
    silence_since: datetime,
    warned_at: datetime | None,
    policy: AutoEndPolicy,
    now: datetime,
) -> TimerDecision:
    """CONV-3: end after the consumer's silence, warn first in the 5-minute variant.

    Decided from the conversation's state when the timer fires, so a stale timer does nothing:
    only consumer silence counts, never the agent's, and a queued consumer is never ended.
    A warning always comes first and the end never sooner than the time it announces (issue
    17): a warning sent late (the timer was due while no process ran it) pushes the end back
    to the warning's time plus the time left that it names.
    """
    if state not in OPEN_STATES or state is ConversationState.OFFLINE:
        # OFFL-1: an offline message waits for the shop; its timer is set again when it leaves
        return TimerDecision(TimerAction.DONE, None)
    if state is ConversationState.QUEUED:
        return TimerDecision(TimerAction.WAIT, now + policy.end_after)
    end_at = silence_since + policy.end_after
    if policy.warn_after is not None:
        announced = policy.end_after - policy.warn_after
        if warned_at is None or warned_at < silence_since:  # not warned for this silence
            warn_at = silence_since + policy.warn_after
            if now < warn_at:
                return TimerDecision(TimerAction.WAIT, warn_at)
            return TimerDecision(TimerAction.WARN, max(end_at, now + announced))
        end_at = max(end_at, warned_at + announced)
    if now >= end_at:
        return TimerDecision(TimerAction.END, None)
    return TimerDecision(TimerAction.WAIT, end_at)
