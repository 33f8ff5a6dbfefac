"""HTTP routes of the customer's side panel (DESK-5) and of proactive conversations (CONV-6,
LIMIT-2). Thin: validate, call a service, shape the answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field, StringConstraints

from kefu.api.deps import ctx_of, current_staff
from kefu.api.errors import refusals
from kefu.api.models import ConversationOut
from kefu.api.responses import JsonOut
from kefu.api.schemas import MAX_ID, In
from kefu.customers import domain, service
from kefu.customers import models as c
from kefu.services.context import Staff

router = APIRouter(prefix="/api", default_response_class=JsonOut)
StaffDep = Annotated[Staff, Depends(current_staff)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Page = Annotated[int, Query(ge=1, le=service.MAX_PAGE)]
PageSize = Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)]
# Generous caps against huge payloads; the exact limits are the domain's, with named params.
Long = Annotated[str, StringConstraints(max_length=10_000)]


class ProfileIn(In):
    notes: Long = ""
    tags: Annotated[list[Long], Field(default_factory=list, max_length=100)]
    phone: Long = ""


@router.get(
    "/conversations/{conversation_id}/panel",
    tags=["customers"],
    response_model=c.PanelOut,
    responses=refusals(401, 403, 404, 422),
)
async def panel(conversation_id: Id, staff: StaffDep, request: Request) -> JsonOut:
    return JsonOut(await service.load_panel(ctx_of(request), staff, conversation_id))


@router.get(
    "/customers/search",
    tags=["customers"],
    response_model=c.FoundConsumerPageOut,
    responses=refusals(401, 422),
)
async def search(
    staff: StaffDep,
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=domain.MAX_SEARCH_CHARS)],
    page: Page = 1,
    page_size: PageSize = 20,
) -> JsonOut:
    items, total = await service.search_consumers(
        ctx_of(request), staff, text=q, page=page, page_size=page_size
    )
    return JsonOut({"items": items, "total": total})


@router.get(
    "/customers/{consumer_id}/orders",
    tags=["customers"],
    response_model=c.CustomerOrderPageOut,
    responses=refusals(401, 404, 422),
)
async def orders(
    consumer_id: Id, staff: StaffDep, request: Request, page: Page = 1, page_size: PageSize = 10
) -> JsonOut:
    items, total = await service.consumer_orders(
        ctx_of(request), staff, consumer_id, page=page, page_size=page_size
    )
    return JsonOut({"items": items, "total": total})


@router.put(
    "/customers/{consumer_id}/profile",
    tags=["customers"],
    response_model=c.ProfileOut,
    responses=refusals(401, 403, 404, 422),
)
async def save_profile(
    consumer_id: Id, body: ProfileIn, staff: StaffDep, request: Request
) -> JsonOut:
    saved = await service.save_profile(
        ctx_of(request), staff, consumer_id, notes=body.notes, tags=body.tags, phone=body.phone
    )
    return JsonOut(saved)


@router.get(
    "/customers/{consumer_id}/conversations/{conversation_id}",
    tags=["customers"],
    response_model=c.PastConversationOut,
    responses=refusals(401, 404, 422),
)
async def past_conversation(
    consumer_id: Id,
    conversation_id: Id,
    staff: StaffDep,
    request: Request,
    since_seq: Annotated[int, Query(ge=0, le=2**31)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 200,
) -> JsonOut:
    view, messages, has_more = await service.past_conversation(
        ctx_of(request), staff, consumer_id, conversation_id, since_seq=since_seq, limit=limit
    )
    return JsonOut({"conversation": view, "messages": messages, "has_more": has_more})


@router.post(
    "/customers/{consumer_id}/conversations",
    tags=["customers"],
    response_model=ConversationOut,
    responses=refusals(401, 403, 404, 409, 422),
)
async def start_proactive(consumer_id: Id, staff: StaffDep, request: Request) -> JsonOut:
    return JsonOut(await service.start_proactive(ctx_of(request), staff, consumer_id))
