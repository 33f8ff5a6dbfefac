"""HTTP route of the history search (DATA-5). Thin: validate, call the service, shape."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from kefu.api.deps import ctx_of, current_staff
from kefu.api.errors import refusals
from kefu.api.responses import JsonOut
from kefu.api.schemas import MAX_ID, UtcTime
from kefu.search import domain, service
from kefu.search.models import SearchPageOut
from kefu.services.context import Staff

router = APIRouter(prefix="/api", default_response_class=JsonOut)
StaffDep = Annotated[Staff, Depends(current_staff)]


@router.get(
    "/history/search",
    tags=["history"],
    response_model=SearchPageOut,
    responses=refusals(401, 404, 422),
)
async def search_history(
    staff: StaffDep,
    request: Request,
    q: Annotated[str | None, Query(max_length=domain.MAX_QUERY_CHARS)] = None,
    agent_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    consumer: Annotated[str | None, Query(max_length=domain.MAX_CONSUMER_CHARS)] = None,
    since: UtcTime | None = None,
    until: UtcTime | None = None,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    page_size: Annotated[int, Query(ge=1, le=domain.MAX_PAGE_SIZE)] = domain.DEFAULT_PAGE_SIZE,
) -> JsonOut:
    query = domain.make_query(
        q=q,
        agent_id=agent_id,
        consumer=consumer,
        since=since,
        until=until,
        cursor=cursor,
        page_size=page_size,
    )
    return JsonOut(await service.search_history(ctx_of(request), staff, query))
