"""The ACCT-5 isolation table: for every HTTP route and WebSocket frame that names an object, the
request that names shop B's object and what shop A's accounts must get back. The discovery
functions find what names an object in the OpenAPI document and the frame registries, so a new
route or frame without a case here is reported by the meta-test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from kefu.gateway import protocol as p

# An object-naming field: ("path" | "query" | "body", name).
Field = tuple[str, str]
Route = tuple[str, str]


@dataclass(frozen=True)
class Obj:
    """A placeholder for one object of the world, e.g. `Obj("B.conversation")`."""

    name: str


def fill(template: Any, ids: dict[str, int]) -> Any:
    """The template with every Obj replaced by the world's id."""
    if isinstance(template, Obj):
        return ids[template.name]
    if isinstance(template, dict):
        return {k: fill(v, ids) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, ids) for v in template]
    return template


@dataclass(frozen=True)
class HttpCase:
    """Shop A's accounts name shop B's object in `field`: they get not_found of `kind`.

    `role_only`: the route is refused to agents whatever the id (ACCT-2), so an agent gets
    `forbidden` for B's id exactly as for their own shop's: nothing tells them B's id exists.
    """

    method: str
    path: str
    field: Field
    kind: str
    path_params: dict[str, Obj] = field(default_factory=dict)
    body: Any = None
    role_only: bool = False
    query: dict[str, Obj] = field(default_factory=dict)

    @property
    def route(self) -> Route:
        return (self.method, self.path)

    def url(self, ids: dict[str, int]) -> str:
        url = self.path.format(**fill(self.path_params, ids))
        if self.query:
            url += "?" + urlencode(fill(self.query, ids))
        return url


CONV = "/api/conversations/{conversation_id}"
B_CONV = {"conversation_id": Obj("B.conversation")}
A_CONV = {"conversation_id": Obj("A.conversation")}

HTTP_CASES: list[HttpCase] = [
    HttpCase("GET", CONV, ("path", "conversation_id"), "conversation", B_CONV),
    HttpCase("GET", CONV + "/messages", ("path", "conversation_id"), "conversation", B_CONV),
    HttpCase(
        "POST",
        CONV + "/messages",
        ("path", "conversation_id"),
        "conversation",
        B_CONV,
        {"client_id": "iso-1", "body": "hello B"},
    ),
    HttpCase("POST", CONV + "/end", ("path", "conversation_id"), "conversation", B_CONV),
    HttpCase("POST", CONV + "/join", ("path", "conversation_id"), "conversation", B_CONV),
    HttpCase("POST", CONV + "/leave", ("path", "conversation_id"), "conversation", B_CONV),
    HttpCase(
        "POST",
        CONV + "/transfer",
        ("path", "conversation_id"),
        "conversation",
        B_CONV,
        {"to_agent_id": Obj("A.bob")},
    ),
    HttpCase(
        "POST",
        CONV + "/transfer",
        ("body", "to_agent_id"),
        "account",
        A_CONV,
        {"to_agent_id": Obj("B.bob")},
    ),
    HttpCase(
        "POST",
        CONV + "/transfer",
        ("body", "to_group_id"),
        "group",
        A_CONV,
        {"to_group_id": Obj("B.group")},
    ),
    HttpCase(
        "POST",
        CONV + "/invite",
        ("path", "conversation_id"),
        "conversation",
        B_CONV,
        {"agent_id": Obj("A.bob")},
    ),
    HttpCase(
        "POST",
        CONV + "/invite",
        ("body", "agent_id"),
        "account",
        A_CONV,
        {"agent_id": Obj("B.bob")},
    ),
    HttpCase(
        "POST",
        "/api/transfers/{transfer_id}/accept",
        ("path", "transfer_id"),
        "transfer",
        {"transfer_id": Obj("B.transfer")},
    ),
    HttpCase(
        "POST",
        "/api/transfers/{transfer_id}/decline",
        ("path", "transfer_id"),
        "transfer",
        {"transfer_id": Obj("B.transfer")},
    ),
    HttpCase(
        "POST",
        "/api/transfers/{transfer_id}/cancel",
        ("path", "transfer_id"),
        "transfer",
        {"transfer_id": Obj("B.transfer")},
    ),
    HttpCase(
        "GET",
        "/api/history/search",
        ("query", "agent_id"),
        "account",
        query={"q": "你好", "agent_id": Obj("B.alice")},
    ),
    HttpCase(
        "PUT",
        "/api/agents/{agent_id}",
        ("path", "agent_id"),
        "account",
        {"agent_id": Obj("B.alice")},
        {"display_name": "Hijacked", "has_im_permission": False},
        role_only=True,
    ),
    # A's own agent first: a batch that fails on B's id must change nothing at all.
    HttpCase(
        "POST",
        "/api/agents/batch",
        ("body", "agent_ids"),
        "account",
        body={"agent_ids": [Obj("A.bob"), Obj("B.alice")], "action": "suspend"},
        role_only=True,
    ),
    HttpCase(
        "POST",
        "/api/agents/batch",
        ("body", "group_id"),
        "group",
        body={"agent_ids": [Obj("A.bob")], "action": "move", "group_id": Obj("B.group")},
        role_only=True,
    ),
    # LIVE-3: the monitoring page's batch, and its FAQ menu (ids inside lists of objects).
    HttpCase(
        "POST",
        "/api/supervision/dispatch/agents",
        ("body", "agent_ids"),
        "account",
        body={"agent_ids": [Obj("A.bob"), Obj("B.alice")], "action": "suspend"},
        role_only=True,
    ),
    HttpCase(
        "POST",
        "/api/supervision/dispatch/agents",
        ("body", "group_id"),
        "group",
        body={"agent_ids": [Obj("A.bob")], "action": "move", "group_id": Obj("B.group")},
        role_only=True,
    ),
    HttpCase(
        "PUT",
        "/api/supervision/dispatch/faq-menu",
        ("body", "faq_menu"),
        "question",
        body={
            "faq_menu": [
                {"title": "t", "children": [{"title": "c", "question_id": Obj("B.question")}]}
            ]
        },
        role_only=True,
    ),
    HttpCase(
        "POST",
        "/api/agents",
        ("body", "group_id"),
        "group",
        body={"username": "intruder", "password": "long-enough-pw", "group_id": Obj("B.group")},
        role_only=True,
    ),
    HttpCase(
        "POST",
        "/api/agents/{agent_id}/password",
        ("path", "agent_id"),
        "account",
        {"agent_id": Obj("B.alice")},
        {"password": "hijacked-password"},
        role_only=True,
    ),
    HttpCase(
        "PUT",
        "/api/groups/{group_id}",
        ("path", "group_id"),
        "group",
        {"group_id": Obj("B.group")},
        {"name": "Hijacked"},
        role_only=True,
    ),
    HttpCase(
        "DELETE",
        "/api/groups/{group_id}",
        ("path", "group_id"),
        "group",
        {"group_id": Obj("B.group")},
        role_only=True,
    ),
    HttpCase(
        "PUT",
        "/api/shop/settings",
        ("body", "entry_groups"),
        "group",
        body={"entry_groups": {"product": Obj("B.group")}, "queue_order": "lcfs"},
        role_only=True,
    ),
]

ALERT_RULES = "/api/supervision/alerts/rules"
ALERT_RULE = ALERT_RULES + "/{rule_id}"
B_ALERT_RULE = {"rule_id": Obj("B.alert_rule")}
A_ALERT_RULE = {"rule_id": Obj("A.alert_rule")}


def _alert_rule(group: str | None = None, recipient: str | None = None) -> dict[str, Any]:
    """LIVE-2: a rule naming a group and a recipient (A's own unless given)."""
    return {
        "scope": "group",
        "group_id": Obj(group or "A.group"),
        "metric": "queued",
        "comparison": "gt",
        "threshold": 3,
        "recipient_ids": [Obj("A.owner"), Obj(recipient or "A.alice")],
    }


HTTP_CASES += [
    HttpCase(
        "PUT", ALERT_RULE, ("path", "rule_id"), "alert_rule", B_ALERT_RULE, _alert_rule(), True
    ),
    HttpCase(
        "PUT", ALERT_RULE, ("body", "group_id"), "group", A_ALERT_RULE, _alert_rule("B.group"), True
    ),
    HttpCase(
        "PUT",
        ALERT_RULE,
        ("body", "recipient_ids"),
        "account",
        A_ALERT_RULE,
        _alert_rule(recipient="B.alice"),
        True,
    ),
    HttpCase("DELETE", ALERT_RULE, ("path", "rule_id"), "alert_rule", B_ALERT_RULE, role_only=True),
    HttpCase(
        "POST",
        ALERT_RULES,
        ("body", "group_id"),
        "group",
        body=_alert_rule("B.group"),
        role_only=True,
    ),
    HttpCase(
        "POST",
        ALERT_RULES,
        ("body", "recipient_ids"),
        "account",
        body=_alert_rule(recipient="B.alice"),
        role_only=True,
    ),
]

KB_Q = "/api/kb/questions/{question_id}"
B_QUESTION = {"question_id": Obj("B.question")}
A_QUESTION = {"question_id": Obj("A.question")}
B_CATEGORY = {"category_id": Obj("B.category")}
B_PHRASE = {"phrase_id": Obj("B.phrase")}
QA = {"question": "问题", "answer": "答案"}
ENTRY = {"welcome_message": "hi", "faq_menu": [], "bot_cards": [], "consumer_phrases": []}

HTTP_CASES += [
    HttpCase(
        "PUT",
        "/api/kb/categories/{category_id}",
        ("path", "category_id"),
        "category",
        B_CATEGORY,
        {"name": "Hijacked"},
        role_only=True,
    ),
    HttpCase(
        "DELETE",
        "/api/kb/categories/{category_id}",
        ("path", "category_id"),
        "category",
        B_CATEGORY,
        role_only=True,
    ),
    HttpCase(
        "GET",
        "/api/kb/questions",
        ("query", "category_id"),
        "category",
        query={"category_id": Obj("B.category")},
    ),
    HttpCase(
        "POST",
        "/api/kb/questions",
        ("body", "category_id"),
        "category",
        body={**QA, "category_id": Obj("B.category")},
        role_only=True,
    ),
    HttpCase(
        "POST",
        "/api/kb/questions",
        ("body", "related_ids"),
        "question",
        body={**QA, "related_ids": [Obj("A.question"), Obj("B.question")]},
        role_only=True,
    ),
    HttpCase("GET", KB_Q, ("path", "question_id"), "question", B_QUESTION),
    HttpCase("PUT", KB_Q, ("path", "question_id"), "question", B_QUESTION, QA, role_only=True),
    HttpCase(
        "PUT",
        KB_Q,
        ("body", "category_id"),
        "category",
        A_QUESTION,
        {**QA, "category_id": Obj("B.category")},
        role_only=True,
    ),
    HttpCase(
        "PUT",
        KB_Q,
        ("body", "related_ids"),
        "question",
        A_QUESTION,
        {**QA, "related_ids": [Obj("B.question")]},
        role_only=True,
    ),
    HttpCase("DELETE", KB_Q, ("path", "question_id"), "question", B_QUESTION, role_only=True),
    # Ids inside lists of objects, which the discovery does not see, are covered all the same.
    HttpCase(
        "PUT",
        "/api/shop/entry",
        ("body", "bot_cards"),
        "question",
        body={**ENTRY, "bot_cards": [{"title": "t", "question_id": Obj("B.question")}]},
        role_only=True,
    ),
    HttpCase(
        "PUT",
        "/api/shop/entry",
        ("body", "faq_menu"),
        "question",
        body={
            **ENTRY,
            "faq_menu": [
                {"title": "t", "children": [{"title": "c", "question_id": Obj("B.question")}]}
            ],
        },
        role_only=True,
    ),
    HttpCase(
        "PUT",
        "/api/quick-phrases/{phrase_id}",
        ("path", "phrase_id"),
        "quick_phrase",
        B_PHRASE,
        {"body": "Hijacked"},
    ),
    HttpCase(
        "DELETE", "/api/quick-phrases/{phrase_id}", ("path", "phrase_id"), "quick_phrase", B_PHRASE
    ),
    HttpCase(
        "PUT",
        "/api/greetings",
        ("body", "groups"),
        "group",
        body={"groups": [{"group_id": Obj("B.group"), "welcome": "hi"}], "agents": []},
        role_only=True,
    ),
    HttpCase(
        "PUT",
        "/api/greetings",
        ("body", "agents"),
        "account",
        body={"groups": [], "agents": [{"agent_id": Obj("B.alice"), "welcome": "hi"}]},
        role_only=True,
    ),
    # ACCT-6: permissions per feature area (owner only).
    HttpCase(
        "PUT",
        "/api/agents/{agent_id}/permissions",
        ("path", "agent_id"),
        "account",
        {"agent_id": Obj("B.alice")},
        {"features": ["workbench", "settings"]},
        role_only=True,
    ),
    HttpCase(
        "POST",
        "/api/permission-requests/{request_id}/approve",
        ("path", "request_id"),
        "permission_request",
        {"request_id": Obj("B.permission_request")},
        role_only=True,
    ),
    HttpCase(
        "POST",
        "/api/permission-requests/{request_id}/decline",
        ("path", "request_id"),
        "permission_request",
        {"request_id": Obj("B.permission_request")},
        role_only=True,
    ),
]

B_ENTRY = {"entry_id": Obj("B.offline_entry")}

HTTP_CASES += [
    HttpCase(
        "GET",
        "/api/offline/entries/{entry_id}/messages",
        ("path", "entry_id"),
        "offline_entry",
        B_ENTRY,
    ),
    *(
        HttpCase(
            "POST",
            path,
            ("body", "entry_ids"),
            "offline_entry",
            body={"entry_ids": [Obj("A.offline_entry"), Obj("B.offline_entry")]},
        )
        for path in ("/api/offline/entries/processed", "/api/offline/entries/start")
    ),
    HttpCase(
        "POST",
        CONV + "/blacklist",
        ("path", "conversation_id"),
        "conversation",
        B_CONV,
        {"reason": "from A"},
    ),
    HttpCase(
        "DELETE",
        "/api/blacklist/{blacklist_id}",
        ("path", "blacklist_id"),
        "blacklist_entry",
        {"blacklist_id": Obj("B.blacklist")},
        role_only=True,
    ),
]

# Ratings and consultation summaries (RATE-1, DESK-4, CONV-10).
B_LEAF = Obj("B.summary_category")
HTTP_CASES += [
    HttpCase(
        "POST", CONV + "/rating-invitations", ("path", "conversation_id"), "conversation", B_CONV
    ),
    HttpCase("GET", CONV + "/service-quality", ("path", "conversation_id"), "conversation", B_CONV),
    HttpCase("GET", CONV + "/summary", ("path", "conversation_id"), "conversation", B_CONV),
    HttpCase(
        "PUT",
        CONV + "/summary",
        ("path", "conversation_id"),
        "conversation",
        B_CONV,
        {"category_id": Obj("A.summary_category")},
    ),
    HttpCase(
        "PUT",
        CONV + "/summary",
        ("body", "category_id"),
        "summary_category",
        A_CONV,
        {"category_id": B_LEAF},
    ),
    # Ids inside lists of objects, which the discovery does not see, are covered all the same.
    HttpCase(
        "PUT",
        "/api/summary-categories",
        ("body", "nodes"),
        "summary_category",
        body={"nodes": [{"key": "k", "id": B_LEAF, "name": "Hijacked"}]},
        role_only=True,
    ),
]

HTTP_CASES += [
    HttpCase(
        "DELETE",
        "/api/catalog/tokens/{token_id}",
        ("path", "token_id"),
        "token",
        {"token_id": Obj("B.token")},
        role_only=True,
    ),
]

# MSG-1: pictures and files; B's attachment is a file alice sent in B's conversation.
B_ATTACHMENT = {"attachment_id": Obj("B.attachment")}
HTTP_CASES += [
    HttpCase("POST", CONV + "/attachments", ("path", "conversation_id"), "conversation", B_CONV),
    HttpCase(
        "GET",
        "/api/attachments/{attachment_id}",
        ("path", "attachment_id"),
        "attachment",
        B_ATTACHMENT,
    ),
    HttpCase(
        "GET",
        "/api/attachments/{attachment_id}/thumbnail",
        ("path", "attachment_id"),
        "attachment",
        B_ATTACHMENT,
    ),
]

B_CONSUMER = {"consumer_id": Obj("B.consumer")}
CUSTOMER = "/api/customers/{consumer_id}"

HTTP_CASES += [
    HttpCase("GET", CONV + "/panel", ("path", "conversation_id"), "conversation", B_CONV),
    HttpCase("GET", CUSTOMER + "/orders", ("path", "consumer_id"), "consumer", B_CONSUMER),
    HttpCase(
        "PUT",
        CUSTOMER + "/profile",
        ("path", "consumer_id"),
        "consumer",
        B_CONSUMER,
        {"notes": "Hijacked", "tags": [], "phone": ""},
    ),
    HttpCase(
        "GET",
        CUSTOMER + "/conversations/{conversation_id}",
        ("path", "consumer_id"),
        "consumer",
        {**B_CONSUMER, **B_CONV},
    ),
    # A's consumer with B's conversation: the conversation is not that consumer's, nor A's.
    HttpCase(
        "GET",
        CUSTOMER + "/conversations/{conversation_id}",
        ("path", "conversation_id"),
        "conversation",
        {"consumer_id": Obj("A.consumer"), **B_CONV},
    ),
    HttpCase("POST", CUSTOMER + "/conversations", ("path", "consumer_id"), "consumer", B_CONSUMER),
    # DATA-5: a list filter naming another shop's agent, group or consumer is not_found.
    HttpCase(
        "GET",
        "/api/analytics/conversations",
        ("query", "agent_id"),
        "account",
        query={"agent_id": Obj("B.alice")},
    ),
    HttpCase(
        "GET",
        "/api/analytics/conversations",
        ("query", "group_id"),
        "group",
        query={"group_id": Obj("B.group")},
    ),
    HttpCase(
        "GET",
        "/api/analytics/conversations",
        ("query", "consumer_id"),
        "consumer",
        query={"consumer_id": Obj("B.consumer")},
    ),
]

# QA-1, QA-2: quality inspection; agents are refused whatever the id.
B_INSPECTION = {"inspection_id": Obj("B.inspection")}
B_HIT = {"hit_id": Obj("B.hit")}
QA_DAYS = {"first": "2026-01-05", "last": "2026-01-05"}
HTTP_CASES += [
    HttpCase(
        "PUT",
        "/api/quality/rules",
        ("body", "rules"),
        "group",
        body={
            "rules": [
                {
                    "key": "c1",
                    "kind": "timing",
                    "within_s": 60,
                    "name": "slow",
                    "group_ids": [Obj("B.group")],
                }
            ]
        },
        role_only=True,
    ),
    HttpCase(
        "POST",
        "/api/quality/inspections",
        ("body", "group_ids"),
        "group",
        body={**QA_DAYS, "group_ids": [Obj("B.group")]},
        role_only=True,
    ),
    HttpCase(
        "GET",
        "/api/quality/inspections/{inspection_id}",
        ("path", "inspection_id"),
        "inspection",
        B_INSPECTION,
        role_only=True,
    ),
    HttpCase(
        "GET",
        "/api/quality/inspections/{inspection_id}/hits",
        ("path", "inspection_id"),
        "inspection",
        B_INSPECTION,
        role_only=True,
    ),
    HttpCase(
        "GET",
        "/api/quality/inspections/{inspection_id}/hits",
        ("query", "agent_id"),
        "account",
        {"inspection_id": Obj("A.inspection")},
        query={"agent_id": Obj("B.alice")},
        role_only=True,
    ),
    HttpCase(
        "GET",
        "/api/quality/hits/{hit_id}/context",
        ("path", "hit_id"),
        "hit",
        B_HIT,
        role_only=True,
    ),
    HttpCase(
        "PUT",
        "/api/quality/hits/{hit_id}/false-positive",
        ("path", "hit_id"),
        "hit",
        B_HIT,
        {"is_false_positive": True},
        role_only=True,
    ),
]

# Routes that name no object: everything they touch is the session's own shop and account.
# API-2: webhook endpoints, owner only; B's is an endpoint B's owner registered.
B_WEBHOOK = {"endpoint_id": Obj("B.webhook")}
WEBHOOK = "/api/webhooks/{endpoint_id}"
HTTP_CASES += [
    HttpCase(
        "PATCH",
        WEBHOOK,
        ("path", "endpoint_id"),
        "webhook_endpoint",
        B_WEBHOOK,
        {"is_enabled": False},
        role_only=True,
    ),
    HttpCase(
        "DELETE", WEBHOOK, ("path", "endpoint_id"), "webhook_endpoint", B_WEBHOOK, role_only=True
    ),
    HttpCase(
        "POST",
        WEBHOOK + "/rotate-secret",
        ("path", "endpoint_id"),
        "webhook_endpoint",
        B_WEBHOOK,
        role_only=True,
    ),
    HttpCase(
        "GET",
        WEBHOOK + "/deliveries",
        ("path", "endpoint_id"),
        "webhook_endpoint",
        B_WEBHOOK,
        role_only=True,
    ),
]

NO_OBJECT_IDS: dict[Route, str] = {
    ("POST", "/api/auth/logout"): "ends the caller's own session",
    ("GET", "/api/me"): "the caller's own account and shop",
    ("PUT", "/api/me/status"): "the caller's own status",
    ("PUT", "/api/me/reception-limit"): "the caller's own limit",
    ("GET", "/api/me/stats"): "the caller's own statistics",
    ("GET", "/api/me/notification-preferences"): "the caller's own preferences (SET-3)",
    ("PUT", "/api/me/notification-preferences"): "the caller's own preferences (SET-3)",
    ("GET", "/api/agents"): "lists the session's shop (checked by the list test)",
    ("GET", "/api/groups"): "lists the session's shop (checked by the list test)",
    ("POST", "/api/groups"): "adds to the session's shop",
    ("GET", "/api/audit"): "the session's shop's audit log; `before` is a cursor, not an object",
    ("GET", "/api/shop/settings"): "the session's shop",
    ("GET", "/api/conversations"): "lists the session's shop (checked by the list test)",
    ("GET", "/api/kb/categories"): "lists the session's shop (checked by the list test)",
    ("POST", "/api/kb/categories"): "adds to the session's shop",
    ("GET", "/api/kb/synonyms"): "the session's shop",
    ("PUT", "/api/kb/synonyms"): "the session's shop",
    ("POST", "/api/kb/try"): "matches against the session's shop's knowledge base",
    ("POST", "/api/kb/import"): "imports into the session's shop (related questions by text)",
    ("GET", "/api/kb/export"): "the session's shop's knowledge base",
    ("GET", "/api/shop/entry"): "the session's shop",
    ("GET", "/api/supervision/live"): "the session's shop (a leader: their group)",
    ("PUT", "/api/supervision/dispatch/bot-mode"): "the session's shop's bot mode",
    ("GET", "/api/bot/stats"): "the session's shop's event rows",
    ("GET", "/api/analytics/dashboard"): "the session's shop's conversations",
    ("GET", "/api/analytics/agents"): "the session's shop's agents (a leader: their group)",
    ("GET", "/api/analytics/targets"): "the session's shop's targets and conversations",
    ("PUT", "/api/analytics/targets"): "the session's shop's targets",
    ("GET", "/api/analytics/intents"): "the session's shop's conversations",
    ("GET", "/api/analytics/intents/taxonomy"): "the session's shop's taxonomy",
    ("PUT", "/api/analytics/intents/taxonomy"): "the session's shop's taxonomy",
    ("GET", "/api/quick-phrases"): "the caller's own and their shop's (checked by the list test)",
    ("POST", "/api/quick-phrases"): "adds to the caller or the session's shop",
    ("POST", "/api/quick-phrases/import"): "imports for the caller or the session's shop",
    ("GET", "/api/greetings"): "the session's shop",
    (
        "GET",
        "/api/permissions",
    ): "the session's shop's accounts (the caller's own for sub-accounts)",
    ("GET", "/api/permission-requests"): "the session's shop's requests (sub-accounts: their own)",
    ("POST", "/api/permission-requests"): "asks for the caller's own account",
    ("GET", "/api/auth/session"): "the session's own account and shop, or nulls",
    ("GET", "/api/offline/entries"): "lists the session's shop (checked by the list test)",
    ("GET", "/api/supervision/alerts/rules"): "the session's shop's rules (the list test)",
    ("GET", "/api/supervision/alerts"): "the session's shop's alerts (the list test)",
    ("GET", "/api/blacklist"): "lists the session's shop (checked by the list test)",
    ("GET", "/api/summary-categories"): "the session's shop's classification tree",
    ("POST", "/api/catalog/products/import"): "imports into the session's or token's shop",
    ("POST", "/api/catalog/orders/import"): "imports into the session's or token's shop",
    ("GET", "/api/catalog/products"): "searches the session's or token's shop",
    ("GET", "/api/catalog/orders"): "lists the session's or token's shop; uid is not an id",
    ("GET", "/api/catalog/tokens"): "lists the session's shop",
    ("POST", "/api/catalog/tokens"): "adds to the session's shop",
    ("GET", "/api/customers/search"): "searches the session's shop's consumers and orders",
    ("GET", "/api/quality/rules"): "the session's shop's inspection rules",
    ("GET", "/api/quality/inspections"): "lists the session's shop's inspections",
    ("GET", "/api/webhooks"): "lists the session's shop (checked by the list test)",
    ("POST", "/api/webhooks"): "adds to the session's shop",
    ("GET", "/healthz"): "the process's own liveness; no shop, no account",
    ("GET", "/readyz"): "the process's own readiness; no shop, no account",
    ("GET", "/metrics"): "the operator's: loopback or the metrics token, never a session",
    ("GET", "/api/analytics/sales"): "the session's shop's conversations and orders",
}

# Public routes name a shop on purpose; each has its own rule, tested one by one.
PUBLIC_ROUTES: dict[Route, str] = {
    ("GET", "/api/demo/buyer-identity"): "`kefu demo` only (not_found elsewhere): the demo buyer",
    ("POST", "/api/auth/login"): "credentials belong to one shop: A's account cannot log in to B",
    ("POST", "/api/consumer/session"): "a missing shop is not_found; A's token is no key to B",
    ("GET", "/api/public/shops/{shop_id}"): "public data only; a missing shop is not_found",
    ("GET", "/api/public/shops/{shop_id}/entry"): "the widget's entry; a missing shop is not_found",
    ("GET", "/api/consumer/orders"): "the consumer token is signed for one shop: refused for B's",
    # MSG-1, tested in tests/files/test_files_api.py: the consumer token is signed for one
    # shop, and another consumer's (or shop's) conversation and attachments are not_found.
    ("POST", "/api/consumer/conversations/{conversation_id}/attachments"): (
        "the token's consumer's own conversation only; another's is not_found"
    ),
    ("GET", "/api/consumer/attachments/{attachment_id}"): (
        "files of the token's consumer's own conversations only; others are not_found"
    ),
    ("GET", "/api/consumer/attachments/{attachment_id}/thumbnail"): (
        "files of the token's consumer's own conversations only; others are not_found"
    ),
}


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = doc["components"]["schemas"][name]
    return schema


def _variants(doc: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(doc, schema)
    return [_resolve(doc, s) for s in schema.get("anyOf", [schema])]


# Names that look like ids but name no stored object of a shop.
NOT_OBJECTS: dict[str, str] = {
    "client_id": "the client's own message key (MSG-2), scoped to the conversation it names",
}


def _names_object(doc: dict[str, Any], name: str, schema: dict[str, Any]) -> bool:
    """An id (`*_id`, `*_ids`) or a map whose values are ids (like `entry_groups`)."""
    if name in NOT_OBJECTS:
        return False
    if name.endswith(("_id", "_ids")):
        return True
    for variant in _variants(doc, schema):
        values = variant.get("additionalProperties")
        if isinstance(values, dict) and values.get("type") == "integer":
            return True
    return False


def _body_fields(doc: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> set[str]:
    found: set[str] = set()
    for variant in _variants(doc, schema):
        for name, prop in variant.get("properties", {}).items():
            if _names_object(doc, name, prop):
                found.add(prefix + name)
            found |= _body_fields(doc, prop, prefix + name + ".")
    return found


def object_fields(doc: dict[str, Any]) -> dict[Route, set[Field]]:
    """Every operation of the OpenAPI document, with the parameters that name an object."""
    routes: dict[Route, set[Field]] = {}
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            fields = {
                (param["in"], param["name"])
                for param in op.get("parameters", [])
                if _names_object(doc, param["name"], param.get("schema", {}))
            }
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                fields |= {("body", name) for name in _body_fields(doc, body["schema"])}
            routes[(method.upper(), path)] = fields
    return routes


def uncovered_routes(doc: dict[str, Any]) -> list[str]:
    """What the table misses (or names wrongly) for this OpenAPI document."""
    problems: list[str] = []
    routes = object_fields(doc)
    covered: dict[Route, set[Field]] = {}
    for case in HTTP_CASES:
        covered.setdefault(case.route, set()).add(case.field)
    for route in [*covered, *NO_OBJECT_IDS, *PUBLIC_ROUTES]:
        if route not in routes:
            problems.append(f"{route}: in the isolation table but not in the OpenAPI document")
    for route, fields in sorted(routes.items()):
        if route in PUBLIC_ROUTES:
            continue
        if route in NO_OBJECT_IDS:
            if fields:
                problems.append(f"{route}: listed as naming no object, but has {sorted(fields)}")
            continue
        if route not in covered:
            problems.append(f"{route}: no isolation case and not in the no-object-ids list")
            continue
        for missing in sorted(fields - covered[route]):
            problems.append(f"{route}: no isolation case for {missing}")
    return problems


# WebSocket frames that name a conversation: each sent with shop B's conversation id.
WS_CASES: dict[str, Callable[[int], dict[str, Any]]] = {
    "send": lambda cid: {
        "type": "send",
        "conversation_id": cid,
        "client_id": "iso-ws-1",
        "body": "hello B",
    },
    "sync": lambda cid: {"type": "sync", "conversation_id": cid, "since_seq": 0},
    "typing": lambda cid: {"type": "typing", "conversation_id": cid, "text": "typing to B"},
    "feedback": lambda cid: {
        "type": "feedback",
        "conversation_id": cid,
        "seq": 1,
        "resolved": True,
    },
    # The conversation is checked first: B's conversation is not_found whatever the item.
    "faq_click": lambda cid: {"type": "faq_click", "conversation_id": cid, "item_id": "i0"},
    "rate": lambda cid: {"type": "rate", "conversation_id": cid, "stars": 5},
    "suggestion_click": lambda cid: {
        "type": "suggestion_click",
        "conversation_id": cid,
        "seq": 1,
        "question_id": 1,
    },
    "page_view": lambda cid: {
        "type": "page_view",
        "conversation_id": cid,
        "url": "https://shop.example/b",
        "title": "B",
    },
}

NO_ID_FRAMES: dict[str, str] = {
    "ping": "names nothing",
    "open": "opens the consumer's own conversation in the token's shop",
    "request_human": "acts on the consumer's own conversation",
    "leave_queue": "acts on the consumer's own conversation",
    "live_watch": "follows the session's shop's live view (a leader: their group)",
    "live_unwatch": "stops following the session's shop's live view",
}

# Frames with their own rule, tested on their own.
OWN_RULE_FRAMES: dict[str, str] = {
    "auth": "a consumer token is signed for one shop: A's token for B closes with 4401",
}


def frame_id_fields(model: type[p.FrameIn]) -> set[str]:
    return {
        name
        for name in model.model_fields
        if name.endswith(("_id", "_ids")) and name not in NOT_OBJECTS
    }


def uncovered_frames() -> list[str]:
    """What the WebSocket table misses for the frame registries."""
    problems: list[str] = []
    registries = {"consumer": p.CONSUMER_FRAMES, "staff": p.STAFF_FRAMES}
    for socket, registry in registries.items():
        for kind, model in sorted(registry.items()):
            ids = frame_id_fields(model)
            if kind in OWN_RULE_FRAMES:
                continue
            if "conversation_id" in ids and kind not in p.CONVERSATION_FRAMES:
                problems.append(
                    f"{socket} {kind}: names a conversation, not in CONVERSATION_FRAMES"
                )
            if ids and kind not in WS_CASES:
                problems.append(f"{socket} {kind}: names {sorted(ids)}, no isolation case")
            if not ids and kind not in NO_ID_FRAMES and kind not in WS_CASES:
                problems.append(f"{socket} {kind}: no isolation case and not in the no-ids list")
    for kind in p.CONVERSATION_FRAMES - set(WS_CASES):
        problems.append(f"{kind}: in CONVERSATION_FRAMES without an isolation case")
    every = set(p.CONSUMER_FRAMES) | set(p.STAFF_FRAMES)
    for kind in [*WS_CASES, *NO_ID_FRAMES, *OWN_RULE_FRAMES]:
        if kind not in every:
            problems.append(f"{kind}: in the isolation table but in no frame registry")
    return problems
