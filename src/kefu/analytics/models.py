"""Response bodies of the analytics routes (API-2), as /openapi.json shows them. Documentation
only: the routes answer with JsonOut, and tests validate real answers against these models.
A rate or a mean is null when it has nothing to count."""

from __future__ import annotations

from kefu.api.models import IntentNodeOut, Out


class AssessmentOut(Out):
    """DATA-3 (Feige), over human requests made between 08:00 and 23:00 local time."""

    requests: int
    non_service: int
    first_reply_within_2min: int
    rounds: int
    rounds_within_3min: int
    non_service_rate: float | None
    first_reply_rate_2min: float | None
    human_reply_rate_3min: float | None


class FiguresOut(Out):
    """DATA-1 figures; times in seconds."""

    conversations: int
    human_requests: int
    assigned: int
    picked_up: int
    settled: int
    queue_time_s: float | None
    first_response_s: float | None
    response_s: float | None
    replies: int
    replies_within_30s: int
    replies_within_60s: int
    rated: int
    satisfied: int
    pickup_rate: float | None
    abandonment_rate: float | None
    rate_30s: float | None
    rate_60s: float | None
    satisfaction_rate: float | None
    assessment: AssessmentOut


class DayFiguresOut(FiguresOut):
    date: str


class PeriodOut(Out):
    kind: str
    first: str
    last: str
    previous_first: str
    previous_last: str
    time_zone: str


class DashboardOut(Out):
    period: PeriodOut
    current: FiguresOut
    previous: FiguresOut
    trend: list[DayFiguresOut]


class AgentFiguresOut(Out):
    """DATA-2 for one agent: conversations credited to them (a transfer's receiver, each
    invited agent once), their own replies and the ratings of them."""

    agent_id: int
    display_name: str
    group_id: int | None
    conversations: int
    human_requests: int
    assigned: int
    picked_up: int
    settled: int
    queue_time_s: float | None
    first_response_s: float | None
    response_s: float | None
    replies: int
    replies_within_30s: int
    replies_within_60s: int
    rated: int
    satisfied: int
    rate_30s: float | None
    rate_60s: float | None
    satisfaction_rate: float | None
    rating_rate: float | None


class AgentAnalysisOut(Out):
    period: PeriodOut
    agents: list[AgentFiguresOut]


class TargetResultOut(Out):
    """DATA-4: `passed` and `gap` are null when the figure has nothing to count."""

    metric: str
    comparison: str
    threshold: float
    value: float | None
    passed: bool | None
    gap: float | None


class TargetsOut(Out):
    preset: str
    edited: bool
    period: PeriodOut
    results: list[TargetResultOut]


class IntentRowOut(Out):
    """DATA-6: `dissatisfied` counts conversations whose best rating is 1 or 2 stars."""

    top: str
    name: str
    conversations: int
    rated: int
    dissatisfied: int
    dissatisfaction_rate: float | None
    contribution: float | None


class IntentsOut(Out):
    period: PeriodOut
    conversations: int
    by_volume: list[IntentRowOut]
    by_contribution: list[IntentRowOut]


class TaxonomyOut(Out):
    edited: bool
    taxonomy: list[IntentNodeOut]
