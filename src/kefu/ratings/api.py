"""HTTP routes of ratings (API-2): the agent's rating invitation (RATE-1, DESK-7) and a
conversation's ratings and response time (DESK-4). The consumer rates with the `rate` frame
(gateway). Thin: validate, call a service, shape the answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import Field

from kefu.api import models as m
from kefu.api.deps import ctx_of, current_staff
from kefu.api.errors import refusals
from kefu.api.models import Out
from kefu.api.responses import JsonOut
from kefu.api.schemas import MAX_ID
from kefu.ratings import service
from kefu.services.context import Staff

router = APIRouter(prefix="/api", default_response_class=JsonOut)
StaffDep = Annotated[Staff, Depends(current_staff)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


class RatingOut(Out):
    stars: int = Field(description="RATE-2: 1 to 5.")
    source: Literal["self", "invited", "forced"]
    agent_id: int = Field(description="The rated agent: the holder then (CONV-7).")
    agent_name: str
    at: datetime


class ServiceQualityOut(Out):
    """DESK-4: the header's rating result and average response time."""

    conversation_id: int
    rating: int | None = Field(description="RATE-2: the best rating; null: unrated.")
    ratings: list[RatingOut] = Field(description="Every rating, oldest first.")
    average_response_s: float | None = Field(
        description="Mean of (agent reply − the consumer message it answers), in seconds; "
        "null: no reply answered a consumer message yet."
    )


@router.post(
    "/conversations/{conversation_id}/rating-invitations",
    tags=["ratings"],
    response_model=m.ConversationOut,
    responses=refusals(401, 403, 404, 422),
)
async def invite_rating(conversation_id: Id, staff: StaffDep, request: Request) -> JsonOut:
    """RATE-1, DESK-7: post a rating card in the conversation (any number of times)."""
    return JsonOut(await service.invite_rating(ctx_of(request), staff, conversation_id))


@router.get(
    "/conversations/{conversation_id}/service-quality",
    tags=["ratings"],
    response_model=ServiceQualityOut,
    responses=refusals(401, 403, 404, 422),
)
async def service_quality(conversation_id: Id, staff: StaffDep, request: Request) -> JsonOut:
    """DESK-4: the conversation's ratings and average response time."""
    return JsonOut(await service.service_quality(ctx_of(request), staff, conversation_id))
