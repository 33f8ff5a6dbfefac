"""Who hears about a conversation: its consumer, its participants and the shop's supervisors.
Called after commit only; the frames are the ones docs/protocol.md documents.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kefu.services.context import Context, account_topic, consumer_topic, supervisors_topic
from kefu.services.views import ConversationView, MessageView

# The key of an event naming the socket it came from, which does not receive it (MSG-2).
ORIGIN = "origin"


def audience(shop_id: int, consumer_id: int, accounts: Iterable[int]) -> list[str]:
    """The topics of a conversation's consumer, the shop's supervisors and these accounts."""
    return [
        consumer_topic(consumer_id),
        supervisors_topic(shop_id),
        *(account_topic(a) for a in sorted(set(accounts))),
    ]


def audience_of(view: ConversationView, extra_accounts: Iterable[int] = ()) -> list[str]:
    """Who hears about this conversation: its participants, its agent and `extra_accounts`."""
    agent = [] if view.agent_id is None else [view.agent_id]
    return audience(view.shop_id, view.consumer.id, [*view.participants, *agent, *extra_accounts])


async def publish_conversation(
    ctx: Context, view: ConversationView, extra_accounts: Iterable[int] = ()
) -> None:
    """The conversation frame, then its newest message (system notices reach clients this way;
    a client that sees a seq gap resyncs)."""
    topics = audience_of(view, extra_accounts)
    await publish_to(ctx, topics, {"type": "conversation", "conversation": view})
    if view.last_message is not None:
        await publish_message(ctx, topics, view.last_message)


async def publish_message(
    ctx: Context, topics: Iterable[str], message: MessageView, *, origin: str | None = None
) -> None:
    """MSG-2: "something new" in a conversation; a client that sees a seq gap resyncs. The
    socket named `origin` sent it and has it from its ack: the gateway does not push it there
    (the key is the gateway's, never sent)."""
    frame: dict[str, Any] = {"type": "message", "message": message}
    if origin is not None:
        frame[ORIGIN] = origin
    await publish_to(ctx, topics, frame)


async def publish_to(ctx: Context, topics: Iterable[str], frame: dict[str, Any]) -> None:
    for topic in topics:
        await ctx.broker.publish(topic, frame)
