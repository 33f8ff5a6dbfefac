"""Each account's notification preferences (SET-3): whether the workbench beeps, whether it
shows desktop notifications, and for which events. Pure values; the web client applies them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class NotifyEvent(StrEnum):
    """What the workbench may call attention to (DESK-6)."""

    NEW_CONVERSATION = "new_conversation"
    NEW_MESSAGE = "new_message"
    TRANSFER_REQUEST = "transfer_request"


ALL_EVENTS: frozenset[NotifyEvent] = frozenset(NotifyEvent)


@dataclass(frozen=True, slots=True)
class NotificationPreferences:
    """SET-3: an account that never chose anything hears and sees every event."""

    is_sound_on: bool = True
    is_desktop_on: bool = True
    events: frozenset[NotifyEvent] = ALL_EVENTS

    def alerts(self, event: NotifyEvent) -> bool:
        """Whether `event` should beep or notify at all."""
        return event in self.events and (self.is_sound_on or self.is_desktop_on)


def events_of(codes: Iterable[str]) -> frozenset[NotifyEvent]:
    """Stored or sent codes back to events; codes no longer known are dropped."""
    known = {e.value for e in NotifyEvent}
    return frozenset(NotifyEvent(c) for c in codes if c in known)


def encode_events(events: Iterable[NotifyEvent]) -> str:
    """A stable comma-separated form for storage (sorted, so equal sets store equal)."""
    return ",".join(sorted(e.value for e in events))


def decode_events(stored: str) -> frozenset[NotifyEvent]:
    return events_of(c for c in stored.split(",") if c)
