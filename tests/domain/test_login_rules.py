"""ACCT-4's login delays as the rules state them (pure): a few free failures, then a wait that
doubles with each failure up to a cap, counted from the last failure, and never a lockout."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from kefu.domain.login import (
    ACCOUNT_DELAY,
    ADDRESS_DELAY,
    ADDRESS_IN_FLIGHT,
    LoginDelay,
    address_failures,
    login_wait,
)

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
delays = st.sampled_from([ACCOUNT_DELAY, ADDRESS_DELAY])
counts = st.integers(min_value=0, max_value=10_000)


def test_acct_4_the_account_delay_doubles_from_one_second_to_a_minute() -> None:
    waits = [ACCOUNT_DELAY.after(n).total_seconds() for n in range(14)]
    assert waits == [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert ADDRESS_DELAY.after(19) == timedelta(0)
    assert ADDRESS_DELAY.after(20) == timedelta(seconds=1)
    assert ADDRESS_DELAY.after(10_000) == timedelta(minutes=15)


@given(delays, counts)
def test_acct_4_delays_grow_with_failures_and_stay_under_the_cap(
    delay: LoginDelay, failures: int
) -> None:
    assert timedelta(0) <= delay.after(failures) <= delay.after(failures + 1) <= delay.cap
    assert (delay.after(failures) == timedelta(0)) == (failures < delay.free)


@given(delays, counts, st.integers(min_value=0, max_value=3600))
def test_acct_4_an_attempt_waits_from_the_last_failure_and_then_goes_ahead(
    delay: LoginDelay, failures: int, elapsed_s: int
) -> None:
    last = NOW - timedelta(seconds=elapsed_s)
    wait = login_wait(delay, failures=failures, last_failure_at=last, now=NOW)
    assert wait == max(delay.after(failures) - timedelta(seconds=elapsed_s), timedelta(0))
    # Once the wait is over, any attempt may go ahead: there is no lockout.
    later = NOW + wait
    assert login_wait(delay, failures=failures, last_failure_at=last, now=later) == timedelta(0)
    assert login_wait(delay, failures=failures, last_failure_at=None, now=NOW) == timedelta(0)


def test_acct_4_attempts_being_checked_count_against_an_address_only_beyond_the_allowance() -> None:
    t0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    t1 = t0 + timedelta(seconds=3)
    assert address_failures(2, t0, ADDRESS_IN_FLIGHT, t1) == (2, t0)
    assert address_failures(0, None, ADDRESS_IN_FLIGHT, t1) == (0, None)
    assert address_failures(2, t0, ADDRESS_IN_FLIGHT + 3, t1) == (5, t1)
    assert address_failures(0, None, ADDRESS_IN_FLIGHT + 1, t1) == (1, t1)
    assert address_failures(4, t1, ADDRESS_IN_FLIGHT + 1, t0) == (5, t1)
