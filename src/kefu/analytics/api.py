"""HTTP routes of the analytics (DATA-1, DATA-2, DATA-3, DATA-8). Thin: read the period, call
the service, shape the answer as JSON or as a CSV download."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field, StringConstraints
from starlette.responses import Response

from kefu.analytics import service
from kefu.analytics.export import to_csv
from kefu.analytics.intents import MAX_CHILDREN, MAX_KEYWORD_CHARS, MAX_KEYWORDS, MAX_TOP
from kefu.analytics.models import (
    AgentAnalysisOut,
    DashboardOut,
    IntentsOut,
    TargetsOut,
    TaxonomyOut,
)
from kefu.analytics.periods import PeriodKind
from kefu.analytics.targets import MAX_TARGETS
from kefu.api.deps import ctx_of, current_staff
from kefu.api.errors import refusals
from kefu.api.models import Out
from kefu.api.responses import JsonOut
from kefu.api.schemas import In
from kefu.services.context import Context, Staff

router = APIRouter(prefix="/api/analytics", default_response_class=JsonOut)
StaffDep = Annotated[Staff, Depends(current_staff)]
CtxDep = Annotated[Context, Depends(ctx_of)]
PeriodQ = Annotated[Literal["day", "week", "month", "custom"], Query()]
DayQ = Annotated[date | None, Query()]
FormatQ = Annotated[Literal["json", "csv"], Query()]

SHOP_COLUMNS = (
    "date",
    "conversations",
    "human_requests",
    "assigned",
    "pickup_rate",
    "abandonment_rate",
    "queue_time_s",
    "first_response_s",
    "response_s",
    "rate_30s",
    "rate_60s",
    "satisfaction_rate",
    "rated",
)
INTENT_COLUMNS = (
    "top",
    "name",
    "conversations",
    "rated",
    "dissatisfied",
    "dissatisfaction_rate",
    "contribution",
)
AGENT_COLUMNS = (
    "agent_id",
    "display_name",
    "assigned",
    "first_response_s",
    "response_s",
    "rate_30s",
    "rate_60s",
    "satisfaction_rate",
    "rated",
    "rating_rate",
)


def _documented(model: type[Out], name: str) -> dict[int | str, dict[str, Any]]:
    """JSON by default; with `format=csv` a download of the table (DATA-8)."""
    return {
        200: {
            "description": "The figures, or with `format=csv` the table as a CSV download.",
            "model": model,
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "headers": {
                "Content-Disposition": {
                    "description": f'with format=csv: attachment; filename="{name}-….csv"',
                    "schema": {"type": "string"},
                }
            },
        },
        **refusals(401, 403, 422),
    }


@router.get("/dashboard", response_class=Response, responses=_documented(DashboardOut, "dashboard"))
async def dashboard(
    staff: StaffDep,
    ctx: CtxDep,
    period: PeriodQ = "day",
    first: DayQ = None,
    last: DayQ = None,
    format: FormatQ = "json",
) -> Response:
    """DATA-1 and DATA-3: the shop's figures for the period, the previous period's beside them
    and a trend by day (owners and supervisors). `format=csv` downloads the trend (DATA-8)."""
    view = await service.dashboard(ctx, staff, kind=PeriodKind(period), first=first, last=last)
    if format == "csv":
        return _csv(f"dashboard-{view['period']['first']}", SHOP_COLUMNS, view["trend"])
    return JsonOut(view)


@router.get("/agents", response_class=Response, responses=_documented(AgentAnalysisOut, "agents"))
async def agents(
    staff: StaffDep,
    ctx: CtxDep,
    period: PeriodQ = "day",
    first: DayQ = None,
    last: DayQ = None,
    format: FormatQ = "json",
) -> Response:
    """DATA-2: each agent's figures (a custom range of at most 30 days); a group leader sees
    their group's agents. `format=csv` downloads the table (DATA-8)."""
    view = await service.agent_analysis(ctx, staff, kind=PeriodKind(period), first=first, last=last)
    if format == "csv":
        return _csv(f"agents-{view['period']['first']}", AGENT_COLUMNS, view["agents"])
    return JsonOut(view)


class TargetIn(In):
    metric: Annotated[str, StringConstraints(max_length=40)]
    comparison: Literal["at_most", "below", "at_least"]
    threshold: Annotated[float, Field(ge=0, le=86_400)]


class TargetsIn(In):
    preset: Literal["feige", "xixi"]
    targets: Annotated[list[TargetIn], Field(max_length=MAX_TARGETS)] | None = None


@router.get("/targets", response_model=TargetsOut, responses=refusals(401, 403))
async def targets(staff: StaffDep, ctx: CtxDep) -> JsonOut:
    """DATA-4: the targets and how the last 7 days meet them (owners and supervisors)."""
    return JsonOut(await service.targets_view(ctx, staff))


@router.put("/targets", response_model=TargetsOut, responses=refusals(401, 403, 422))
async def set_targets(body: TargetsIn, staff: StaffDep, ctx: CtxDep) -> JsonOut:
    """DATA-4, SET-1: the owner picks a preset and may edit its targets (null: the preset's)."""
    edited = None if body.targets is None else [t.model_dump() for t in body.targets]
    return JsonOut(await service.set_targets(ctx, staff, preset=body.preset, targets=edited))


@router.get("/intents", response_class=Response, responses=_documented(IntentsOut, "intents"))
async def intents(
    staff: StaffDep,
    ctx: CtxDep,
    period: PeriodQ = "week",
    first: DayQ = None,
    last: DayQ = None,
    format: FormatQ = "json",
) -> Response:
    """DATA-6: top 10 intents by volume and by dissatisfaction contribution (≤ 31 days);
    `format=csv` downloads the volume table (DATA-8)."""
    view = await service.intents_view(ctx, staff, kind=PeriodKind(period), first=first, last=last)
    if format == "csv":
        return _csv(f"intents-{view['period']['first']}", INTENT_COLUMNS, view["by_volume"])
    return JsonOut(view)


Short = Annotated[str, StringConstraints(max_length=MAX_KEYWORD_CHARS)]


class IntentLeafIn(In):
    name: Short
    keywords: Annotated[list[Short], Field(max_length=MAX_KEYWORDS)]


class IntentNodeIn(In):
    name: Short
    children: Annotated[list[IntentLeafIn], Field(max_length=MAX_CHILDREN)]


class TaxonomyIn(In):
    taxonomy: Annotated[list[IntentNodeIn], Field(max_length=MAX_TOP)] | None


@router.get("/intents/taxonomy", response_model=TaxonomyOut, responses=refusals(401, 403))
async def taxonomy(staff: StaffDep, ctx: CtxDep) -> JsonOut:
    """DATA-6: the intent taxonomy with its keywords (the default one until edited)."""
    return JsonOut(await service.taxonomy_view(ctx, staff))


@router.put("/intents/taxonomy", response_model=TaxonomyOut, responses=refusals(401, 403, 422))
async def set_taxonomy(body: TaxonomyIn, staff: StaffDep, ctx: CtxDep) -> JsonOut:
    """DATA-6, SET-1: the owner replaces the taxonomy; null restores the default."""
    raw = None if body.taxonomy is None else [n.model_dump() for n in body.taxonomy]
    return JsonOut(await service.set_taxonomy(ctx, staff, raw))


def _csv(name: str, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> Response:
    return Response(
        to_csv(columns, rows).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}.csv"',
            "X-Content-Type-Options": "nosniff",
        },
    )
