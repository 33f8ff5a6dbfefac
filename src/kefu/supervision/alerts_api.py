"""HTTP routes of the alerts (LIVE-2): the rules (the owner writes, supervisors read) and the
alert history. Thin: validate, call the service, shape the answer."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field

from kefu.api.deps import ctx_of, current_staff
from kefu.api.errors import refusals
from kefu.api.models import OkOut
from kefu.api.responses import JsonOut
from kefu.api.schemas import MAX_ID, DbId, In
from kefu.services.context import Staff
from kefu.storage.alerts import AlertRecord
from kefu.supervision import alerts
from kefu.supervision.alerts_domain import (
    MAX_RECIPIENTS,
    MAX_THRESHOLD,
    AlertRule,
    Comparison,
    RuleScope,
)
from kefu.supervision.alerts_models import AlertPageOut, AlertRuleOut, AlertRulesOut

router = APIRouter(prefix="/api/supervision/alerts", default_response_class=JsonOut)
StaffDep = Annotated[Staff, Depends(current_staff)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Page = Annotated[int, Query(ge=1, le=100_000)]
PageSize = Annotated[int, Query(ge=1, le=100)]
Metric = Literal[
    "queued",
    "online",
    "suspended",
    "pending",
    "pending_per_agent",
    "response_3m_s",
    "handover_rate_3m",
    "served_today",
]


class RuleIn(In):
    scope: Literal["shop", "group", "agent"]
    group_id: DbId | None = None
    metric: Metric
    comparison: Literal["gt", "ge", "lt", "le"]
    # Strict mode refuses an int for a float: both are numbers here.
    threshold: Annotated[int | float, Field(ge=0, le=MAX_THRESHOLD)]
    enabled: bool = True
    # The domain refuses more than MAX_RECIPIENTS (`alerts.too_many_recipients`).
    recipient_ids: Annotated[list[DbId], Field(max_length=MAX_RECIPIENTS * 5)] = Field(
        default_factory=list
    )


@router.get(
    "/rules",
    tags=["supervision"],
    response_model=AlertRulesOut,
    responses=refusals(401, 403),
)
async def list_rules(staff: StaffDep, request: Request) -> JsonOut:
    """LIVE-2 (owner and supervisors): the alert rules and the evaluation interval."""
    view = await alerts.list_rules(ctx_of(request), staff)
    return JsonOut(
        {
            "items": [_rule(r) for r in view.rules],
            "interval_s": view.interval_s,
            "next_evaluation_at": view.next_evaluation_at,
            "max_recipients": MAX_RECIPIENTS,
        }
    )


@router.post(
    "/rules",
    tags=["supervision"],
    status_code=201,
    response_model=AlertRuleOut,
    responses=refusals(401, 403, 404, 413, 422),
)
async def add_rule(body: RuleIn, staff: StaffDep, request: Request) -> JsonOut:
    """LIVE-2, SET-1 (owner): a new alert rule."""
    rule = await alerts.add_rule(ctx_of(request), staff, _change(body))
    return JsonOut(_rule(rule), status_code=201)


@router.put(
    "/rules/{rule_id}",
    tags=["supervision"],
    response_model=AlertRuleOut,
    responses=refusals(401, 403, 404, 413, 422),
)
async def update_rule(rule_id: Id, body: RuleIn, staff: StaffDep, request: Request) -> JsonOut:
    """LIVE-2, SET-1 (owner): change a rule (threshold, on/off, recipients…)."""
    return JsonOut(_rule(await alerts.update_rule(ctx_of(request), staff, rule_id, _change(body))))


@router.delete(
    "/rules/{rule_id}",
    tags=["supervision"],
    response_model=OkOut,
    responses=refusals(401, 403, 404, 422),
)
async def delete_rule(rule_id: Id, staff: StaffDep, request: Request) -> JsonOut:
    """LIVE-2, SET-1 (owner): remove a rule; its alerts stay in the history."""
    await alerts.delete_rule(ctx_of(request), staff, rule_id)
    return JsonOut({"ok": True})


@router.get(
    "",
    tags=["supervision"],
    response_model=AlertPageOut,
    responses=refusals(401, 403, 422),
)
async def list_alerts(
    staff: StaffDep, request: Request, page: Page = 1, page_size: PageSize = 20
) -> JsonOut:
    """LIVE-2 (owner and supervisors): the alert history, latest first."""
    items, total = await alerts.list_alerts(ctx_of(request), staff, page=page, page_size=page_size)
    return JsonOut({"items": [_alert(a) for a in items], "total": total})


def _change(body: RuleIn) -> alerts.RuleChange:
    return alerts.RuleChange(
        scope=RuleScope(body.scope),
        group_id=body.group_id,
        metric=body.metric,
        comparison=Comparison(body.comparison),
        threshold=float(body.threshold),
        enabled=body.enabled,
        recipients=tuple(body.recipient_ids),
    )


def _rule(rule: AlertRule) -> dict[str, object]:
    return {
        "id": rule.id,
        "scope": str(rule.scope),
        "group_id": rule.group_id,
        "metric": rule.metric,
        "comparison": str(rule.comparison),
        "threshold": rule.threshold,
        "enabled": rule.enabled,
        "recipient_ids": list(rule.recipients),
    }


def _alert(alert: AlertRecord) -> dict[str, object]:
    return {
        "id": alert.id,
        "rule_id": alert.rule_id,
        "scope": alert.scope,
        "group_id": alert.group_id,
        "metric": alert.metric,
        "comparison": alert.comparison,
        "threshold": alert.threshold,
        "hits": alert.hits,
        "period_at": alert.period_at,
        "created_at": alert.created_at,
        "recipient_ids": alert.recipients,
        "suppressed": alert.suppressed,
    }
