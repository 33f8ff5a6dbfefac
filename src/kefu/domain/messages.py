"""What a message may contain (MSG-1) and who sends it; pure validation."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from kefu import errors

MAX_TEXT_CHARS = 2000
MAX_TYPING_CHARS = 500
MAX_CLIENT_ID_CHARS = 64
# ENTRY-3, MSG-1: a card's body is the server's JSON of the row it names.
MAX_CARD_CHARS = 4000


class SenderKind(StrEnum):
    CONSUMER = "consumer"
    AGENT = "agent"
    BOT = "bot"
    SYSTEM = "system"


class MessageKind(StrEnum):
    TEXT = "text"
    EMOJI = "emoji"
    SYSTEM = "system"
    PRODUCT_CARD = "product_card"
    ORDER_CARD = "order_card"
    PRODUCT_LINK = "product_link"
    IMAGE = "image"  # MSG-1: body is the attachment's id, meta["attachment"] describes it
    FILE = "file"


CARD_KINDS = frozenset({MessageKind.PRODUCT_CARD, MessageKind.ORDER_CARD, MessageKind.PRODUCT_LINK})
SENDABLE_KINDS = frozenset({MessageKind.TEXT, MessageKind.EMOJI}) | CARD_KINDS
# Sent by the upload routes (kefu.files), never in a `send` frame.
ATTACHMENT_KINDS = frozenset({MessageKind.IMAGE, MessageKind.FILE})
MAX_ATTACHMENT_ID_CHARS = 20


def check_body(kind: MessageKind, body: str) -> str:
    """MSG-1: text and emoji are non-empty, at most 2,000 characters, and free of NUL; a card
    (ENTRY-3) is the server's JSON of the row it names; a picture or file message's body is
    its attachment's id."""
    if kind in ATTACHMENT_KINDS:
        if not (body.isascii() and body.isdigit() and len(body) <= MAX_ATTACHMENT_ID_CHARS):
            raise errors.BadInput("Not an attachment id.", field="body")
        return body
    if kind not in SENDABLE_KINDS:
        raise errors.BadInput("This kind of message cannot be sent by a client.", kind=kind.value)
    if "\x00" in body:
        raise errors.BadInput("Text may not contain NUL characters.", field="body")
    if kind in CARD_KINDS:
        if not body or len(body) > MAX_CARD_CHARS:
            raise errors.BadInput("Malformed card.", field="body", max_chars=MAX_CARD_CHARS)
        return body
    stripped = body.strip()
    if not stripped:
        raise errors.BadInput("A message cannot be empty.", field="body")
    if len(body) > MAX_TEXT_CHARS:
        raise errors.BadInput(
            "The message is too long.", field="body", max_chars=MAX_TEXT_CHARS, chars=len(body)
        )
    return body


class ReplyClock(StrEnum):
    """What new messages do to the "waiting for a reply" timer (CONV-2)."""

    KEEP = "keep"
    START = "start"  # from the first unanswered consumer message: an older start stands
    STOP = "stop"


def reply_clock_after(senders: Sequence[SenderKind]) -> ReplyClock:
    """CONV-2: the timer runs from the first unanswered consumer message until an agent replies;
    bot and system messages leave it as it is."""
    for sender in reversed(senders):
        if sender is SenderKind.CONSUMER:
            return ReplyClock.START
        if sender is SenderKind.AGENT:
            return ReplyClock.STOP
    return ReplyClock.KEEP
