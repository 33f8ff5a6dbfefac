"""Bodies of the live monitoring routes and of the `live` frame (LIVE-1, LIVE-3), as
/openapi.json and docs/protocol.md show them. Documentation and test contract only: the routes
answer with JsonOut. A ratio or a mean is null when it has nothing to count; `alerting` lists
the metrics of the scope that alert now (LIVE-2)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from kefu.api.models import Out


class LiveTotalsOut(Out):
    """DATA-1's figures of a local day (times in seconds)."""

    conversations: int
    human_requests: int
    assigned: int
    replies: int
    first_response_s: float | None
    response_s: float | None
    pickup_rate: float | None
    rate_30s: float | None
    satisfaction_rate: float | None


class LiveShopOut(Out):
    queued: int
    online: int
    suspended: int
    pending: int
    pending_per_agent: float | None
    response_3m_s: float | None
    today: LiveTotalsOut
    yesterday: LiveTotalsOut
    alerting: list[str]


class FaqClicksOut(Out):
    item_id: str
    title: str
    clicks: int


class LiveBotOut(Out):
    enabled: bool
    mode: Literal["bot_first", "human_first"]
    consultations_3m: int
    handovers_3m: int
    handover_rate_3m: float | None
    faq_slot_start: datetime
    faq_clicks: list[FaqClicksOut]


class LiveGroupOut(Out):
    id: int
    name: str
    queued: int
    online: int
    suspended: int
    pending: int
    pending_per_agent: float | None
    response_3m_s: float | None
    agent_ids: list[int]
    busy: bool
    alerting: list[str]


class LiveAgentOut(Out):
    id: int
    display_name: str
    group_id: int | None
    role: str
    status: Literal["online", "busy", "break", "offline"]
    state: Literal["online", "busy", "break", "offline", "disconnected"]
    is_suspended: bool
    is_online: bool
    load: int
    reception_limit: int
    pending: int
    served_today: int
    response_3m_s: float | None
    alerting: list[str]


class LiveViewOut(Out):
    """LIVE-1: `shop` and `bot` are null for a group leader, who sees their own group."""

    shop_id: int
    at: datetime
    shop: LiveShopOut | None
    bot: LiveBotOut | None
    groups: list[LiveGroupOut]
    agents: list[LiveAgentOut]


class BotModeOut(Out):
    bot_enabled: bool
    bot_mode: Literal["bot_first", "human_first"]


class FaqMenuChildOut(Out):
    id: str
    title: str
    question_id: int | None


class FaqMenuTopOut(Out):
    id: str
    title: str
    children: list[FaqMenuChildOut]


class FaqMenuOut(Out):
    faq_menu: list[FaqMenuTopOut]
