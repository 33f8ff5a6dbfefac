"""Response bodies of the quality inspection routes (API-2), as /openapi.json shows them.
Documentation only: the routes answer with JsonOut, and tests validate real answers against
these models."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from kefu.api.models import Out

RuleKindOut = Literal[
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
PolarityOut = Literal["positive", "negative"]


class QaRuleOut(Out):
    """QA-1: one rule; `group_ids` empty means every group; `within_s` in seconds."""

    key: str
    kind: RuleKindOut
    polarity: PolarityOut
    is_enabled: bool
    group_ids: list[int]
    within_s: int
    phrases: list[str]
    pattern: str
    speaker: Literal["consumer", "agent"]
    name: str


class QaNextRulesOut(Out):
    applies_from: str
    rules: list[QaRuleOut]


class QaRulesOut(Out):
    """QA-1: today's rules (`today`, the shop's local date) and, when the owner changed them,
    the set that applies from tomorrow."""

    today: str
    rules: list[QaRuleOut]
    next: QaNextRulesOut | None


class QaInspectionOut(Out):
    """QA-2: an inspection and its progress (`processed` of `total` conversations)."""

    id: int
    state: Literal["running", "done"]
    first: str
    last: str
    group_ids: list[int]
    total: int
    processed: int
    created_by: int
    created_at: datetime
    finished_at: datetime | None


class QaInspectionListOut(Out):
    items: list[QaInspectionOut]


class QaRuleSeenOut(Out):
    key: str
    kind: RuleKindOut
    polarity: PolarityOut
    name: str


class QaAgentReportOut(Out):
    """One agent's hits per rule key, false positives left out (counted apart)."""

    agent_id: int
    display_name: str
    hits: dict[str, int]
    total: int
    false_positives: int


class QaReportOut(QaInspectionOut):
    rules: list[QaRuleSeenOut]
    agents: list[QaAgentReportOut]


class QaHitOut(Out):
    """A rule met at message `seq` of the conversation (null: at the assignment)."""

    id: int
    inspection_id: int
    conversation_id: int
    agent_id: int
    rule_key: str
    polarity: PolarityOut
    seq: int | None
    at: datetime
    is_false_positive: bool


class QaHitPageOut(Out):
    items: list[QaHitOut]
    total: int
    page: int


class QaContextMessageOut(Out):
    seq: int
    sender: str
    sender_id: int | None
    kind: str
    body: str
    created_at: datetime


class QaHitContextOut(Out):
    """QA-2: the hit and the messages around it (up to 4 before and 4 after)."""

    hit: QaHitOut
    messages: list[QaContextMessageOut]
