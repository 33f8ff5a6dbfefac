"""Welcome and closing messages (SET-2): which text a conversation gets. Pure."""

from __future__ import annotations

from enum import StrEnum

MAX_GREETING_CHARS = 500


class GreetingKind(StrEnum):
    WELCOME = "welcome"
    CLOSING = "closing"


def choose_greeting(group_text: str | None, agent_text: str | None) -> str | None:
    """SET-2: the group's message wins where both are set; blank counts as unset."""
    for text in (group_text, agent_text):
        if text and text.strip():
            return text
    return None
