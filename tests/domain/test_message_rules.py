"""CONV-2's reply timer as the message rules state it (pure)."""

from hypothesis import given
from hypothesis import strategies as st

from kefu.domain.messages import ReplyClock, SenderKind, reply_clock_after

C, A, B, S = SenderKind.CONSUMER, SenderKind.AGENT, SenderKind.BOT, SenderKind.SYSTEM


def test_conv_2_reply_timer_starts_at_a_consumer_message_and_stops_at_an_agent_reply() -> None:
    assert reply_clock_after([C]) is ReplyClock.START
    assert reply_clock_after([C, A]) is ReplyClock.STOP
    assert reply_clock_after([A, C]) is ReplyClock.START
    assert reply_clock_after([C, B]) is ReplyClock.START  # a bot answer is no agent's reply
    assert reply_clock_after([A, S]) is ReplyClock.STOP
    assert reply_clock_after([S, B]) is ReplyClock.KEEP
    assert reply_clock_after([]) is ReplyClock.KEEP


@given(st.lists(st.sampled_from(list(SenderKind))))
def test_conv_2_reply_timer_follows_the_last_person_who_spoke(senders: list[SenderKind]) -> None:
    people = [s for s in senders if s in (C, A)]
    expected = (
        ReplyClock.KEEP if not people else ReplyClock.START if people[-1] is C else ReplyClock.STOP
    )
    assert reply_clock_after(senders) is expected
