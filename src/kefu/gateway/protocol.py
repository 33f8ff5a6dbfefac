"""The WebSocket frame registry: every client frame's schema, and which socket accepts it.
docs/protocol.md documents each one; tests walk this registry."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kefu.domain.messages import MAX_CLIENT_ID_CHARS, MAX_TEXT_CHARS, MAX_TYPING_CHARS

MAX_REF_CHARS = 64
# Seqs are INTEGER columns: a larger since_seq is refused here, not by the database driver.
MAX_SEQ = 2**31 - 1

Ref = Annotated[str, StringConstraints(max_length=MAX_REF_CHARS)] | None
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]
Short = Annotated[str, StringConstraints(max_length=200)]
Url = Annotated[str, StringConstraints(max_length=500)]
ConversationRef = Annotated[int, Field(ge=1, le=2**62)]


class FrameIn(BaseModel):
    # Strict, like every model of a frame: a JSON number or boolean is never read from a string
    # or from the other type ("3", true); nested models say so themselves.
    model_config = ConfigDict(extra="forbid", strict=True)
    ref: Ref = None


class PingIn(FrameIn):
    type: Literal["ping"]


class AuthIn(FrameIn):
    type: Literal["auth"]
    shop_id: Annotated[int, Field(ge=1)]
    token: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    id: Short
    title: Short
    price: Annotated[str, StringConstraints(max_length=20)] = ""
    url: Url = ""
    image: Url = ""


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    order_no: Short
    title: Short = ""
    item_count: Annotated[int, Field(ge=0, le=10_000)] = 0
    amount: Annotated[str, StringConstraints(max_length=20)] = ""
    ordered_at: Short = ""


class EntryIn(BaseModel):
    """ENTRY-1: where the consumer came from."""

    model_config = ConfigDict(extra="forbid", strict=True)
    source: Literal["product", "order", "after_sale", "live", "ad", "direct"] = "direct"
    product: ProductIn | None = None
    order: OrderIn | None = None
    page_url: Url = ""


class OpenIn(FrameIn):
    type: Literal["open"]
    entry: EntryIn = Field(default_factory=EntryIn)


class RequestHumanIn(FrameIn):
    type: Literal["request_human"]


class LeaveQueueIn(FrameIn):
    type: Literal["leave_queue"]


class TypingIn(FrameIn):
    type: Literal["typing"]
    conversation_id: ConversationRef
    text: Annotated[str, StringConstraints(max_length=MAX_TYPING_CHARS)]


class SendIn(FrameIn):
    type: Literal["send"]
    conversation_id: ConversationRef
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=MAX_CLIENT_ID_CHARS)]
    kind: Literal["text", "emoji"] = "text"
    body: Text


class SyncIn(FrameIn):
    type: Literal["sync"]
    conversation_id: ConversationRef
    since_seq: Annotated[int, Field(ge=0, le=MAX_SEQ)] = 0
    limit: Annotated[int, Field(ge=1, le=200)] = 200


class FeedbackIn(FrameIn):
    """BOT-3: the consumer's verdict on the bot's answer at `seq`."""

    type: Literal["feedback"]
    conversation_id: ConversationRef
    seq: Annotated[int, Field(ge=1, le=MAX_SEQ)]
    resolved: bool


class FaqClickIn(FrameIn):
    """ENTRY-2, BOT-6: a click on a FAQ-menu item or bot card."""

    type: Literal["faq_click"]
    conversation_id: ConversationRef
    item_id: Annotated[str, StringConstraints(min_length=1, max_length=30)]


CONSUMER_FRAMES: dict[str, type[FrameIn]] = {
    "ping": PingIn,
    "auth": AuthIn,
    "open": OpenIn,
    "request_human": RequestHumanIn,
    "leave_queue": LeaveQueueIn,
    "typing": TypingIn,
    "send": SendIn,
    "sync": SyncIn,
    "feedback": FeedbackIn,
    "faq_click": FaqClickIn,
}

STAFF_FRAMES: dict[str, type[FrameIn]] = {
    "ping": PingIn,
    "send": SendIn,
    "sync": SyncIn,
}

# Frames that name a conversation: the isolation test sends each with another shop's id.
CONVERSATION_FRAMES = frozenset({"typing", "send", "sync", "feedback", "faq_click"})
