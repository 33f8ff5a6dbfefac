"""API-2: /openapi.json documents every HTTP route's answer and its refusals. Every operation's
success body has its real schema, every refusal the error model {code, message, params} with
the statuses the route can give, and real answers validate against the declared models, so
the documentation cannot drift from the wire."""

from __future__ import annotations

import copy
import io
import json
import random
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from isolation_table import HTTP_CASES
from PIL import Image
from sqlalchemy import func, insert, select

from kefu.analytics import list_models as analytics_list_models
from kefu.analytics import models as analytics_models
from kefu.api import models as api_models
from kefu.api import preference_routes
from kefu.api.models import Out
from kefu.app import create_app
from kefu.bot import models as bot_models
from kefu.catalog import models as catalog_models
from kefu.clock import FakeClock
from kefu.customers import models as customer_models
from kefu.files import models as file_models
from kefu.offline import models as offline_models
from kefu.quality import models as quality_models
from kefu.ratings import api as ratings_api
from kefu.search import models as search_models
from kefu.settings import Settings
from kefu.storage import tables as t
from kefu.storage import webhooks as webhook_store
from kefu.summaries import api as summaries_api
from kefu.supervision import alerts, alerts_models
from kefu.supervision import models as supervision_models
from kefu.webhooks import models as webhook_models
from kefu.webhooks.domain import DeliveryStatus
from support import PASSWORD, SECRET_KEY, AgentSpec, Server, ShopIds, make_shop, running_server

Route = tuple[str, str]
ERROR_REF = "#/components/schemas/ErrorOut"
# The statuses api/errors.py maps the error classes to.
PRODUCT_STATUSES = {"401", "403", "404", "409", "413", "422", "429", "503"}
JSON = "application/json"
SESSION = "staff_session"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
LOGIN = ("POST", "/api/auth/login")


def _app() -> FastAPI:
    return create_app(
        Settings(database_url="sqlite+aiosqlite://", secret_key=SECRET_KEY),
        clock=FakeClock(),
        rng=random.Random(1),
        run_scheduler=False,
    )


def _operations(doc: dict[str, Any]) -> dict[Route, dict[str, Any]]:
    return {
        (method.upper(), path): op
        for path, operations in doc["paths"].items()
        for method, op in operations.items()
    }


def staff_routes(doc: dict[str, Any]) -> set[Route]:
    """The routes that need a signed-in staff member: those secured by the session cookie."""
    return {
        route
        for route, op in _operations(doc).items()
        if any(SESSION in need for need in op.get("security", []))
    }


def required_refusals(doc: dict[str, Any]) -> dict[Route, set[str]]:
    """The statuses each operation must document, at least: 422 for any input, 401 for a
    staff route, 403 for a staff route's or the login's writes (a cross-site request is
    refused), 404 for an id in the path or any not_found case of the isolation table
    (ACCT-5), 403 where that table shows a role refusal (ACCT-2), and 413 for a JSON body."""
    required: dict[Route, set[str]] = {}
    staff = staff_routes(doc)
    for route, op in _operations(doc).items():
        needed = required.setdefault(route, set())
        if op.get("parameters") or op.get("requestBody"):
            needed.add("422")
        if JSON in op.get("requestBody", {}).get("content", {}):
            needed.add("413")
        if route in staff:
            needed.add("401")
        if route[0] in WRITES and (route in staff or route == LOGIN):
            needed.add("403")
        if "{" in route[1]:
            needed.add("404")
    for case in HTTP_CASES:
        required.setdefault(case.route, set()).add("404")
        if case.role_only:
            required[case.route].add("403")
    return required


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _is_shaped(doc: dict[str, Any], schema: dict[str, Any]) -> bool:
    """An object with its properties, or a list of shaped items: not `{}`, not a string."""
    schema = _resolve(doc, schema)
    if schema.get("type") == "array":
        return _is_shaped(doc, schema.get("items", {}))
    return schema.get("type") == "object" and bool(schema.get("properties"))


def _answer_problems(doc: dict[str, Any], route: Route, op: dict[str, Any]) -> list[str]:
    answers = {s: r for s, r in op.get("responses", {}).items() if s.startswith("2")}
    if not answers:
        return [f"{route}: no success answer documented"]
    problems = []
    for status, answer in answers.items():
        content = answer.get("content", {})
        if status == "204":
            if content:
                problems.append(f"{route}: 204 documents a body")
            continue
        if not content:
            problems.append(f"{route}: {status} documents no body")
        for media, body in content.items():
            schema = body.get("schema", {})
            if media == JSON and not _is_shaped(doc, schema):
                problems.append(f"{route}: {status} {media} has no real schema: {schema}")
            elif not schema:
                problems.append(f"{route}: {status} {media} has no schema")
    return problems


def _refusal_problems(route: Route, op: dict[str, Any], needed: set[str]) -> list[str]:
    responses = op.get("responses", {})
    problems = [f"{route}: {s} not documented" for s in sorted(needed - set(responses))]
    answers = [r.get("content") for s, r in responses.items() if s.startswith("2")]
    for status, answer in responses.items():
        if status.startswith("2"):
            continue
        if status == "503" and answer.get("content") in answers:
            continue  # an answer of the route's own shape (a degraded /readyz), not a refusal
        if status not in PRODUCT_STATUSES:
            problems.append(f"{route}: {status} is no status of the error model")
        if answer.get("content") != {JSON: {"schema": {"$ref": ERROR_REF}}}:
            problems.append(f"{route}: {status} is not documented as ErrorOut")
    return problems


def undocumented(doc: dict[str, Any]) -> list[str]:
    """What the OpenAPI document leaves undocumented, or documents with the wrong shape."""
    problems = []
    required = required_refusals(doc)
    operations = _operations(doc)
    for route in sorted(required.keys() - operations.keys()):
        problems.append(f"{route}: in the isolation table but not in the OpenAPI document")
    for route, op in sorted(operations.items()):
        problems += _answer_problems(doc, route, op)
        problems += _refusal_problems(route, op, required[route])
    schemas, text = doc["components"]["schemas"], json.dumps(doc)
    for name in ("HTTPValidationError", "ValidationError"):
        if name in schemas or f'/schemas/{name}"' in text:
            problems.append(f"FastAPI's default {name} is in the document")
    return problems


def test_api_2_staff_routes_are_secured_by_the_session_cookie() -> None:
    doc = _app().openapi()
    assert doc["components"]["securitySchemes"][SESSION] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "kefu_session",
        "description": "The signed staff session, set by POST /api/auth/login.",
    }
    staff = staff_routes(doc)
    public = {route for route in _operations(doc) if "/public/" in route[1]}
    public |= {("POST", "/api/auth/login"), ("POST", "/api/consumer/session")}
    public |= {("GET", "/api/consumer/orders")}  # the consumer's token (ENTRY-3)
    public |= {("GET", "/healthz"), ("GET", "/readyz")}
    public |= {("GET", "/metrics")}  # the operator's: loopback or its own token
    public |= {("GET", "/api/auth/session")}  # ACCT-4: answers signed-out pages too
    public |= {("GET", "/api/demo/buyer-identity")}  # `kefu demo` only: its demo buyer
    # MSG-1: the widget's consumer sends and reads files with its token, in a header.
    public |= {route for route in _operations(doc) if route[1].startswith("/api/consumer/")}
    assert staff == _operations(doc).keys() - public


def test_api_2_every_route_documents_its_answer_and_refusals_with_the_error_model() -> None:
    doc = _app().openapi()
    assert undocumented(doc) == []
    error = doc["components"]["schemas"]["ErrorOut"]
    assert error["required"] == ["code", "message", "params"]
    assert {name: p["type"] for name, p in error["properties"].items()} == {
        "code": "string",
        "message": "string",
        "params": "object",
    }
    # File downloads are documented by media type.
    export = doc["paths"]["/api/kb/export"]["get"]["responses"]["200"]["content"]
    assert set(export) == {JSON, "text/csv"}


def test_api_2_the_check_reports_what_a_route_leaves_undocumented() -> None:
    good = _app().openapi()

    def broken(change: Callable[[dict[str, Any]], None]) -> list[str]:
        doc = copy.deepcopy(good)
        change(doc)
        return undocumented(doc)

    def op(doc: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = doc["paths"]["/api/conversations/{conversation_id}"]["get"]
        return found

    def as_string(doc: dict[str, Any]) -> None:
        op(doc)["responses"]["200"]["content"][JSON]["schema"] = {"type": "string"}

    def without_404(doc: dict[str, Any]) -> None:
        del op(doc)["responses"]["404"]

    def default_422(doc: dict[str, Any]) -> None:
        op(doc)["responses"]["422"]["content"][JSON]["schema"] = {
            "$ref": "#/components/schemas/HTTPValidationError"
        }

    def empty_answer(doc: dict[str, Any]) -> None:
        op(doc)["responses"]["200"]["content"][JSON]["schema"] = {}

    for change in (as_string, without_404, empty_answer):
        assert len(broken(change)) == 1, change.__name__
    assert len(broken(default_422)) == 2  # the wrong model, and the default schema's name
    # A staff route without 401, and a role-checked route without 403, are reported.
    assert broken(lambda d: d["paths"]["/api/me"]["get"]["responses"].pop("401")) == [
        "('GET', '/api/me'): 401 not documented"
    ]
    assert broken(
        lambda d: d["paths"]["/api/agents/{agent_id}"]["put"]["responses"].pop("403")
    ) == ["('PUT', '/api/agents/{agent_id}'): 403 not documented"]


class Answers:
    """Calls routes by their documented path and validates each answer against the model the
    OpenAPI document declares for its status, remembering which operations were checked."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.checked: set[Route] = set()

    async def ok(
        self, client: httpx.AsyncClient, method: str, path: str, status: int = 200, **request: Any
    ) -> Any:
        response = await self._send(client, method, path, request)
        assert response.status_code == status, (method, path, response.text)
        self.checked.add((method, path))
        return self._valid(method, path, str(status), response)

    async def refused(
        self, client: httpx.AsyncClient, method: str, path: str, status: int, **request: Any
    ) -> Any:
        response = await self._send(client, method, path, request)
        assert response.status_code == status, (method, path, response.text)
        return self._valid(method, path, str(status), response)

    async def download(
        self, client: httpx.AsyncClient, path: str, **request: Any
    ) -> httpx.Response:
        """A GET answering a file: its type is one the document declares (any type where it
        declares application/octet-stream)."""
        response = await self._send(client, "GET", path, request)
        assert response.status_code == 200, (path, response.text)
        declared = self.doc["paths"][path]["get"]["responses"]["200"]["content"]
        media = response.headers["content-type"].split(";")[0]
        assert media in declared or "application/octet-stream" in declared, (path, media)
        assert response.headers["x-content-type-options"] == "nosniff"
        self.checked.add(("GET", path))
        return response

    async def _send(
        self, client: httpx.AsyncClient, method: str, path: str, request: dict[str, Any]
    ) -> httpx.Response:
        ids = request.pop("ids", {})
        return await client.request(method, path.format(**ids), **request)

    def _valid(self, method: str, path: str, status: str, response: httpx.Response) -> Any:
        declared = self.doc["paths"][path][method.lower()]["responses"][status]
        schema = declared["content"][JSON]["schema"]
        model = OUT_MODELS[schema["$ref"].rsplit("/", 1)[1]]
        assert response.headers["content-type"] == JSON
        # Strict: a missing, misnamed or extra key, or a value of another type, fails.
        parsed = model.model_validate_json(response.content, strict=True)
        # Lossless: the model reads the answer's keys and values back exactly.
        body = response.json()
        assert parsed.model_dump(mode="json", exclude_unset=True) == body, (method, path)
        return body


OUT_MODELS: dict[str, type[Out]] = {
    name: cls
    for module in (
        api_models,
        bot_models,
        offline_models,
        ratings_api,
        summaries_api,
        catalog_models,
        file_models,
        customer_models,
        search_models,
        analytics_models,
        analytics_list_models,
        quality_models,
        alerts_models,
        preference_routes,
        webhook_models,
        supervision_models,
    )
    for name, cls in vars(module).items()
    if isinstance(cls, type) and issubclass(cls, Out)
}
ENTRY = {
    "source": "product",
    "product": {"id": "p1", "title": "Tea", "price": "9.90"},
    "page_url": "https://shop.example/p1",
}


async def _public_goods(srv: Server, shop_id: int) -> None:
    async with srv.db.uow() as tx:
        await tx.conn.execute(
            insert(t.products).values(
                shop_id=shop_id, external_id="p1", title="Tea", price="9.90", url="", image=""
            )
        )
        await tx.conn.execute(
            insert(t.orders).values(
                shop_id=shop_id,
                order_no="o1",
                item_count=2,
                amount="19.80",
                title="Tea",
                ordered_at=srv.clock.now(),
            )
        )
        await tx.commit()


async def test_api_2_real_answers_validate_against_the_declared_models(db_url: str) -> None:
    # As `kefu demo` serves, so that the demo buyer's identity answers too (shop 1 is the demo's).
    async with running_server(db_url, demo_buyer=True) as srv:
        shop = await make_shop(
            srv.db,
            groups=2,
            agents=[
                AgentSpec("alice"),
                AgentSpec("bob", status="offline"),
                AgentSpec("dave", status="offline"),
            ],
            clock=srv.clock,
        )
        await _public_goods(srv, shop.shop_id)
        owner = await srv.staff(shop.shop_id, "owner")
        alice = await srv.staff(shop.shop_id, "alice")
        bob = await srv.staff(shop.shop_id, "bob")
        async with httpx.AsyncClient(base_url=srv.base_url) as anyone:
            doc = (await anyone.get("/openapi.json")).json()
            check = Answers(doc)
            await _staff_and_settings(check, srv, shop, owner, alice, anyone)
            await _phrases_and_greetings(check, shop, owner, alice)
            await _permissions(check, shop, owner, alice)
            await _customers(check, srv, shop, owner, alice)
            await _conversations(check, srv, shop, owner, alice, bob)
            await _ratings_and_summaries(check, srv, shop, owner, {alice, bob})
            await _knowledge_base(check, shop, owner, anyone)
            await _catalog(check, shop, owner, anyone)
            await _refusals(check, shop, alice, anyone)
            await check.ok(anyone, "GET", "/api/auth/session")
            await check.ok(alice, "GET", "/api/auth/session")
            assert shop.shop_id == 1
            await check.ok(anyone, "GET", "/api/demo/buyer-identity")
            await _offline(check, srv, shop, owner, alice)
            await _quality(check, srv, shop, owner)
            await _alerts(check, srv, shop, owner, alice)
            await _webhooks(check, srv, shop, owner)
            await check.ok(anyone, "GET", "/healthz")
            await check.download(anyone, "/metrics")  # the test's client is on the loopback
            await check.ok(anyone, "GET", "/readyz")
            await check.ok(alice, "POST", "/api/auth/logout")
        # Every operation of the document was called and its answer validated.
        assert sorted(_operations(doc).keys() - check.checked) == []


async def _quality(check: Answers, srv: Server, shop: ShopIds, owner: httpx.AsyncClient) -> None:
    """QA-1, QA-2: the rules, an inspection with one hit, its context and a false positive."""
    await check.ok(owner, "GET", "/api/quality/rules")
    praise = {"key": "c1", "kind": "keywords", "phrases": ["好评"], "name": "praise"}
    await check.ok(owner, "PUT", "/api/quality/rules", json={"rules": [praise]})
    today = srv.clock.now().date().isoformat()
    days = {"first": today, "last": today}
    started = await check.ok(owner, "POST", "/api/quality/inspections", 201, json=days)
    inspection = {"inspection_id": started["id"]}
    async with srv.db.uow() as tx:
        conversation_id = await tx.conn.scalar(
            select(func.min(t.conversations.c.id)).where(t.conversations.c.shop_id == shop.shop_id)
        )
        hit_id = await tx.conn.scalar(
            insert(t.qa_hits)
            .values(
                shop_id=shop.shop_id,
                inspection_id=started["id"],
                conversation_id=conversation_id,
                agent_id=shop.accounts["alice"],
                rule_key="closing",
                polarity="negative",
                seq=1,
                at=srv.clock.now(),
            )
            .returning(t.qa_hits.c.id)
        )
        await tx.commit()
    await check.ok(owner, "GET", "/api/quality/inspections")
    await check.ok(owner, "GET", "/api/quality/inspections/{inspection_id}", ids=inspection)
    await check.ok(owner, "GET", "/api/quality/inspections/{inspection_id}/hits", ids=inspection)
    await check.ok(owner, "GET", "/api/quality/hits/{hit_id}/context", ids={"hit_id": hit_id})
    await check.ok(
        owner,
        "PUT",
        "/api/quality/hits/{hit_id}/false-positive",
        ids={"hit_id": hit_id},
        json={"is_false_positive": True},
    )


async def _permissions(
    check: Answers, shop: ShopIds, owner: httpx.AsyncClient, alice: httpx.AsyncClient
) -> None:
    """ACCT-6: permissions per feature area, requested, answered and set."""
    await check.ok(owner, "GET", "/api/permissions")
    asked = await check.ok(
        alice, "POST", "/api/permission-requests", 201, json={"feature": "quality"}
    )
    again = await check.ok(
        alice, "POST", "/api/permission-requests", 201, json={"feature": "settings"}
    )
    await check.ok(alice, "GET", "/api/permission-requests")
    await check.ok(
        owner,
        "POST",
        "/api/permission-requests/{request_id}/approve",
        ids={"request_id": asked["id"]},
    )
    await check.ok(
        owner,
        "POST",
        "/api/permission-requests/{request_id}/decline",
        ids={"request_id": again["id"]},
    )
    await check.ok(
        owner,
        "PUT",
        "/api/agents/{agent_id}/permissions",
        ids={"agent_id": shop.accounts["alice"]},
        json={"features": ["workbench"]},
    )


async def _staff_and_settings(
    check: Answers,
    srv: Server,
    shop: ShopIds,
    owner: httpx.AsyncClient,
    alice: httpx.AsyncClient,
    anyone: httpx.AsyncClient,
) -> None:
    async with httpx.AsyncClient(base_url=srv.base_url) as dave:
        login = {"shop_id": shop.shop_id, "username": "dave", "password": PASSWORD}
        await check.ok(dave, "POST", "/api/auth/login", json=login)
    await check.ok(alice, "GET", "/api/me")
    await check.ok(alice, "GET", "/api/me/stats")
    prefs = {"sound": False, "desktop": True, "events": ["new_message"]}
    await check.ok(alice, "PUT", "/api/me/notification-preferences", json=prefs)
    await check.ok(alice, "GET", "/api/me/notification-preferences")
    await check.ok(owner, "GET", "/api/agents")
    await check.ok(
        owner,
        "PUT",
        "/api/agents/{agent_id}",
        ids={"agent_id": shop.accounts["alice"]},
        json={"display_name": "Alice A."},
    )
    batch = {"agent_ids": [shop.accounts["dave"]], "action": "suspend"}
    await check.ok(owner, "POST", "/api/agents/batch", json=batch)
    await check.ok(alice, "GET", "/api/groups")
    group = await check.ok(owner, "POST", "/api/groups", 201, json={"name": "直播组"})
    await check.ok(
        owner, "PUT", "/api/groups/{group_id}", ids={"group_id": group["id"]}, json={"name": "直播"}
    )
    made = await check.ok(
        owner,
        "POST",
        "/api/agents",
        201,
        json={"username": "erin", "password": PASSWORD, "group_id": group["id"]},
    )
    erin = {"agent_id": made["account"]["id"]}
    await check.ok(
        owner, "POST", "/api/agents/{agent_id}/password", ids=erin, json={"password": PASSWORD}
    )
    await check.ok(owner, "PUT", "/api/agents/{agent_id}", ids=erin, json={"is_disabled": True})
    await check.refused(
        owner, "DELETE", "/api/groups/{group_id}", 409, ids={"group_id": group["id"]}
    )
    batch = {"agent_ids": [erin["agent_id"]], "action": "move", "group_id": shop.group_ids[0]}
    await check.ok(owner, "POST", "/api/agents/batch", json=batch)
    await check.ok(owner, "DELETE", "/api/groups/{group_id}", ids={"group_id": group["id"]})
    audit = await check.ok(owner, "GET", "/api/audit", params={"limit": 2})
    assert len(audit["items"]) == 2 and audit["next_before"] is not None
    await check.ok(alice, "GET", "/api/shop/settings")
    await check.ok(owner, "PUT", "/api/shop/settings", json={"queue_order": "lcfs"})
    await check.ok(anyone, "POST", "/api/consumer/session", json={"shop_id": shop.shop_id})
    public = await check.ok(
        anyone, "GET", "/api/public/shops/{shop_id}", ids={"shop_id": shop.shop_id}
    )
    assert public["products"] and public["orders_demo"]


async def _phrases_and_greetings(
    check: Answers, shop: ShopIds, owner: httpx.AsyncClient, alice: httpx.AsyncClient
) -> None:
    greetings = {
        "groups": [{"group_id": shop.group_ids[0], "welcome": "您好", "closing": "再见"}],
        "agents": [{"agent_id": shop.accounts["alice"], "welcome": "我是 Alice"}],
    }
    await check.ok(owner, "PUT", "/api/greetings", json=greetings)
    await check.ok(alice, "GET", "/api/greetings")
    phrase = await check.ok(alice, "POST", "/api/quick-phrases", json={"body": "您好"})
    ids = {"phrase_id": phrase["id"]}
    await check.ok(alice, "GET", "/api/quick-phrases", params={"q": "您"})
    await check.ok(alice, "PUT", "/api/quick-phrases/{phrase_id}", ids=ids, json={"body": "在的"})
    imported = await check.ok(
        alice,
        "POST",
        "/api/quick-phrases/import",
        files={"file": ("phrases.csv", "谢谢,感谢您的耐心\n空,\n".encode(), "text/csv")},
        data={"scope": "personal"},
    )
    assert imported["imported"] == 1 and imported["rejected"]
    await check.ok(alice, "DELETE", "/api/quick-phrases/{phrase_id}", ids=ids)


async def _attachments(
    check: Answers, srv: Server, shop: ShopIds, alice: httpx.AsyncClient, consumer: Any
) -> None:
    """MSG-1: a picture from the consumer, a text file from the agent, and their downloads."""
    ids = {"conversation_id": consumer.conversation_id}
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "blue").save(buffer, format="PNG")
    headers = {"X-Kefu-Shop": str(shop.shop_id), "X-Kefu-Consumer-Token": consumer.token}
    async with httpx.AsyncClient(base_url=srv.base_url, headers=headers) as widget:
        picture = await check.ok(
            widget,
            "POST",
            "/api/consumer/conversations/{conversation_id}/attachments",
            ids=ids,
            files={"file": ("p.png", buffer.getvalue(), "image/png")},
            data={"client_id": "f1"},
        )
        image = {"attachment_id": picture["attachment"]["id"]}
        await check.download(widget, "/api/consumer/attachments/{attachment_id}", ids=image)
        await check.download(
            widget, "/api/consumer/attachments/{attachment_id}/thumbnail", ids=image
        )
        await check.download(alice, "/api/attachments/{attachment_id}", ids=image)
        await check.download(alice, "/api/attachments/{attachment_id}/thumbnail", ids=image)
    text = await check.ok(
        alice,
        "POST",
        "/api/conversations/{conversation_id}/attachments",
        ids=ids,
        files={"file": ("a.txt", "您好".encode(), "text/plain")},
        data={"client_id": "f2"},
    )
    assert text["attachment"]["kind"] == "file"


async def _customers(
    check: Answers, srv: Server, shop: ShopIds, owner: httpx.AsyncClient, alice: httpx.AsyncClient
) -> None:
    """DESK-5 and CONV-6: the side panel of a consumer with a page trail, and a proactive
    conversation with a recent buyer."""
    visitor = await srv.consumer(shop.shop_id, entry=ENTRY)
    cid = visitor.conversation_id  # type: ignore[attr-defined]
    viewed = await visitor.request(
        {"type": "page_view", "conversation_id": cid, "url": "https://shop.example/p1"}
    )
    assert viewed["recorded"] is True
    panel = await check.ok(
        owner, "GET", "/api/conversations/{conversation_id}/panel", ids={"conversation_id": cid}
    )
    assert [p["url"] for p in panel["trail"]["pages"]] == ["https://shop.example/p1"]
    consumer = {"consumer_id": panel["consumer"]["id"]}
    profile = {"notes": "老顾客", "tags": ["VIP"], "phone": "13800138000"}
    await check.ok(alice, "PUT", "/api/customers/{consumer_id}/profile", ids=consumer, json=profile)
    past = "/api/customers/{consumer_id}/conversations/{conversation_id}"
    await check.ok(alice, "GET", past, ids={**consumer, "conversation_id": cid})
    async with srv.db.uow() as tx:
        buyer_id = await tx.conn.scalar(
            insert(t.consumers)
            .values(
                shop_id=shop.shop_id,
                uid="buyer-1",
                nickname="老王",
                is_vip=False,
                created_at=srv.clock.now(),
            )
            .returning(t.consumers.c.id)
        )
        await tx.conn.execute(
            insert(t.orders).values(
                shop_id=shop.shop_id,
                consumer_id=buyer_id,
                order_no="SO-1",
                item_count=1,
                amount="9.90",
                title="Tea",
                ordered_at=srv.clock.now(),
            )
        )
        await tx.commit()
    buyer = {"consumer_id": buyer_id}
    found = await check.ok(alice, "GET", "/api/customers/search", params={"q": "SO-1"})
    assert [c["id"] for c in found["items"]] == [buyer_id]
    orders = await check.ok(alice, "GET", "/api/customers/{consumer_id}/orders", ids=buyer)
    assert [o["order_no"] for o in orders["items"]] == ["SO-1"]
    started = await check.ok(alice, "POST", "/api/customers/{consumer_id}/conversations", ids=buyer)
    assert started["entry"] == {"source": "proactive"}
    # The conversation counts against alice's limit: end it so the rest starts as before.
    await check.ok(
        alice,
        "POST",
        "/api/conversations/{conversation_id}/end",
        ids={"conversation_id": started["id"]},
    )


async def _conversations(
    check: Answers,
    srv: Server,
    shop: ShopIds,
    owner: httpx.AsyncClient,
    alice: httpx.AsyncClient,
    bob: httpx.AsyncClient,
) -> None:
    first = await srv.consumer(shop.shop_id, entry=ENTRY)
    assigned = await first.request({"type": "request_human"})
    assert assigned["conversation"]["agent_id"] == shop.accounts["alice"]
    ids = {"conversation_id": first.conversation_id}  # type: ignore[attr-defined]
    sent = await first.request(
        {
            "type": "send",
            "conversation_id": ids["conversation_id"],
            "client_id": "c1",
            "body": "在吗",
        }
    )
    assert sent["type"] == "ack"
    await check.ok(alice, "GET", "/api/conversations", params={"scope": "mine"})
    conversation = await check.ok(alice, "GET", "/api/conversations/{conversation_id}", ids=ids)
    assert conversation["entry"]["product"] and conversation["last_message"]
    page = await check.ok(alice, "GET", "/api/conversations/{conversation_id}/messages", ids=ids)
    assert any(m["meta"] for m in page["items"])  # the welcome greeting (SET-2)
    reply = {"client_id": "a1", "body": "您好，在的"}
    await check.ok(
        alice, "POST", "/api/conversations/{conversation_id}/messages", ids=ids, json=reply
    )
    await _attachments(check, srv, shop, alice, first)
    found = await check.ok(alice, "GET", "/api/history/search", params={"q": "在的"})
    assert found["items"][0]["matches"][0]["snippet"]["highlights"] == [[3, 5]]  # DATA-5

    await check.ok(bob, "PUT", "/api/me/status", json={"status": "online"})
    await check.ok(bob, "PUT", "/api/me/reception-limit", json={"limit": 5})
    to_bob = {"to_agent_id": shop.accounts["bob"]}
    transfer = await check.ok(
        alice, "POST", "/api/conversations/{conversation_id}/transfer", ids=ids, json=to_bob
    )
    accept = "/api/transfers/{transfer_id}/accept"
    await check.ok(bob, "POST", accept, ids={"transfer_id": transfer["id"]})

    second = await srv.consumer(shop.shop_id)
    holder_id = (await second.request({"type": "request_human"}))["conversation"]["agent_id"]
    by_id = {shop.accounts["alice"]: alice, shop.accounts["bob"]: bob}
    other_id = next(i for i in by_id if i != holder_id)
    ids = {"conversation_id": second.conversation_id}  # type: ignore[attr-defined]
    transfer = await check.ok(
        by_id[holder_id],
        "POST",
        "/api/conversations/{conversation_id}/transfer",
        ids=ids,
        json={"to_agent_id": other_id},
    )
    decline = "/api/transfers/{transfer_id}/decline"
    await check.ok(by_id[other_id], "POST", decline, ids={"transfer_id": transfer["id"]})
    transfer = await check.ok(
        by_id[holder_id],
        "POST",
        "/api/conversations/{conversation_id}/transfer",
        ids=ids,
        json={"to_agent_id": other_id},
    )
    cancel = "/api/transfers/{transfer_id}/cancel"  # CONV-7
    await check.ok(by_id[holder_id], "POST", cancel, ids={"transfer_id": transfer["id"]})
    await check.ok(owner, "POST", "/api/conversations/{conversation_id}/join", ids=ids)
    invite = {"agent_id": other_id}
    await check.ok(
        owner, "POST", "/api/conversations/{conversation_id}/invite", ids=ids, json=invite
    )
    await check.ok(by_id[other_id], "POST", "/api/conversations/{conversation_id}/leave", ids=ids)
    ended = await check.ok(
        by_id[holder_id], "POST", "/api/conversations/{conversation_id}/end", ids=ids
    )
    assert ended["end_cause"] == "agent"


async def _ratings_and_summaries(
    check: Answers,
    srv: Server,
    shop: ShopIds,
    owner: httpx.AsyncClient,
    agents: set[httpx.AsyncClient],
) -> None:
    """RATE-1, DESK-4, CONV-10."""
    consumer = await srv.consumer(shop.shop_id)
    assert (await consumer.request({"type": "request_human"}))["conversation"]["agent_id"]
    ids = {"conversation_id": consumer.conversation_id}  # type: ignore[attr-defined]
    holder = None
    for agent in agents:
        found = await agent.get(f"/api/conversations/{ids['conversation_id']}/summary")
        holder = agent if found.status_code == 200 else holder
    assert holder is not None
    invitations = "/api/conversations/{conversation_id}/rating-invitations"
    await check.ok(holder, "POST", invitations, ids=ids)
    rated = await consumer.request(
        {"type": "rate", "conversation_id": ids["conversation_id"], "stars": 5}
    )
    assert rated["type"] == "rated", rated
    quality = "/api/conversations/{conversation_id}/service-quality"
    assert (await check.ok(holder, "GET", quality, ids=ids))["rating"] == 5
    tree = await check.ok(owner, "GET", "/api/summary-categories")
    nodes = [{"key": str(n["id"]), "id": n["id"], "name": n["name"]} for n in tree["nodes"]] + [
        {"key": "new", "parent_key": str(tree["nodes"][0]["id"]), "name": "咨询"}
    ]
    saved = await check.ok(owner, "PUT", "/api/summary-categories", json={"nodes": nodes})
    leaf = saved["nodes"][0]["children"][0]["id"]
    summary = "/api/conversations/{conversation_id}/summary"
    await check.ok(holder, "GET", summary, ids=ids)
    written = await check.ok(holder, "PUT", summary, ids=ids, json={"category_id": leaf})
    assert written["summary"]["path"] == [tree["nodes"][0]["name"], "咨询"]


async def _knowledge_base(
    check: Answers, shop: ShopIds, owner: httpx.AsyncClient, anyone: httpx.AsyncClient
) -> None:
    category = await check.ok(owner, "POST", "/api/kb/categories", json={"name": "物流"})
    category_ids = {"category_id": category["id"]}
    await check.ok(owner, "GET", "/api/kb/categories")
    rename = {"name": "快递"}
    await check.ok(owner, "PUT", "/api/kb/categories/{category_id}", ids=category_ids, json=rename)
    draft = {
        "question": "多久发货",
        "answer": "付款后48小时内发货。",
        "category_id": category["id"],
    }
    question = await check.ok(owner, "POST", "/api/kb/questions", json=draft)
    ids = {"question_id": question["id"]}
    await check.ok(owner, "GET", "/api/kb/questions/{question_id}", ids=ids)
    draft["phrasings"] = ["什么时候发货"]
    await check.ok(owner, "PUT", "/api/kb/questions/{question_id}", ids=ids, json=draft)
    await check.ok(owner, "GET", "/api/kb/questions", params=category_ids)
    tried = await check.ok(owner, "POST", "/api/kb/try", json={"text": "什么时候发货"})
    assert tried["candidates"]
    await check.ok(owner, "GET", "/api/kb/synonyms")
    synonyms = {"groups": [["快递", "物流"]], "user_words": ["顺丰"]}
    await check.ok(owner, "PUT", "/api/kb/synonyms", json=synonyms)
    kb_file = {
        "questions": [{"question": "包邮吗", "answer": "包邮。"}, {"question": "", "answer": "?"}]
    }
    imported = await check.ok(
        owner,
        "POST",
        "/api/kb/import",
        files={"file": ("kb.json", json.dumps(kb_file).encode(), JSON)},
    )
    assert imported["imported"] == 1 and imported["rejected"]
    exported = await check.ok(owner, "GET", "/api/kb/export")
    assert len(exported["questions"]) == 2
    csv = await owner.get("/api/kb/export", params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")

    entry = {
        "welcome_message": "欢迎光临",
        "faq_menu": [
            {"title": "发货", "children": [{"title": "多久发货", "question_id": question["id"]}]}
        ],
        "bot_cards": [{"title": "发货时间", "question_id": question["id"]}],
        "consumer_phrases": ["在吗"],
    }
    await check.ok(owner, "PUT", "/api/shop/entry", json=entry)
    await check.ok(owner, "GET", "/api/shop/entry")
    shop_ids = {"shop_id": shop.shop_id}
    await check.ok(anyone, "GET", "/api/public/shops/{shop_id}/entry", ids=shop_ids)
    stats = await check.ok(owner, "GET", "/api/bot/stats")
    assert stats["faq_clicks"] and stats["by_day"]
    dashboard = await check.ok(owner, "GET", "/api/analytics/dashboard")
    assert dashboard["current"]["conversations"] >= 1
    live = await check.ok(owner, "GET", "/api/supervision/live")  # LIVE-1
    assert live["shop"]["today"]["conversations"] >= 1
    menu = {"faq_menu": entry["faq_menu"]}  # LIVE-3
    await check.ok(owner, "PUT", "/api/supervision/dispatch/faq-menu", json=menu)
    await check.ok(owner, "PUT", "/api/supervision/dispatch/bot-mode", json={"mode": "bot_first"})
    for action in ("suspend", "unsuspend"):
        batch = {"agent_ids": [shop.accounts["alice"]], "action": action}
        await check.ok(owner, "POST", "/api/supervision/dispatch/agents", json=batch)
    await check.ok(owner, "GET", "/api/analytics/agents")
    await check.ok(owner, "GET", "/api/analytics/targets")
    await check.ok(owner, "PUT", "/api/analytics/targets", json={"preset": "xixi"})
    await check.ok(owner, "GET", "/api/analytics/intents")
    taxonomy = await check.ok(owner, "GET", "/api/analytics/intents/taxonomy")
    body = {"taxonomy": taxonomy["taxonomy"]}
    await check.ok(owner, "PUT", "/api/analytics/intents/taxonomy", json=body)
    listed = await check.ok(owner, "GET", "/api/analytics/conversations")
    assert listed["items"] and any(item["ratings"] for item in listed["items"])
    await check.ok(owner, "GET", "/api/analytics/sales")

    spare = await check.ok(
        owner, "POST", "/api/kb/questions", json={"question": "q", "answer": "a"}
    )
    await check.ok(
        owner, "DELETE", "/api/kb/questions/{question_id}", ids={"question_id": spare["id"]}
    )
    await check.ok(owner, "DELETE", "/api/kb/categories/{category_id}", ids=category_ids)


async def _refusals(
    check: Answers, shop: ShopIds, alice: httpx.AsyncClient, anyone: httpx.AsyncClient
) -> None:
    """Refusals carry the error model too, whichever layer refuses."""
    await check.refused(anyone, "GET", "/api/me", 401)
    login = {"shop_id": shop.shop_id, "username": "alice", "password": PASSWORD}
    await check.refused(anyone, "POST", "/api/auth/login", 409, json=login)
    await check.refused(anyone, "POST", "/api/auth/login", 422, json={**login, "shop_id": 0})
    await check.refused(alice, "PUT", "/api/shop/settings", 403, json={"queue_order": "fcfs"})
    missing = {"conversation_id": 2**40}
    await check.refused(alice, "GET", "/api/conversations/{conversation_id}", 404, ids=missing)
    await check.refused(alice, "PUT", "/api/me/reception-limit", 422, json={"limit": 0})
    await check.refused(alice, "PUT", "/api/me/notification-preferences", 422, json={"sound": True})
    await check.refused(alice, "PUT", "/api/me/status", 422, json={"status": "asleep"})
    huge = {"content": b" " * (1024 * 1024 + 1), "headers": {"content-type": JSON}}
    await check.refused(alice, "PUT", "/api/me/status", 413, **huge)


async def _offline(
    check: Answers, srv: Server, shop: ShopIds, owner: httpx.AsyncClient, alice: httpx.AsyncClient
) -> None:
    """OFFL-2, OFFL-3, ROUTE-5: a request outside service hours (none set: always closed)."""
    closed = {"service_hours_enabled": True, "time_zone": "Asia/Shanghai"}
    await check.ok(owner, "PUT", "/api/shop/settings", json=closed)
    consumer = await srv.consumer(shop.shop_id)
    answer = await consumer.request({"type": "request_human"})
    assert answer["conversation"]["state"] == "offline"
    await check.ok(owner, "PUT", "/api/shop/settings", json={"service_hours_enabled": False})
    page = await check.ok(alice, "GET", "/api/offline/entries", params={"status": "all"})
    assert page["unprocessed_7d"] == 1
    ids = {"entry_id": page["items"][0]["id"]}
    history = await check.ok(alice, "GET", "/api/offline/entries/{entry_id}/messages", ids=ids)
    assert history["items"][-1]["notice"]["code"] == "offline.outside_hours"
    body = {"entry_ids": [ids["entry_id"]]}
    await check.ok(alice, "POST", "/api/offline/entries/processed", json=body)
    started = await check.ok(alice, "POST", "/api/offline/entries/start", json=body)
    conversation = {"conversation_id": started["conversation_ids"][0]}
    listed = await check.ok(
        alice,
        "POST",
        "/api/conversations/{conversation_id}/blacklist",
        ids=conversation,
        json={"reason": "spam"},
    )
    await check.ok(owner, "GET", "/api/blacklist")
    await check.refused(alice, "GET", "/api/blacklist", 403)
    await check.ok(
        owner, "DELETE", "/api/blacklist/{blacklist_id}", ids={"blacklist_id": listed["id"]}
    )


async def _catalog(
    check: Answers, shop: ShopIds, owner: httpx.AsyncClient, anyone: httpx.AsyncClient
) -> None:
    """API-1, API-2: imports, reads, integration tokens and the consumer's orders."""
    products = b"external_id,title,price\nc1,Tea,9.9\nc2,,1\n"
    csv = {"content": products, "headers": {"content-type": "text/csv"}}
    imported = await check.ok(owner, "POST", "/api/catalog/products/import", **csv)
    assert imported["imported"] == 1 and imported["rejected"][0]["line"] == 3
    session = await anyone.post("/api/consumer/session", json={"shop_id": shop.shop_id})
    consumer = session.json()
    order = {"order_no": "O1", "consumer_uid": consumer["consumer"]["uid"], "amount": "9.90",
             "ordered_at": "2026-11-01T00:00:00Z", "items": [{"title": "Tea"}]}  # fmt: skip
    orders = {"content": json.dumps([order]).encode(), "headers": {"content-type": JSON}}
    assert (await check.ok(owner, "POST", "/api/catalog/orders/import", **orders))["imported"]
    await check.ok(owner, "GET", "/api/catalog/products", params={"q": "Tea"})
    await check.ok(owner, "GET", "/api/catalog/orders")
    mine = await check.ok(
        anyone, "GET", "/api/consumer/orders", params={"shop_id": shop.shop_id},
        headers={"x-consumer-token": consumer["token"]},
    )  # fmt: skip
    assert [o["order_no"] for o in mine["items"]] == ["O1"]
    token = await check.ok(owner, "POST", "/api/catalog/tokens", json={"name": "ERP"})
    await check.ok(owner, "GET", "/api/catalog/tokens")
    ids = {"token_id": token["id"]}
    await check.ok(owner, "DELETE", "/api/catalog/tokens/{token_id}", ids=ids)


async def _alerts(
    check: Answers, srv: Server, shop: ShopIds, owner: httpx.AsyncClient, alice: httpx.AsyncClient
) -> None:
    """LIVE-2: rules written, an evaluation, the history, a refusal and a removal."""
    rules = "/api/supervision/alerts/rules"
    rule = {
        "scope": "agent",
        "group_id": shop.group_ids[0],
        "metric": "pending",
        "comparison": "ge",
        "threshold": 0,
        "recipient_ids": [shop.accounts["owner"]],
    }
    made = await check.ok(owner, "POST", rules, 201, json=rule)
    ids = {"rule_id": made["id"]}
    await check.ok(owner, "PUT", rules + "/{rule_id}", ids=ids, json=rule | {"threshold": 0.5})
    listed = await check.ok(owner, "GET", rules)
    assert listed["items"][0]["threshold"] == 0.5
    await check.ok(owner, "PUT", rules + "/{rule_id}", ids=ids, json=rule)
    assert len(await alerts.evaluate_shop(srv.runtime.ctx, shop.shop_id)) == 1
    page = await check.ok(owner, "GET", "/api/supervision/alerts", params={"page_size": 5})
    assert page["total"] == 1 and page["items"][0]["hits"][0]["scope"] == "agent"
    await check.refused(alice, "GET", "/api/supervision/alerts", 403)
    await check.ok(owner, "DELETE", rules + "/{rule_id}", ids=ids)


async def _webhooks(check: Answers, srv: Server, shop: ShopIds, owner: httpx.AsyncClient) -> None:
    """API-2: endpoints, rotation and a delivery log with one failed attempt."""
    body = {"url": "https://1.1.1.1/hook", "events": ["message.created"]}
    created = await check.ok(owner, "POST", "/api/webhooks", 201, json=body)
    ids = {"endpoint_id": created["id"]}
    await check.ok(owner, "GET", "/api/webhooks")
    patch = {"events": ["message.created", "alert.raised"]}
    await check.ok(owner, "PATCH", "/api/webhooks/{endpoint_id}", json=patch, ids=ids)
    await check.ok(owner, "POST", "/api/webhooks/{endpoint_id}/rotate-secret", ids=ids)
    now = srv.clock.now()
    async with srv.db.uow() as tx:
        await webhook_store.record_event(
            tx.conn, shop_id=shop.shop_id, event="message.created", data={}, now=now
        )
        (claimed,) = await webhook_store.claim_due(tx.conn, now, lease_until=now, limit=1)
        result = webhook_store.AttemptResult(now, None, "timeout", 5000)
        await webhook_store.settle(
            tx.conn, claimed, result, status=DeliveryStatus.PENDING, next_attempt_at=now
        )
        await tx.commit()
    log = await check.ok(owner, "GET", "/api/webhooks/{endpoint_id}/deliveries", ids=ids)
    assert log["items"][0]["attempt_log"][0]["error"] == "timeout"
    await check.ok(owner, "DELETE", "/api/webhooks/{endpoint_id}", ids=ids)
