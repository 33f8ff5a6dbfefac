"""CONV-3 auto-end decisions and LIMIT-1 / LIMIT-3 reply windows, as pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu import errors
from kefu.domain.conversation import (
    AutoEndMode,
    AutoEndPolicy,
    ConversationState,
    TimerAction,
    TimerDecision,
    agent_reply_window,
    check_agent_may_reply,
    check_transition,
    decide_auto_end,
)
from kefu.domain.messages import MessageKind, check_body

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
STANDARD = AutoEndPolicy.for_mode(AutoEndMode.STANDARD)
XIXI = AutoEndPolicy.for_mode(AutoEndMode.XIXI)


def decide(minutes: float, policy: AutoEndPolicy = STANDARD, **kw: object) -> TimerAction:
    args: dict[str, object] = dict(
        state=ConversationState.ASSIGNED,
        silence_since=T0,
        warned_at=None,
        policy=policy,
        now=T0 + timedelta(minutes=minutes),
    )
    args.update(kw)
    return decide_auto_end(**args).action  # type: ignore[arg-type]


def test_conv_3_ends_after_15_minutes_of_consumer_silence() -> None:
    assert decide(14.99) is TimerAction.WAIT
    assert decide(15) is TimerAction.END


def test_conv_3_xixi_variant_warns_at_4_and_ends_at_5() -> None:
    assert decide(3.9, XIXI) is TimerAction.WAIT
    assert decide(4, XIXI) is TimerAction.WARN
    assert decide(4.5, XIXI, warned_at=T0 + timedelta(minutes=4)) is TimerAction.WAIT
    assert decide(5, XIXI, warned_at=T0 + timedelta(minutes=4)) is TimerAction.END


def test_conv_3_stale_timer_does_nothing() -> None:
    for state in (ConversationState.ENDED, ConversationState.OFFLINE):
        assert decide(60, state=state) is TimerAction.DONE
    assert decide(60, state=ConversationState.QUEUED) is TimerAction.WAIT


@given(st.floats(0, 10_000), st.sampled_from([STANDARD, XIXI]))
def test_conv_3_never_ends_before_the_silence_limit(minutes: float, policy: AutoEndPolicy) -> None:
    action = decide(minutes, policy)
    due = minutes >= policy.end_after.total_seconds() / 60
    # Unwarned, the 5-minute variant warns first, however late (issue 17).
    assert (action is TimerAction.END) == (due and policy.warn_after is None)
    warned = decide(minutes, policy, warned_at=T0 + timedelta(minutes=4))
    assert (warned is TimerAction.END) == due


def test_conv_3_warning_due_during_an_outage_comes_before_the_end() -> None:
    """Issue 17: both deadlines passed unseen: warn now, end one minute (the time the warning
    names) after the warning, not at once."""
    late = decide_auto_end(
        state=ConversationState.ASSIGNED,
        silence_since=T0,
        warned_at=None,
        policy=XIXI,
        now=T0 + timedelta(minutes=30),
    )
    assert late == TimerDecision(TimerAction.WARN, T0 + timedelta(minutes=31))
    warned = T0 + timedelta(minutes=30)
    assert decide(30.99, XIXI, warned_at=warned) is TimerAction.WAIT
    assert decide(31, XIXI, warned_at=warned) is TimerAction.END


def test_limit_1_consumer_message_answerable_for_24_hours() -> None:
    def window(hours: float) -> bool:
        return agent_reply_window(
            state=ConversationState.ASSIGNED,
            ended_at=None,
            last_consumer_message_at=T0,
            now=T0 + timedelta(hours=hours),
        ).is_open

    assert window(23.99) and not window(24)
    closed = agent_reply_window(
        state=ConversationState.ASSIGNED,
        ended_at=None,
        last_consumer_message_at=T0,
        now=T0 + timedelta(hours=25),
    )
    with pytest.raises(errors.ReplyWindowClosed):
        check_agent_may_reply(closed)


def test_limit_3_ended_conversation_continues_for_72_hours() -> None:
    def window(hours: float) -> object:
        return agent_reply_window(
            state=ConversationState.ENDED,
            ended_at=T0,
            last_consumer_message_at=None,
            now=T0 + timedelta(hours=hours),
        )

    assert window(71).is_open  # type: ignore[attr-defined]
    with pytest.raises(errors.ContinuationWindowClosed):
        check_agent_may_reply(window(72))  # type: ignore[arg-type]


def test_conv_1_transitions_follow_the_state_machine() -> None:
    check_transition(ConversationState.BOT, ConversationState.QUEUED)
    check_transition(ConversationState.QUEUED, ConversationState.ASSIGNED)
    with pytest.raises(errors.ConversationClosed):
        check_transition(ConversationState.ENDED, ConversationState.ASSIGNED)


@pytest.mark.parametrize("body", ["", "   ", "a\x00b", "x" * 2001])
def test_msg_1_refuses_empty_nul_and_oversized_text(body: str) -> None:
    with pytest.raises(errors.BadInput):
        check_body(MessageKind.TEXT, body)


def test_msg_1_accepts_emoji_and_2000_chars() -> None:
    assert check_body(MessageKind.EMOJI, "😀") == "😀"
    assert len(check_body(MessageKind.TEXT, "好" * 2000)) == 2000
