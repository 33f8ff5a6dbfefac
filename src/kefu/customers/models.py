"""Response bodies of the side panel's and proactive conversations' HTTP routes (DESK-5,
CONV-6), as /openapi.json shows them. Documentation only, like kefu.api.models."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from kefu.api.models import ConsumerOut, ConversationOut, MessageOut, Out


class ProfileOut(Out):
    notes: str
    tags: list[str]
    phone: str
    updated_by: int | None
    updated_at: datetime | None = Field(description="None: never saved.")


class VisitedPageOut(Out):
    url: str
    title: str
    at: datetime
    seconds_on_page: int | None = Field(
        description="Until the next page view; None for the last page (the consumer may "
        "still be on it)."
    )


class TrailOut(Out):
    source: str
    ip: str
    region: str
    page_url: str
    pages: list[VisitedPageOut]


class PanelOut(Out):
    consumer: ConsumerOut
    profile: ProfileOut
    recent_conversations: list[ConversationOut] = Field(
        description="The consumer's last 5 other conversations with the shop, newest first."
    )
    trail: TrailOut


class OrderOut(Out):
    id: int
    order_no: str
    title: str
    item_count: int
    amount: str
    ordered_at: datetime


class CustomerOrderPageOut(Out):
    items: list[OrderOut]
    total: int


class PastConversationOut(Out):
    conversation: ConversationOut
    messages: list[MessageOut]
    has_more: bool


class FoundConsumerOut(Out):
    id: int
    uid: str
    nickname: str
    is_vip: bool
    last_ordered_at: datetime | None
    may_start: bool = Field(description="CONV-6: ordered from the shop within 30 days.")


class FoundConsumerPageOut(Out):
    items: list[FoundConsumerOut]
    total: int
