"""HTTP routes of the conversation list (DATA-5) and the sales attribution (DATA-7), each as
JSON or, with `format=csv`, as a CSV download (DATA-8). Thin: validate, call the use case,
shape."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from kefu.analytics import conversations as rules
from kefu.analytics import list_service as service
from kefu.analytics.api import _csv, _documented
from kefu.analytics.list_models import ConversationListOut, SalesOut
from kefu.api.deps import ctx_of, current_staff
from kefu.api.errors import refusals
from kefu.api.responses import JsonOut
from kefu.api.schemas import MAX_ID, UtcTime
from kefu.services.context import Context, Staff

router = APIRouter(prefix="/api/analytics", default_response_class=JsonOut)
StaffDep = Annotated[Staff, Depends(current_staff)]
CtxDep = Annotated[Context, Depends(ctx_of)]
IdQ = Annotated[int | None, Query(ge=1, le=MAX_ID)]
FormatQ = Annotated[Literal["json", "csv"], Query()]

# A day far enough from the calendar's ends that the look-back and the next day exist.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)

SALES_COLUMNS = (
    "day",
    "agent_id",
    "display_name",
    "served",
    "inquiring",
    "paying",
    "inquiring_paying",
    "sales",
    "conversion_rate",
)


@router.get(
    "/conversations",
    response_class=Response,
    responses={**_documented(ConversationListOut, "conversations"), **refusals(404)},
)
async def conversations(
    staff: StaffDep,
    ctx: CtxDep,
    agent_id: IdQ = None,
    group_id: IdQ = None,
    consumer_id: IdQ = None,
    rating_source: Annotated[Literal["self", "invited", "forced"] | None, Query()] = None,
    rating: Annotated[str | None, Query(max_length=12)] = None,
    since: UtcTime | None = None,
    until: UtcTime | None = None,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    page_size: Annotated[int, Query(ge=1, le=rules.MAX_PAGE_SIZE)] = rules.DEFAULT_PAGE_SIZE,
    format: FormatQ = "json",
) -> Response:
    """DATA-5: the conversations the caller may open, newest first, filtered by agent, group,
    consumer, rating source, rating (`1`…`5`, `satisfied`, `unsatisfied`, `unrated`) and start
    time [since, until), each with its ratings and summary. `format=csv` downloads every
    matching conversation (at most 10,000) instead of a page (DATA-8)."""
    query = rules.make_query(
        agent_id=agent_id,
        group_id=group_id,
        consumer_id=consumer_id,
        rating_source=rating_source,
        rating=rating,
        since=since,
        until=until,
        cursor=cursor,
        page_size=page_size,
    )
    if format == "csv":
        items = await service.conversation_export(ctx, staff, query)
        rows = [rules.csv_row(item) for item in items]
        return _csv("conversations", rules.CSV_COLUMNS, rows)
    return JsonOut(await service.conversation_page(ctx, staff, query))


@router.get("/sales", response_class=Response, responses=_documented(SalesOut, "sales"))
async def sales(
    staff: StaffDep,
    ctx: CtxDep,
    day: Annotated[date | None, Query(ge=FIRST_DAY, le=LAST_DAY)] = None,
    format: FormatQ = "json",
) -> Response:
    """DATA-7: the day's (default: today's) sales attribution with the day before beside it,
    for the shop and per agent (owners and supervisors). `format=csv` downloads both days'
    rows, the shop's first (DATA-8)."""
    view = await service.sales_view(ctx, staff, day=day)
    if format == "csv":
        return _csv(f"sales-{view['day']}", SALES_COLUMNS, _sales_rows(view))
    return JsonOut(view)


def _sales_rows(view: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for key, day in (("current", view["day"]), ("previous", view["previous_day"])):
        rows.append({"day": day, **view[key]})
        rows += [
            {"day": day, "agent_id": a["agent_id"], "display_name": a["display_name"], **a[key]}
            for a in view["agents"]
        ]
    return rows
