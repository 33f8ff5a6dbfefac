"""Agent states and work-time statistics (PRES-1 to PRES-3); pure, time comes in as arguments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

MIN_RECEPTION_LIMIT = 1
MAX_RECEPTION_LIMIT = 50
DEFAULT_RECEPTION_LIMIT = 3


class AgentStatus(StrEnum):
    ONLINE = "online"
    BUSY = "busy"
    BREAK = "break"
    OFFLINE = "offline"


class Role(StrEnum):
    OWNER = "owner"
    SUPERVISOR = "supervisor"
    LEADER = "leader"
    AGENT = "agent"


SUPERVISING_ROLES = frozenset({Role.OWNER, Role.SUPERVISOR, Role.LEADER})


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: AgentStatus
    at: datetime


@dataclass(frozen=True, slots=True)
class WorkTime:
    online: timedelta
    login: timedelta


def work_time(
    changes: Sequence[StatusChange], *, since: datetime, now: datetime, before: AgentStatus
) -> WorkTime:
    """PRES-3: online time is online + busy, login time adds break.

    `before` is the state the agent was in at `since`.
    """
    online = timedelta()
    login = timedelta()
    status, start = before, since
    for change in sorted(changes, key=lambda c: c.at):
        if change.at < since:
            status = change.status
            continue
        online, login = _add(online, login, status, change.at - start)
        status, start = change.status, change.at
    online, login = _add(online, login, status, now - start)
    return WorkTime(online=online, login=login)


def _add(
    online: timedelta, login: timedelta, status: AgentStatus, span: timedelta
) -> tuple[timedelta, timedelta]:
    if status in (AgentStatus.ONLINE, AgentStatus.BUSY):
        return online + span, login + span
    if status is AgentStatus.BREAK:
        return online, login + span
    return online, login


DEFAULT_PRESENCE_GRACE = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class PresenceWindow:
    """PRES-1: who is actually there, as one process sees it at `now`.

    An agent is present while their last sign of life (login, a status change, a staff
    socket's opening, heartbeat or closing) is within `grace`, or while a staff socket of
    theirs is open on the deciding process (`here`). An account that has never shown one
    (`last_seen_at` None: provisioned, never signed in) is taken at its status.
    """

    now: datetime
    grace: timedelta
    here: frozenset[int] = frozenset()

    def is_present(self, account_id: int, last_seen_at: datetime | None) -> bool:
        if last_seen_at is None or account_id in self.here:
            return True
        return last_seen_at >= self.now - self.grace
