"""HTTP routes of quality inspection (QA-1, QA-2). Thin: validate, call the service, shape the
answer (JSON, or the per-agent report as a CSV download)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import Field, Strict, StringConstraints
from starlette.responses import Response

from kefu.analytics.export import to_csv
from kefu.api.deps import ctx_of, current_staff
from kefu.api.errors import refusals
from kefu.api.responses import JsonOut
from kefu.api.schemas import MAX_ID, DbId, In
from kefu.quality import service
from kefu.quality.domain import (
    MAX_GROUPS_PER_RULE,
    MAX_NAME_CHARS,
    MAX_PATTERN_CHARS,
    MAX_PHRASE_CHARS,
    MAX_PHRASES,
    MAX_RULES,
    MAX_WITHIN_S,
    Polarity,
    Rule,
    RuleKind,
    Speaker,
)
from kefu.quality.models import (
    QaHitContextOut,
    QaHitOut,
    QaHitPageOut,
    QaInspectionListOut,
    QaReportOut,
    QaRulesOut,
)
from kefu.services.context import Context, Staff

router = APIRouter(prefix="/api/quality", tags=["quality"], default_response_class=JsonOut)
StaffDep = Annotated[Staff, Depends(current_staff)]
CtxDep = Annotated[Context, Depends(ctx_of)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Day = Annotated[date, Strict(False)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=20)]
REPORT_COLUMNS = ("agent_id", "display_name", "rule", "polarity", "hits")

RuleKindIn = Literal[
    "greeting",
    "closing",
    "regreeting",
    "forbidden_words",
    "slow_first_response",
    "unanswered",
    "keywords",
    "regex",
    "timing",
]


class RuleIn(In):
    key: Key
    kind: RuleKindIn
    polarity: Literal["positive", "negative"] = "negative"
    is_enabled: bool = True
    group_ids: Annotated[list[DbId], Field(default_factory=list, max_length=MAX_GROUPS_PER_RULE)]
    within_s: Annotated[int, Field(ge=0, le=MAX_WITHIN_S)] = 0
    phrases: Annotated[
        list[Annotated[str, StringConstraints(max_length=MAX_PHRASE_CHARS)]],
        Field(default_factory=list, max_length=MAX_PHRASES),
    ]
    pattern: Annotated[str, StringConstraints(max_length=MAX_PATTERN_CHARS)] = ""
    speaker: Literal["consumer", "agent"] = "agent"
    name: Annotated[str, StringConstraints(max_length=MAX_NAME_CHARS)] = ""

    def rule(self) -> Rule:
        return Rule(
            key=self.key,
            kind=RuleKind(self.kind),
            polarity=Polarity(self.polarity),
            is_enabled=self.is_enabled,
            group_ids=frozenset(self.group_ids),
            within_s=self.within_s,
            phrases=tuple(self.phrases),
            pattern=self.pattern,
            speaker=Speaker(self.speaker),
            name=self.name,
        )


class RulesIn(In):
    rules: Annotated[list[RuleIn], Field(max_length=MAX_RULES)]


class InspectionIn(In):
    first: Day
    last: Day
    group_ids: Annotated[list[DbId], Field(default_factory=list, max_length=service.MAX_GROUPS)]


class FalsePositiveIn(In):
    is_false_positive: bool


@router.get("/rules", response_model=QaRulesOut, responses=refusals(401, 403))
async def rules(staff: StaffDep, ctx: CtxDep) -> JsonOut:
    """QA-1: the rules in force today and those that apply from tomorrow, if changed."""
    return JsonOut(await service.rules_view(ctx, staff))


@router.put("/rules", response_model=QaRulesOut, responses=refusals(401, 403, 404, 422))
async def save_rules(body: RulesIn, staff: StaffDep, ctx: CtxDep) -> JsonOut:
    """QA-1, SET-1: the owner's whole rule set, in force from tomorrow (shop's time zone)."""
    saved = await service.save_rules(ctx, staff, rules=[r.rule() for r in body.rules])
    return JsonOut(saved)


@router.post(
    "/inspections",
    status_code=201,
    response_model=QaReportOut,
    responses=refusals(401, 403, 404, 422),
)
async def start(body: InspectionIn, staff: StaffDep, ctx: CtxDep) -> JsonOut:
    """QA-2: start an inspection of local days first..last (at most 31) in these groups
    (none: all); it runs in the background, its progress in `processed` of `total`."""
    view = await service.start_inspection(
        ctx, staff, first=body.first, last=body.last, group_ids=body.group_ids
    )
    return JsonOut(view, status_code=201)


@router.get("/inspections", response_model=QaInspectionListOut, responses=refusals(401, 403))
async def inspections(staff: StaffDep, ctx: CtxDep) -> JsonOut:
    """QA-2: the latest inspections, with their progress."""
    return JsonOut(await service.inspections_view(ctx, staff))


@router.get(
    "/inspections/{inspection_id}",
    response_class=Response,
    responses={
        200: {
            "description": "The report, or with `format=csv` a download of it.",
            "model": QaReportOut,
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **refusals(401, 403, 404, 422),
    },
)
async def report(
    inspection_id: Id,
    staff: StaffDep,
    ctx: CtxDep,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    """QA-2: progress and, per agent, each rule's hits (false positives left out);
    `format=csv` downloads one row per agent and rule."""
    view = await service.inspection_view(ctx, staff, inspection_id)
    if format == "csv":
        return _csv(f"quality-{view['id']}-{view['first']}", _report_rows(view))
    return JsonOut(view)


def _report_rows(view: dict[str, Any]) -> list[dict[str, Any]]:
    polarity = {r["key"]: r["polarity"] for r in view["rules"]}
    return [
        {
            "agent_id": agent["agent_id"],
            "display_name": agent["display_name"],
            "rule": key,
            "polarity": polarity.get(key, ""),
            "hits": count,
        }
        for agent in view["agents"]
        for key, count in agent["hits"].items()
    ]


def _csv(name: str, rows: list[dict[str, Any]]) -> Response:
    return Response(
        to_csv(REPORT_COLUMNS, rows).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}.csv"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get(
    "/inspections/{inspection_id}/hits",
    response_model=QaHitPageOut,
    responses=refusals(401, 403, 404, 422),
)
async def hits(
    inspection_id: Id,
    staff: StaffDep,
    ctx: CtxDep,
    agent_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    rule_key: Annotated[str | None, Query(max_length=20)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 20,
) -> JsonOut:
    """QA-2: the inspection's hits, by agent and rule when given, a page at a time."""
    found = await service.hits_view(
        ctx,
        staff,
        inspection_id,
        agent_id=agent_id,
        rule_key=rule_key,
        page=page,
        page_size=page_size,
    )
    return JsonOut(found)


@router.get(
    "/hits/{hit_id}/context", response_model=QaHitContextOut, responses=refusals(401, 403, 404, 422)
)
async def hit_context(hit_id: Id, staff: StaffDep, ctx: CtxDep) -> JsonOut:
    """QA-2: the hit with the conversation's messages around it."""
    return JsonOut(await service.hit_context(ctx, staff, hit_id))


@router.put(
    "/hits/{hit_id}/false-positive",
    response_model=QaHitOut,
    responses=refusals(401, 403, 404, 422),
)
async def false_positive(
    hit_id: Id, body: FalsePositiveIn, staff: StaffDep, ctx: CtxDep
) -> JsonOut:
    """QA-2: mark or unmark the hit as a false positive (kept for re-runs of the range)."""
    marked = await service.mark_false_positive(
        ctx, staff, hit_id, is_false_positive=body.is_false_positive
    )
    return JsonOut(marked)
