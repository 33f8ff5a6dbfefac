"""HTTP response bodies (API-2): the output side of the wire contract, as /openapi.json shows it.

Routes keep answering with JsonOut built from read models (orjson, no per-request validation);
these models only document the answers, and tests/api/test_openapi.py validates real answers
against them so the two cannot drift. Nothing below the api layer imports this module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kefu.domain.conversation import AutoEndMode, ConversationState, EndCause
from kefu.domain.messages import MessageKind, SenderKind
from kefu.domain.permissions import Feature, RequestStatus
from kefu.domain.presence import AgentStatus, Role
from kefu.domain.routing import QueueOrder


class Out(BaseModel):
    """An answer's shape: every key is always sent (nullable ones as null), and no other."""

    model_config = ConfigDict(extra="forbid")


class ErrorOut(Out):
    """Every refusal, over HTTP and WebSocket: front ends translate `code`, never `message`."""

    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["Not found."])
    params: dict[str, Any] = Field(examples=[{"kind": "conversation", "id": 12}])


class OkOut(Out):
    ok: Literal[True]


class AccountOut(Out):
    id: int
    shop_id: int
    username: str
    display_name: str
    role: Role
    group_id: int | None
    has_im_permission: bool
    status: AgentStatus
    is_suspended: bool
    reception_limit: int
    current_load: int = Field(description="Conversations assigned to the account now.")
    is_disabled: bool = Field(description="Disabled by the owner: cannot log in (ACCT-1).")
    connected: bool = Field(
        description="False once the agent's last staff socket has been gone for the grace "
        "period (KEFU_PRESENCE_GRACE_S): shown as 'agent disconnected', not routed to (PRES-1)."
    )
    last_seen_at: datetime | None = Field(
        description="The last sign of life: login, a status change, a staff socket's opening, "
        "heartbeat or closing; null if the account never signed in (PRES-1)."
    )


class AccountResultOut(Out):
    account: AccountOut


class AccountListOut(Out):
    items: list[AccountOut]


class ShopRefOut(Out):
    id: int
    name: str


class MeOut(Out):
    account: AccountOut
    shop: ShopRefOut
    features: list[str] = Field(
        description="ACCT-6: the feature areas the account may open (workbench, monitoring, "
        "analytics, quality, settings); the owner has all."
    )


class SessionOut(Out):
    """ACCT-4: `GET /api/me`'s answer for a signed-in page, all null (and no features) for a
    signed-out one."""

    account: AccountOut | None
    shop: ShopRefOut | None
    features: list[str]


class WorkStatsOut(Out):
    """PRES-3: today's online and login time, and the queue the account may see."""

    online_seconds: int
    login_seconds: int
    queue_length: int


class GroupOut(Out):
    id: int
    name: str


class AuditOut(Out):
    id: int
    actor_id: int | None = Field(description="None: the command line.")
    action: str = Field(description="e.g. account.create, account.update, group.delete.")
    target_kind: Literal["account", "group", "shop"]
    target_id: int | None
    details: dict[str, Any]
    at: datetime


class AuditPageOut(Out):
    items: list[AuditOut]
    next_before: int | None = Field(description="Pass as `before` for the next page.")


class GroupListOut(Out):
    items: list[GroupOut]


class TargetOut(Out):
    metric: str
    comparison: Literal["at_most", "below", "at_least"]
    threshold: float


class IntentLeafOut(Out):
    name: str
    keywords: list[str]


class IntentNodeOut(Out):
    name: str
    children: list[IntentLeafOut]


class ShopSettingsOut(Out):
    """SET-1: the shop's settings, defaults filled in."""

    queue_order: QueueOrder
    auto_end: AutoEndMode
    bot_enabled: bool
    bot_mode: Literal["bot_first", "human_first"]
    welcome_message: str
    entry_groups: dict[str, int] = Field(description="Entry source → reception group id.")
    reception_limit_by: Literal["agent", "supervisor"] = Field(
        description="PRES-4: who sets an agent's reception limit."
    )
    max_reception_limit: int = Field(description="PRES-4: the shop's maximum reception limit.")
    time_zone: str = Field(description="ROUTE-6: IANA time zone of the service hours.")
    service_hours_enabled: bool = Field(description="ROUTE-6: off: always open.")
    service_hours: dict[str, list[list[str]]] = Field(
        description='ROUTE-6: weekday ("mon"…"sun") → opening windows ["HH:MM", "HH:MM"].'
    )
    holidays: list[str] = Field(description="ROUTE-6: closed dates, YYYY-MM-DD.")
    special_days: dict[str, list[list[str]]] = Field(
        description="ROUTE-6: special opening days (YYYY-MM-DD) → their own windows."
    )
    offline_message: str = Field(description="ROUTE-6: shop text posted outside service hours.")
    offline_after_s: int = Field(
        description="OFFL-1: queued this long unpicked becomes an offline message; 0: never."
    )
    offline_auto_assign: bool = Field(description="OFFL-4: route entries while nobody queues.")
    offline_when_nobody_online: bool = Field(
        description="OFFL-1: nobody eligible online: an offline message at once, not the queue."
    )
    rating_forced: bool = Field(
        description="RATE-1: the rating card ends every human conversation."
    )
    summary_required: bool = Field(
        description="CONV-10: a conversation is ended only once its summary is written."
    )
    kpi_preset: str = Field(description="DATA-4: feige or xixi, the targets' starting point.")
    kpi_targets: list[TargetOut] = Field(
        description="DATA-4: the owner's targets; empty means the preset's."
    )
    intent_taxonomy: list[IntentNodeOut] = Field(
        description="DATA-6: the owner's intent taxonomy; empty means the default one."
    )
    alert_interval_s: int = Field(description="LIVE-2: seconds between alert evaluations.")


class ConsumerOut(Out):
    id: int
    uid: str
    nickname: str
    is_vip: bool


class NoticeOut(Out):
    """A system notice stored as a code, translated by the front end like an error code."""

    code: str
    params: dict[str, Any]


class MessageOut(Out):
    id: int
    conversation_id: int
    seq: int = Field(description="Per conversation, from 1, without gaps (MSG-2).")
    sender: SenderKind
    sender_id: int | None
    sender_name: str
    kind: MessageKind
    body: str
    client_id: str | None
    created_at: datetime
    meta: dict[str, Any] | None
    notice: NoticeOut | None = None


class ProductOut(Out):
    id: str
    title: str
    price: str
    url: str
    image: str


class EntryOrderOut(Out):
    order_no: str
    title: str
    item_count: int
    amount: str
    ordered_at: str


class ConversationEntryOut(Out):
    """ENTRY-1: where the consumer came from; the keys the page did not send are absent."""

    source: (
        Literal["product", "order", "after_sale", "live", "ad", "direct", "proactive"] | None
    ) = Field(default=None, description="`proactive`: an agent started it (CONV-6).")
    product: ProductOut | None = None
    order: EntryOrderOut | None = None
    page_url: str | None = None
    ip: str | None = None
    region: str | None = None


class ReplyWindowOut(Out):
    """LIMIT-1, LIMIT-3: whether an agent may still reply, until when, and if not, why."""

    open: bool
    closes_at: datetime | None
    reason: str | None = Field(
        description="The refusal's code while closed: conversation_closed, "
        "reply_window_closed or continuation_window_closed."
    )


class ConversationOut(Out):
    id: int
    shop_id: int
    state: ConversationState
    consumer: ConsumerOut
    agent_id: int | None
    agent_name: str | None
    group_id: int | None
    group_name: str | None
    entry: ConversationEntryOut
    created_at: datetime
    human_requested_at: datetime | None
    assigned_at: datetime | None
    ended_at: datetime | None
    end_cause: EndCause | None
    last_seq: int
    last_message: MessageOut | None
    last_consumer_message_at: datetime | None
    awaiting_reply_since: datetime | None = Field(
        description="CONV-2's reply timer: set at assignment and at each consumer message, "
        "cleared when an agent replies."
    )
    is_transferred: bool
    participants: list[int] = Field(description="The participating accounts' ids.")
    reply_window: ReplyWindowOut
    rating: int | None = Field(description="RATE-2: the best of its ratings (1–5); null: unrated.")
    needs_summary: bool = Field(
        description="DESK-2, CONV-10: served by a human and its consultation summary not written."
    )


class ConversationPageOut(Out):
    items: list[ConversationOut]
    total: int


class MessagePageOut(Out):
    items: list[MessageOut]
    has_more: bool


class AckOut(Out):
    """MSG-2: the message is committed; a resent client id gets the same ack."""

    conversation_id: int
    seq: int
    client_id: str
    created_at: datetime


class TransferOut(Out):
    id: int
    conversation_id: int
    from_agent_id: int | None
    to_agent_id: int | None
    to_group_id: int | None
    state: Literal["pending", "accepted", "declined", "cancelled", "expired"]
    created_at: datetime
    expires_at: datetime | None = Field(
        description="A pending offer expires then (KEFU_TRANSFER_TIMEOUT_S; CONV-7); null for "
        "a transfer to a group, decided when made."
    )


class SessionConsumerOut(Out):
    uid: str
    nickname: str


class ConsumerSessionOut(Out):
    token: str = Field(description="Keep it to come back as the same consumer.")
    consumer: SessionConsumerOut


class SignedIdentityOut(Out):
    """A consumer identity signed with the shop's secret, for `POST /api/consumer/session`."""

    uid: str
    nickname: str
    ts: int
    sig: str


class DemoOrderOut(Out):
    order_no: str
    title: str
    item_count: int
    amount: str
    ordered_at: datetime


class PublicShopOut(Out):
    """API-1: the shop's public face, for its own pages and the demo shop."""

    id: int
    name: str
    products: list[ProductOut]
    orders_demo: list[DemoOrderOut]


class PhraseOut(Out):
    id: int
    scope: Literal["personal", "shop"]
    title: str
    body: str


class PhraseListOut(Out):
    items: list[PhraseOut]


class RejectedRowOut(Out):
    """An import's refused row: its line (or 1-based position in JSON) and a stable code."""

    line: int
    reason: str = Field(examples=["answer.empty"])


class PhraseImportOut(Out):
    imported: int
    rejected: list[RejectedRowOut]


class GroupGreetingOut(Out):
    group_id: int
    welcome: str | None
    closing: str | None


class AgentGreetingOut(Out):
    agent_id: int
    welcome: str | None
    closing: str | None


class GreetingsOut(Out):
    """SET-2: the group's greeting wins where an agent has one too."""

    groups: list[GroupGreetingOut]
    agents: list[AgentGreetingOut]


class HealthOut(Out):
    """The process is alive and serving."""

    status: Literal["ok"]


class CheckOut(Out):
    status: Literal["ok", "down"]
    error: str | None = Field(
        description="Why the check failed: `timeout`, or the kind of error (the log has more).",
        examples=["ConnectionRefusedError"],
    )


class ReadinessOut(Out):
    """What this process needs is reachable: the database, and Redis when configured. 503
    with `degraded` when a check fails."""

    status: Literal["ready", "degraded"]
    checks: dict[Literal["database", "redis"], CheckOut]


# --- permissions per feature area (ACCT-6) ---------------------------------------------------


class AccountPermissionsOut(Out):
    account_id: int
    role: str
    features: list[Feature] = Field(description="What the account has now.")
    defaults: list[Feature] = Field(description="What its role has unless the owner changes it.")


class PermissionListOut(Out):
    features: list[Feature] = Field(description="Every feature area, in display order.")
    items: list[AccountPermissionsOut]


class PermissionRequestOut(Out):
    id: int
    account_id: int
    feature: Feature
    note: str
    status: RequestStatus
    created_at: datetime
    decided_at: datetime | None
    decided_by: int | None


class PermissionRequestListOut(Out):
    items: list[PermissionRequestOut]
