"""ACCT-4's login delays: after a few failed logins of one account, or from one address, each
further attempt waits a time that doubles with every failure, up to a cap, counted from the
last failure. No lockout: the right password gets in once the wait is over, and a wait is
short enough that nobody can keep an account's owner out for long. Pure; failures come in
counted, and time as an argument."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# Failures older than this are forgotten; it is longer than any wait.
FAILURE_WINDOW = timedelta(hours=1)
# The longest textual IPv6 address; the address column's width.
MAX_ADDRESS_CHARS = 45


@dataclass(frozen=True, slots=True)
class LoginDelay:
    """`free` failures cost nothing; after them an attempt waits `first`, doubled for each
    failure beyond, at most `cap`."""

    free: int
    first: timedelta
    cap: timedelta

    def after(self, failures: int) -> timedelta:
        """The wait after `failures` failures, from the last of them."""
        if failures < self.free:
            return timedelta(0)
        doublings = min(failures - self.free, 40)  # 2**40 s is far beyond any cap
        return min(self.first * (1 << doublings), self.cap)


# One account: the owner waits at most a minute after an attacker's last counted failure.
ACCOUNT_DELAY = LoginDelay(free=5, first=timedelta(seconds=1), cap=timedelta(minutes=1))
# One address: a shop's agents behind one office address make some mistakes; one address
# trying many accounts is slowed much more.
ADDRESS_DELAY = LoginDelay(free=20, first=timedelta(seconds=1), cap=timedelta(minutes=15))
# Attempts from one address whose password is still being checked: up to this many do not
# count against the address before their outcome is known, so a whole office signing in at
# once is not slowed down; beyond it they count at once, so a burst of guesses from one
# address gets at most this many checked ahead of the delays.
ADDRESS_IN_FLIGHT = 50


def address_failures(
    settled: int, settled_last: datetime | None, checking: int, checking_last: datetime | None
) -> tuple[int, datetime | None]:
    """What counts against an address: its failures, and the attempts still being checked
    beyond ADDRESS_IN_FLIGHT (with the latest of them as the last failure)."""
    beyond = max(checking - ADDRESS_IN_FLIGHT, 0)
    if not beyond:
        return settled, settled_last
    times = [at for at in (settled_last, checking_last) if at is not None]
    return settled + beyond, max(times, default=None)


def login_wait(
    delay: LoginDelay, *, failures: int, last_failure_at: datetime | None, now: datetime
) -> timedelta:
    """ACCT-4: how long from `now` the next attempt must wait; zero when it may go ahead."""
    if last_failure_at is None:
        return timedelta(0)
    return max(last_failure_at + delay.after(failures) - now, timedelta(0))
