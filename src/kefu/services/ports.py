"""What the core asks of the feature areas plugged into it, as protocols: the core calls
them through the Context and never imports their implementations, which app.py wires in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from kefu.services.context import ConsumerActor


class Responder(Protocol):
    """Who answers a consumer's message while the conversation is with the bot (BOT-3)."""

    async def reply(
        self, consumer: ConsumerActor, *, conversation_id: int, seq: int, text: str
    ) -> None:
        """Answer the consumer's committed message `seq`, or ask for a human (BOT-4)."""
