"""The shapes of the alerts' answers and of the `alert` frame (LIVE-2)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from kefu.api.models import Out


class AlertRuleOut(Out):
    """LIVE-2: `metric` `comparison` `threshold` alerts; scope `agent`: each agent of the
    group."""

    id: int
    scope: Literal["shop", "group", "agent"]
    group_id: int | None
    metric: str
    comparison: Literal["gt", "ge", "lt", "le"]
    threshold: float
    enabled: bool
    recipient_ids: list[int]


class AlertRulesOut(Out):
    items: list[AlertRuleOut]
    interval_s: int = Field(description="Seconds between evaluations (alert_interval_s).")
    next_evaluation_at: datetime | None
    max_recipients: int


class AlertHitOut(Out):
    scope: Literal["shop", "group", "agent"]
    id: int | None
    value: float


class AlertOut(Out):
    """One alert: a rule broken in an evaluation period, with each breaking scope's value."""

    id: int
    rule_id: int
    scope: Literal["shop", "group", "agent"]
    group_id: int | None
    metric: str
    comparison: Literal["gt", "ge", "lt", "le"]
    threshold: float
    hits: list[AlertHitOut]
    period_at: datetime
    created_at: datetime


class AlertHistoryItemOut(AlertOut):
    recipient_ids: list[int]
    suppressed: bool = Field(description="Not sent: a shop alert was raised at the same time.")


class AlertPageOut(Out):
    items: list[AlertHistoryItemOut]
    total: int
