"""API-2: numbers and booleans in HTTP bodies and WebSocket frames are JSON numbers and booleans.
`"3"` or `true` for a number, and `"true"` or `1` for a boolean, are `bad_input` and change
nothing: nothing is coerced. A meta-test fails when a number or boolean field of a body or a
frame has no case in the table."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel
from websockets.asyncio.client import connect

from kefu.api import schemas
from kefu.app import create_app
from kefu.clock import FakeClock
from kefu.gateway import protocol as p
from kefu.settings import Settings
from support import (
    PASSWORD,
    SECRET_KEY,
    AgentSpec,
    Frames,
    Server,
    ShopIds,
    make_shop,
    running_server,
)

Ids = dict[str, int]
Path = tuple[str | int, ...]
Body = Callable[[Ids], dict[str, Any]]


@dataclass(frozen=True)
class HttpCase:
    who: str  # "owner", "alice" or "anyone"
    method: str
    path: str
    body: Body
    at: Path  # where in the body the wrong value goes
    field: str  # that place as the meta-test names it: `a.b`, `list[]`, `map{}`

    def url(self, ids: Ids) -> str:
        return self.path.format(**ids)


@dataclass(frozen=True)
class FrameCase:
    sockets: tuple[str, ...]
    body: Body
    at: Path
    field: str

    @property
    def type(self) -> str:
        return str(self.body({"cid": 1, "shop": 1})["type"])


def _entry(ids: Ids) -> dict[str, Any]:
    child = {"title": "发货", "question_id": ids["question"]}
    return {
        "welcome_message": "欢迎",
        "faq_menu": [{"title": "物流", "children": [child]}],
        "bot_cards": [child],
        "consumer_phrases": [],
    }


def _question(ids: Ids) -> dict[str, Any]:
    return {
        "question": "包邮吗",
        "answer": "包邮。",
        "category_id": ids["category"],
        "phrasings": [],
        "related_ids": [ids["question"]],
    }


def _greetings(ids: Ids) -> dict[str, Any]:
    return {
        "groups": [{"group_id": ids["group0"], "welcome": "您好"}],
        "agents": [{"agent_id": ids["alice"], "welcome": "我是 Alice"}],
    }


def _alert_rule(ids: Ids) -> dict[str, Any]:
    return {
        "scope": "group",
        "group_id": ids["group1"],
        "metric": "queued",
        "comparison": "gt",
        "threshold": 2,
        "enabled": True,
        "recipient_ids": [ids["alice"]],
    }


def _login(ids: Ids) -> dict[str, Any]:
    return {"shop_id": ids["shop"], "username": "bob", "password": "x", "take_over": False}


def _session(ids: Ids) -> dict[str, Any]:
    identity = {"uid": "u1", "nickname": "小王", "ts": 1_700_000_000, "sig": "0" * 64}
    return {"shop_id": ids["shop"], "identity": identity}


CONVERSATION = "/api/conversations/{cid}"


def _webhook(_: Ids) -> dict[str, Any]:
    return {"url": "https://1.1.1.1/strict", "events": ["alert.raised"], "is_enabled": True}


HTTP_CASES = [
    HttpCase(
        "owner",
        "PUT",
        "/api/analytics/targets",
        lambda _: {
            "preset": "feige",
            "targets": [{"metric": "response_s", "comparison": "at_most", "threshold": 120}],
        },
        ("targets", 0, "threshold"),
        "targets[].threshold",
    ),
    HttpCase("anyone", "POST", "/api/auth/login", _login, ("shop_id",), "shop_id"),
    HttpCase("anyone", "POST", "/api/auth/login", _login, ("take_over",), "take_over"),
    HttpCase(
        "alice", "PUT", "/api/me/reception-limit", lambda _: {"limit": 3}, ("limit",), "limit"
    ),
    *(
        HttpCase(
            "alice",
            "PUT",
            "/api/me/notification-preferences",
            lambda _: {"sound": True, "desktop": True, "events": []},
            (flag,),
            flag,
        )
        for flag in ("sound", "desktop")
    ),
    HttpCase(
        "owner",
        "PUT",
        "/api/agents/{alice}",
        lambda _: {"has_im_permission": False},
        ("has_im_permission",),
        "has_im_permission",
    ),
    HttpCase(
        "owner",
        "PUT",
        "/api/agents/{alice}",
        lambda _: {"is_disabled": False},
        ("is_disabled",),
        "is_disabled",
    ),
    HttpCase(
        "owner",
        "PUT",
        "/api/agents/{alice}",
        lambda _: {"reception_limit": 4},
        ("reception_limit",),
        "reception_limit",
    ),
    *(
        HttpCase(
            "owner",
            "POST",
            "/api/agents",
            lambda ids: {
                "username": "carol",
                "password": PASSWORD,
                "group_id": ids["group1"],
                "has_im_permission": True,
                "reception_limit": 3,
            },
            (field,),
            field,
        )
        for field in ("group_id", "has_im_permission", "reception_limit")
    ),
    HttpCase(
        "owner",
        "PUT",
        "/api/shop/settings",
        lambda _: {"max_reception_limit": 20},
        ("max_reception_limit",),
        "max_reception_limit",
    ),
    *(
        HttpCase(
            "owner",
            "POST",
            "/api/agents/batch",
            lambda ids: {"agent_ids": [ids["bob"]], "action": "move", "group_id": ids["group1"]},
            at,
            field,
        )
        for at, field in ((("agent_ids", 0), "agent_ids[]"), (("group_id",), "group_id"))
    ),
    HttpCase(
        "owner",
        "PUT",
        "/api/shop/settings",
        lambda _: {"bot_enabled": True},
        ("bot_enabled",),
        "bot_enabled",
    ),
    *(
        HttpCase(
            "owner",
            "PUT",
            "/api/shop/settings",
            lambda _, f=field, v=value: {f: v},
            (field,),
            field,
        )
        for field, value in (
            ("service_hours_enabled", False),
            ("offline_after_s", 60),
            ("offline_auto_assign", False),
            ("offline_when_nobody_online", False),
        )
    ),
    *(
        HttpCase(
            "alice", "POST", path, lambda _: {"entry_ids": [1]}, ("entry_ids", 0), "entry_ids[]"
        )
        for path in ("/api/offline/entries/processed", "/api/offline/entries/start")
    ),
    HttpCase(
        "owner",
        "PUT",
        "/api/shop/settings",
        lambda ids: {"entry_groups": {"product": ids["group1"]}},
        ("entry_groups", "product"),
        "entry_groups{}",
    ),
    HttpCase(
        "alice",
        "POST",
        CONVERSATION + "/transfer",
        lambda ids: {"to_agent_id": ids["bob"]},
        ("to_agent_id",),
        "to_agent_id",
    ),
    HttpCase(
        "alice",
        "POST",
        CONVERSATION + "/transfer",
        lambda ids: {"to_group_id": ids["group1"]},
        ("to_group_id",),
        "to_group_id",
    ),
    HttpCase(
        "owner",
        "POST",
        CONVERSATION + "/invite",
        lambda ids: {"agent_id": ids["bob"]},
        ("agent_id",),
        "agent_id",
    ),
    HttpCase("anyone", "POST", "/api/consumer/session", _session, ("shop_id",), "shop_id"),
    HttpCase(
        "anyone", "POST", "/api/consumer/session", _session, ("identity", "ts"), "identity.ts"
    ),
    HttpCase(
        "owner", "PUT", "/api/greetings", _greetings, ("groups", 0, "group_id"), "groups[].group_id"
    ),
    HttpCase(
        "owner", "PUT", "/api/greetings", _greetings, ("agents", 0, "agent_id"), "agents[].agent_id"
    ),
    *(
        HttpCase("owner", method, path, _question, at, field)
        for method, path in (("POST", "/api/kb/questions"), ("PUT", "/api/kb/questions/{question}"))
        for at, field in ((("category_id",), "category_id"), (("related_ids", 0), "related_ids[]"))
    ),
    HttpCase(
        "owner",
        "PUT",
        "/api/shop/entry",
        _entry,
        ("faq_menu", 0, "children", 0, "question_id"),
        "faq_menu[].children[].question_id",
    ),
    HttpCase(
        "owner",
        "PUT",
        "/api/shop/entry",
        _entry,
        ("bot_cards", 0, "question_id"),
        "bot_cards[].question_id",
    ),
    *(  # LIVE-3
        HttpCase(
            "owner",
            "POST",
            "/api/supervision/dispatch/agents",
            lambda ids: {"agent_ids": [ids["bob"]], "action": "move", "group_id": ids["group1"]},
            at,
            field,
        )
        for at, field in ((("agent_ids", 0), "agent_ids[]"), (("group_id",), "group_id"))
    ),
    HttpCase(
        "owner",
        "PUT",
        "/api/supervision/dispatch/faq-menu",
        lambda ids: {"faq_menu": _entry(ids)["faq_menu"]},
        ("faq_menu", 0, "children", 0, "question_id"),
        "faq_menu[].children[].question_id",
    ),
    *(
        HttpCase("owner", "PUT", "/api/shop/settings", lambda _, n=name: {n: True}, (name,), name)
        for name in ("rating_forced", "summary_required")
    ),
    HttpCase(
        "alice",
        "PUT",
        CONVERSATION + "/summary",
        lambda ids: {"category_id": ids["summary_leaf"]},
        ("category_id",),
        "category_id",
    ),
    HttpCase(
        "owner",
        "PUT",
        "/api/summary-categories",
        lambda ids: {"nodes": [{"key": "k", "id": ids["summary_leaf"], "name": "售前"}]},
        ("nodes", 0, "id"),
        "nodes[].id",
    ),
    HttpCase(
        "owner",
        "PUT",
        "/api/shop/settings",
        lambda _: {"alert_interval_s": 300},
        ("alert_interval_s",),
        "alert_interval_s",
    ),
    *(
        HttpCase("owner", method, path, _alert_rule, at, field)
        for method, path in (
            ("POST", "/api/supervision/alerts/rules"),
            ("PUT", "/api/supervision/alerts/rules/{alert_rule}"),
        )
        for at, field in (
            (("group_id",), "group_id"),
            (("threshold",), "threshold"),
            (("enabled",), "enabled"),
            (("recipient_ids", 0), "recipient_ids[]"),
        )
    ),
    # API-2: webhook endpoints.
    HttpCase("owner", "POST", "/api/webhooks", _webhook, ("is_enabled",), "is_enabled"),
    HttpCase(
        "owner",
        "PATCH",
        "/api/webhooks/{endpoint_id}",
        lambda _: {"is_enabled": False},
        ("is_enabled",),
        "is_enabled",
    ),
]


def _qa_rules(ids: Ids) -> dict[str, Any]:
    rule = {"key": "c1", "kind": "timing", "within_s": 60, "name": "slow", "is_enabled": True}
    return {"rules": [{**rule, "group_ids": [ids["group0"]]}]}


def _qa_inspection(ids: Ids) -> dict[str, Any]:
    return {"first": "2026-01-05", "last": "2026-01-05", "group_ids": [ids["group0"]]}


# QA-1, QA-2: a wrong type is refused before any hit is looked up (`hit` names none).
HTTP_CASES += [
    HttpCase("owner", "PUT", "/api/quality/rules", _qa_rules, ("rules", 0, f), f"rules[].{f}")
    for f in ("is_enabled", "within_s")
]
HTTP_CASES += [
    HttpCase(
        "owner", "PUT", "/api/quality/rules", _qa_rules, ("rules", 0, "group_ids", 0),
        "rules[].group_ids[]",
    ),
    HttpCase(
        "owner", "POST", "/api/quality/inspections", _qa_inspection, ("group_ids", 0), "group_ids[]"
    ),
    HttpCase(
        "owner",
        "PUT",
        "/api/quality/hits/{hit}/false-positive",
        lambda _: {"is_false_positive": True},
        ("is_false_positive",),
        "is_false_positive",
    ),
]  # fmt: skip

BOTH = ("consumer", "staff")


def _sync(ids: Ids) -> dict[str, Any]:
    return {"type": "sync", "conversation_id": ids["cid"], "since_seq": 0, "limit": 50}


def _feedback(ids: Ids) -> dict[str, Any]:
    return {"type": "feedback", "conversation_id": ids["cid"], "seq": 1, "resolved": True}


def _rate(ids: Ids) -> dict[str, Any]:
    return {"type": "rate", "conversation_id": ids["cid"], "stars": 5, "card_seq": 2}


def _suggestion(ids: Ids) -> dict[str, Any]:
    return {"type": "suggestion_click", "conversation_id": ids["cid"], "seq": 1, "question_id": 1}


def _order(_: Ids) -> dict[str, Any]:
    order = {"order_no": "o1", "title": "Tea", "item_count": 2}
    return {"type": "open", "entry": {"source": "order", "order": order}}


FRAME_CASES = [
    FrameCase(
        ("consumer",),
        lambda ids: {"type": "auth", "shop_id": ids["shop"], "token": "t"},
        ("shop_id",),
        "shop_id",
    ),
    FrameCase(("consumer",), _order, ("entry", "order", "item_count"), "entry.order.item_count"),
    FrameCase(
        ("consumer",),
        lambda ids: {"type": "typing", "conversation_id": ids["cid"], "text": "在"},
        ("conversation_id",),
        "conversation_id",
    ),
    FrameCase(
        BOTH,
        lambda ids: {"type": "send", "conversation_id": ids["cid"], "client_id": "x", "body": "b"},
        ("conversation_id",),
        "conversation_id",
    ),
    *(FrameCase(BOTH, _sync, (name,), name) for name in ("conversation_id", "since_seq", "limit")),
    *(
        FrameCase(("consumer",), _feedback, (name,), name)
        for name in ("conversation_id", "seq", "resolved")
    ),
    FrameCase(
        ("consumer",),
        lambda ids: {"type": "faq_click", "conversation_id": ids["cid"], "item_id": "i1"},
        ("conversation_id",),
        "conversation_id",
    ),
    *(
        FrameCase(("consumer",), _rate, (name,), name)
        for name in ("conversation_id", "stars", "card_seq")
    ),
    *(
        FrameCase(("consumer",), _suggestion, (name,), name)
        for name in ("conversation_id", "seq", "question_id")
    ),
    FrameCase(
        ("consumer",),
        lambda ids: {
            "type": "page_view",
            "conversation_id": ids["cid"],
            "url": "https://shop.example/p1",
        },
        ("conversation_id",),
        "conversation_id",
    ),
]


def wrong_values(right: object) -> list[object]:
    """The wrong JSON types that lax validation would coerce into `right`."""
    if isinstance(right, bool):
        return [str(right).lower(), int(right)]
    assert isinstance(right, int)
    return [str(right), True] if right == 1 else [str(right), True, False]


def _get(body: Any, at: Path) -> Any:
    for step in at:
        body = body[step]
    return body


def _with(body: dict[str, Any], at: Path, value: object) -> dict[str, Any]:
    *parents, last = at
    _get(body, tuple(parents))[last] = value
    return body


# ---- the meta-test: every number and boolean of a body or a frame has a case ----


def scalar_fields(schema: dict[str, Any], defs: dict[str, Any], prefix: str = "") -> set[str]:
    """The number and boolean places of a JSON schema: `a.b`, `list[]`, `map{}`."""
    while "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[1]]
    found: set[str] = set()
    for variant in schema.get("anyOf", [schema]):
        while "$ref" in variant:
            variant = defs[variant["$ref"].rsplit("/", 1)[1]]
        kind = variant.get("type")
        if kind in ("integer", "number", "boolean"):
            found.add(prefix)
        elif kind == "array":
            found |= scalar_fields(variant.get("items", {}), defs, prefix + "[]")
        for name, prop in variant.get("properties", {}).items():
            found |= scalar_fields(prop, defs, f"{prefix}.{name}" if prefix else name)
        extra = variant.get("additionalProperties")
        if isinstance(extra, dict):
            found |= scalar_fields(extra, defs, prefix + "{}")
    return found


def _app_doc() -> dict[str, Any]:
    app = create_app(
        Settings(database_url="sqlite+aiosqlite://", secret_key=SECRET_KEY),
        clock=FakeClock(),
        rng=random.Random(1),
        run_scheduler=False,
    )
    return app.openapi()


def _documented_path(path: str) -> str:
    names = {
        "{cid}": "{conversation_id}",
        "{alice}": "{agent_id}",
        "{question}": "{question_id}",
        "{hit}": "{hit_id}",
        "{alert_rule}": "{rule_id}",
    }
    for ours, theirs in names.items():
        path = path.replace(ours, theirs)
    return path


def test_api_2_the_table_covers_every_number_and_boolean_field() -> None:
    doc = _app_doc()
    defs = doc["components"]["schemas"]
    needed: set[tuple[str, str]] = set()
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                route = f"{method.upper()} {path}"
                needed |= {(route, name) for name in scalar_fields(body["schema"], defs)}
    for socket, registry in (("consumer", p.CONSUMER_FRAMES), ("staff", p.STAFF_FRAMES)):
        for kind, model in registry.items():
            schema = model.model_json_schema()
            fields = scalar_fields(schema, schema.get("$defs", {}))
            needed |= {(f"{socket} {kind}", name) for name in fields}
    covered = {(f"{c.method} {_documented_path(c.path)}", c.field) for c in HTTP_CASES}
    covered |= {(f"{socket} {c.type}", c.field) for c in FRAME_CASES for socket in c.sockets}
    assert sorted(needed - covered) == []
    assert sorted(covered - needed) == []


def _input_models() -> set[type[BaseModel]]:
    found: set[type[BaseModel]] = set()
    pending: list[type[BaseModel]] = [schemas.In, p.FrameIn]
    # The protocol module also declares the server's frames (`XxxOut`): output, not input.
    pending += [
        m
        for m in vars(p).values()
        if isinstance(m, type) and issubclass(m, BaseModel) and m.__name__.endswith("In")
    ]
    while pending:
        model = pending.pop()
        if model not in found and model is not BaseModel:
            found.add(model)
            pending += model.__subclasses__()
    return found


def test_api_2_every_body_and_frame_model_is_strict_and_closed() -> None:
    loose = [
        model.__qualname__
        for model in _input_models()
        if model.model_config.get("strict") is not True
        or model.model_config.get("extra") != "forbid"
    ]
    assert sorted(loose) == []


# ---- the behaviour: each wrong type is bad_input and changes nothing ----


@dataclass
class World:
    shop: ShopIds
    ids: Ids
    clients: dict[str, httpx.AsyncClient]
    consumer: Frames
    alice_ws: Frames


async def _an_alert_rule(owner: httpx.AsyncClient, shop: ShopIds) -> int:
    """LIVE-2: a rule to change."""
    ids = {"group1": shop.group_ids[1], "alice": shop.accounts["alice"]}
    made = await owner.post("/api/supervision/alerts/rules", json=_alert_rule(ids))
    assert made.status_code == 201, made.text
    rule_id: int = made.json()["id"]
    return rule_id


async def _world(srv: Server) -> World:
    shop = await make_shop(
        srv.db,
        groups=2,
        agents=[AgentSpec("alice"), AgentSpec("bob", status="busy")],
        clock=srv.clock,
    )
    owner = await srv.staff(shop.shop_id, "owner")
    alice = await srv.staff(shop.shop_id, "alice")
    consumer = await srv.consumer(shop.shop_id)
    answer = await consumer.request({"type": "request_human"})
    assert answer["conversation"]["agent_id"] == shop.accounts["alice"]
    category = await owner.post("/api/kb/categories", json={"name": "物流"})
    draft = {"question": "多久发货", "answer": "今天"}
    question = await owner.post("/api/kb/questions", json=draft)
    assert category.status_code == question.status_code == 200, (category.text, question.text)
    ids = {
        "shop": shop.shop_id,
        "alice": shop.accounts["alice"],
        "bob": shop.accounts["bob"],
        "group0": shop.group_ids[0],
        "group1": shop.group_ids[1],
        "cid": consumer.conversation_id,  # type: ignore[attr-defined]
        "category": category.json()["id"],
        "question": question.json()["id"],
        "summary_leaf": (await owner.get("/api/summary-categories")).json()["nodes"][0]["id"],
        "hit": 1,
        "alert_rule": await _an_alert_rule(owner, shop),
        "endpoint_id": await _webhook_endpoint(owner),
    }
    anyone = httpx.AsyncClient(base_url=srv.base_url)
    srv._clients.append(anyone)
    clients = {"owner": owner, "alice": alice, "anyone": anyone}
    return World(shop, ids, clients, consumer, await srv.staff_socket(alice))


async def _webhook_endpoint(owner: httpx.AsyncClient) -> int:
    """API-2: an endpoint on a public address (nothing is delivered: no scheduler runs)."""
    created = await owner.post("/api/webhooks", json=_webhook({}))
    assert created.status_code == 201, created.text
    endpoint_id: int = created.json()["id"]
    return endpoint_id


async def _snapshot(world: World) -> list[Any]:
    owner, alice = world.clients["owner"], world.clients["alice"]
    cid = world.ids["cid"]
    reads = [
        (alice, "/api/me"),
        (owner, "/api/agents"),
        (owner, "/api/shop/settings"),
        (owner, "/api/greetings"),
        (owner, "/api/kb/questions"),
        (owner, "/api/shop/entry"),
        (alice, f"/api/conversations/{cid}"),
        (alice, f"/api/conversations/{cid}/messages"),
        (alice, f"/api/conversations/{cid}/summary"),
        (owner, "/api/summary-categories"),
        (owner, "/api/webhooks"),
    ]
    answers = []
    for client, path in reads:
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text)
        answers.append(response.json())
    return answers


def _refusal_problem(what: str, status: int | None, answer: dict[str, Any]) -> list[str]:
    if answer.get("code") == "bad_input" and status in (None, 422):
        return []
    return [f"{what}: {status} {answer}"]


async def test_api_2_numbers_and_booleans_of_the_wrong_json_type_are_bad_input(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        world = await _world(srv)
        before = await _snapshot(world)
        failures: list[str] = []
        for case in HTTP_CASES:
            right = _get(case.body(world.ids), case.at)
            for wrong in wrong_values(right):
                body = _with(case.body(world.ids), case.at, wrong)
                client = world.clients[case.who]
                response = await client.request(case.method, case.url(world.ids), json=body)
                what = f"{case.method} {case.path} {case.field}={wrong!r}"
                failures += _refusal_problem(what, response.status_code, response.json())
        for frame_case in FRAME_CASES:
            failures += await _frame_refusals(srv, world, frame_case)
        assert failures == []
        assert await _snapshot(world) == before
        # No session was opened by a coerced login: bob logs in without taking over.
        login = {"shop_id": world.shop.shop_id, "username": "bob", "password": PASSWORD}
        bob = await world.clients["anyone"].post("/api/auth/login", json=login)
        assert bob.status_code == 200, bob.text


async def _frame_refusals(srv: Server, world: World, case: FrameCase) -> list[str]:
    right = _get(case.body(world.ids), case.at)
    failures = []
    for socket in case.sockets:
        for wrong in wrong_values(right):
            frame = _with(case.body(world.ids), case.at, wrong)
            what = f"{socket} {case.type} {case.field}={wrong!r}"
            if case.type == "auth":
                fresh = Frames(await connect(srv.ws_url + "/ws/consumer"))
                srv._sockets.append(fresh)
                await fresh.send(frame)
                answer = await fresh.wait_for(lambda f: f["type"] == "error")
            else:
                ws = world.consumer if socket == "consumer" else world.alice_ws
                answer = await ws.request(frame)
            failures += _refusal_problem(what, None, answer)
    return failures
