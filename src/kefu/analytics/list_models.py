"""Response bodies of the conversation list (DATA-5) and the sales attribution (DATA-7), as
/openapi.json shows them. Documentation only: the routes answer with JsonOut, and tests
validate real answers against these models."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from kefu.api.models import Out


class ListedConsumerOut(Out):
    id: int
    uid: str
    nickname: str


class ListedRatingOut(Out):
    stars: int
    source: str = Field(description="`self` (the consumer's own), `invited` or `forced`.")
    agent_id: int
    at: datetime


class ListedSummaryOut(Out):
    path: list[str] = Field(description="The category names as picked, top level first.")
    note: str
    agent_id: int
    at: datetime


class ListedConversationOut(Out):
    id: int
    state: str
    created_at: datetime
    ended_at: datetime | None
    consumer: ListedConsumerOut
    agent_id: int | None
    agent_name: str | None
    group_id: int | None
    group_name: str | None
    best_stars: int | None = Field(description="RATE-2: the rating that counts, the best one.")
    ratings: list[ListedRatingOut]
    summary: ListedSummaryOut | None


class ConversationListOut(Out):
    items: list[ListedConversationOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: last.")


class SalesFiguresOut(Out):
    """DATA-7 figures of one day: consumers served by a human, inquiring (no order in the 21
    days before), paying after being served, inquiring_paying (the inquiring among them), sales
    (decimal text) and conversion_rate = inquiring_paying / inquiring (null: nobody inquired)."""

    served: int
    inquiring: int
    paying: int
    inquiring_paying: int
    sales: str
    conversion_rate: float | None


class AgentSalesOut(Out):
    agent_id: int
    display_name: str
    current: SalesFiguresOut
    previous: SalesFiguresOut


class SalesOut(Out):
    day: str
    previous_day: str
    time_zone: str
    current: SalesFiguresOut
    previous: SalesFiguresOut
    agents: list[AgentSalesOut] = Field(
        description="Each consumer credited to the agent who served them first that day."
    )
