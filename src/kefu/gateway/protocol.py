"""The WebSocket frame registries: every client frame's schema and which socket accepts it, and
every server frame's schema and which socket receives it. docs/protocol.md documents each one;
tests walk these registries. The server frames are a typed contract only: services and the
gateway keep building them as dicts, and tests/gateway validates what the wire carries."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from kefu.api import models as api
from kefu.domain.messages import MAX_CLIENT_ID_CHARS, MAX_TEXT_CHARS, MAX_TYPING_CHARS
from kefu.supervision.alerts_models import AlertOut
from kefu.supervision.models import LiveViewOut

MAX_REF_CHARS = 64
# Seqs are INTEGER columns: a larger since_seq is refused here, not by the database driver.
MAX_SEQ = 2**31 - 1

Ref = Annotated[str, StringConstraints(max_length=MAX_REF_CHARS)] | None
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]
Short = Annotated[str, StringConstraints(max_length=200)]


def _web_address(value: str) -> str:
    """Links a consumer's page hands over are absolute http(s) addresses or nothing: a
    `javascript:` or `data:` one would run in the agent's workbench, and a `//host/` one would
    take the agent to another site."""
    if value == "":
        return value
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http or https URL")
    return value


Url = Annotated[str, StringConstraints(max_length=500), AfterValidator(_web_address)]
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
    # ENTRY-3, MSG-1: for a card, `body` names the row: a product's external id
    # (`product_card`, and the agents' `product_link`) or an order number (`order_card`).
    # MSG-1: `image` and `file` messages are made by the upload routes (kefu.files), which
    # store the file first; a frame cannot name an attachment.
    kind: Literal["text", "emoji", "product_card", "order_card", "product_link"] = "text"
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


class SuggestionClickIn(FrameIn):
    """BOT-5, BOT-6: the consumer picked question `question_id`, offered in the bot's message
    at `seq` (a miss's "did you mean", or an answer's related questions)."""

    type: Literal["suggestion_click"]
    conversation_id: ConversationRef
    seq: Annotated[int, Field(ge=1, le=MAX_SEQ)]
    question_id: Annotated[int, Field(ge=1, le=2**63 - 1)]


class RateIn(FrameIn):
    """RATE-1, RATE-2: the consumer rates 1–5 stars, on their own (no `card_seq`, once per
    conversation) or answering the rating card at `card_seq` (each card once)."""

    type: Literal["rate"]
    conversation_id: ConversationRef
    stars: Annotated[int, Field(ge=1, le=5)]
    card_seq: Annotated[int, Field(ge=1, le=MAX_SEQ)] | None = None


class PageViewIn(FrameIn):
    """DESK-5: the consumer viewed a page of the shop's site that embeds the widget. At most 200
    per conversation are kept (later ones are not stored)."""

    type: Literal["page_view"]
    conversation_id: ConversationRef
    url: Annotated[Url, StringConstraints(min_length=1)]
    title: Annotated[str, StringConstraints(max_length=200)] = ""
    # When the page was viewed (ISO 8601 with a zone), as the shop's page saw it; the server
    # keeps it within the last day and not after its own now. Absent: the server's now.
    at: Annotated[AwareDatetime | None, Field(strict=False)] = None


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
    "rate": RateIn,
    "page_view": PageViewIn,
    "suggestion_click": SuggestionClickIn,
}


class LiveWatchIn(FrameIn):
    """LIVE-1: follow the shop's live view; answered with a `live` frame, pushed more after."""

    type: Literal["live_watch"]


class LiveUnwatchIn(FrameIn):
    """LIVE-1: stop following the live view."""

    type: Literal["live_unwatch"]


STAFF_FRAMES: dict[str, type[FrameIn]] = {
    "ping": PingIn,
    "send": SendIn,
    "sync": SyncIn,
    "live_watch": LiveWatchIn,
    "live_unwatch": LiveUnwatchIn,
}

# Frames that name a conversation: the isolation test sends each with another shop's id.
CONVERSATION_FRAMES = frozenset(
    {"typing", "send", "sync", "feedback", "faq_click", "rate", "page_view", "suggestion_click"}
)


class FrameOut(BaseModel):
    """A server frame: every key is always sent (nullable ones as null), and no other."""

    model_config = ConfigDict(extra="forbid")


class AnswerOut(FrameOut):
    """The answer to a client frame, echoing its `ref` (null when it had none)."""

    ref: Ref


class PongFrameOut(AnswerOut):
    type: Literal["pong"]


class AckFrameOut(AnswerOut, api.AckOut):
    """MSG-2: the answer to `send`, once the message is committed, with the stored message
    (the sending socket gets no `message` frame for it; the sender's other sockets do)."""

    type: Literal["ack"]
    message: api.MessageOut


class MessagesFrameOut(AnswerOut, api.MessagePageOut):
    """MSG-2: the answer to `sync`, a page of the conversation's messages after `since_seq`."""

    type: Literal["messages"]
    conversation_id: int


class ErrorFrameOut(AnswerOut, api.ErrorOut):
    """A refused frame, with the error model of HTTP; the socket stays open unless a close
    code applies (frame_too_large, and a refused `auth`, where `ref` is null)."""

    type: Literal["error"]


class FeedbackRecordedFrameOut(AnswerOut):
    """BOT-3: the answer to `feedback`."""

    type: Literal["feedback_recorded"]
    conversation_id: int
    seq: int
    resolved: bool


class FaqClickRecordedFrameOut(AnswerOut):
    """ENTRY-2, BOT-6: the answer to `faq_click`; `seq` is the bot's answer, null for a
    top-level item."""

    type: Literal["faq_click_recorded"]
    conversation_id: int
    item_id: str
    seq: int | None


class SuggestionClickRecordedFrameOut(AnswerOut):
    """BOT-5, BOT-6: the answer to `suggestion_click`; `answer_seq` is the bot's answer (also
    pushed as a `message`)."""

    type: Literal["suggestion_click_recorded"]
    conversation_id: int
    seq: int
    question_id: int
    answer_seq: int


class RatedFrameOut(AnswerOut):
    """RATE-2: the answer to `rate`: show "感谢您对客服{agent_name}的评价" (notice
    `rating.thanks`); `best` is the conversation's rating that counts."""

    type: Literal["rated"]
    conversation_id: int
    stars: int
    source: Literal["self", "invited", "forced"]
    agent_id: int
    agent_name: str
    best: int


class PageViewRecordedFrameOut(AnswerOut):
    """DESK-5: the answer to `page_view`; `recorded` is false once the conversation has its
    200 page views."""

    type: Literal["page_view_recorded"]
    conversation_id: int
    recorded: bool


class ConversationFrameOut(FrameOut):
    """A conversation's new state. It answers `open`, `request_human` and `leave_queue` (with
    their `ref`), and is pushed without one when the state, agent or participants change."""

    type: Literal["conversation"]
    ref: Ref = None
    conversation: api.ConversationOut


class MessageFrameOut(FrameOut):
    """MSG-2: a new message in a conversation the socket follows."""

    type: Literal["message"]
    message: api.MessageOut


class ReadyConsumerOut(api.SessionConsumerOut):
    id: int


class ConsumerReadyFrameOut(FrameOut):
    """The answer to `auth` (without a `ref`): who the consumer is, and their open
    conversation if any."""

    type: Literal["ready"]
    consumer: ReadyConsumerOut
    conversation: api.ConversationOut | None


class QueueFrameOut(FrameOut):
    """ROUTE-4: the queued conversation's position, pushed when it or the estimate changes;
    the estimate is null while the group has no recent assignments to go by, or no agent of
    the group online (`agents_online` false: the consumer is told nobody is there)."""

    type: Literal["queue"]
    conversation_id: int
    position: int
    estimated_wait_s: int | None
    agents_online: bool


class StaffReadyFrameOut(FrameOut):
    """Sent on connect, after the socket is subscribed (MSG-2)."""

    type: Literal["ready"]
    account: api.AccountOut


class AccountFrameOut(FrameOut):
    """PRES-1, PRES-2: the account's own status or reception limit changed."""

    type: Literal["account"]
    account: api.AccountOut


class TypingFrameOut(FrameOut):
    """MSG-3: what the consumer is typing, to the conversation's agents."""

    type: Literal["typing"]
    conversation_id: int
    text: str


class TransferRequestFrameOut(FrameOut):
    """CONV-7: a conversation offered to this agent."""

    type: Literal["transfer_request"]
    transfer: api.TransferOut
    conversation: api.ConversationOut


class TransferResultFrameOut(FrameOut):
    """CONV-7: the receiver accepted or declined the sender's offer."""

    type: Literal["transfer_result"]
    transfer: api.TransferOut


class SessionClosedFrameOut(FrameOut):
    """ACCT-4: the session ended elsewhere; the socket then closes with 4409."""

    type: Literal["session_closed"]
    reason: Literal["taken_over", "logged_out"]


class ResyncFrameOut(FrameOut):
    """MSG-2: events for this socket may have been lost (the server's fan-out reconnected to
    Redis): catch up with `sync` from each conversation's last seq, as after a reconnect."""

    type: Literal["resync"]


class AlertFrameOut(FrameOut):
    """LIVE-2: an alert, to each of its rule's recipients."""

    type: Literal["alert"]
    alert: AlertOut


class LiveFrameOut(FrameOut):
    """LIVE-1: the live view the socket's account may see; answers `live_watch` (with its
    `ref`) and is pushed (`ref` null) within a second of a change, at most twice a second."""

    type: Literal["live"]
    ref: Ref = None
    view: LiveViewOut


class LiveStoppedFrameOut(AnswerOut):
    """LIVE-1: the answer to `live_unwatch`."""

    type: Literal["live_stopped"]


_BOTH_SOCKETS: dict[str, type[FrameOut]] = {
    "pong": PongFrameOut,
    "ack": AckFrameOut,
    "messages": MessagesFrameOut,
    "error": ErrorFrameOut,
    "conversation": ConversationFrameOut,
    "message": MessageFrameOut,
    "resync": ResyncFrameOut,
}

# What each socket may receive, by `type`.
CONSUMER_FRAMES_OUT: dict[str, type[FrameOut]] = {
    **_BOTH_SOCKETS,
    "ready": ConsumerReadyFrameOut,
    "queue": QueueFrameOut,
    "feedback_recorded": FeedbackRecordedFrameOut,
    "faq_click_recorded": FaqClickRecordedFrameOut,
    "rated": RatedFrameOut,
    "page_view_recorded": PageViewRecordedFrameOut,
    "suggestion_click_recorded": SuggestionClickRecordedFrameOut,
}

STAFF_FRAMES_OUT: dict[str, type[FrameOut]] = {
    **_BOTH_SOCKETS,
    "ready": StaffReadyFrameOut,
    "account": AccountFrameOut,
    "typing": TypingFrameOut,
    "transfer_request": TransferRequestFrameOut,
    "transfer_result": TransferResultFrameOut,
    "session_closed": SessionClosedFrameOut,
    "alert": AlertFrameOut,
    "live": LiveFrameOut,
    "live_stopped": LiveStoppedFrameOut,
}
