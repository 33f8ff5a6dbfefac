"""ACCT-5: nothing of shop B is readable or writable from shop A's accounts. Every HTTP route
and WebSocket frame that names an object is tried with B's id (isolation_table.py), and a
meta-test fails when a route or frame has no case there (ACCT-2 for role refusals)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import pytest
from isolation_table import (
    HTTP_CASES,
    NO_OBJECT_IDS,
    WS_CASES,
    fill,
    object_fields,
    uncovered_frames,
    uncovered_routes,
)
from sqlalchemy import insert
from websockets.asyncio.client import connect

from kefu.app import create_app
from kefu.clock import FakeClock
from kefu.gateway import protocol as p
from kefu.settings import Settings
from kefu.storage import tables as t
from kefu.supervision import alerts
from support import SECRET_KEY, AgentSpec, Frames, Server, ShopIds, make_shop, running_server


@dataclass
class World:
    """Shops A and B alike: owner, alice (online), bob (busy), a shop-only agent (offline), two
    groups, two conversations assigned to alice, and one pending transfer to bob."""

    a: ShopIds
    b: ShopIds
    ids: dict[str, int]
    a_owner: httpx.AsyncClient
    a_alice: httpx.AsyncClient
    b_owner: httpx.AsyncClient
    b_alice: httpx.AsyncClient
    a_consumer: Frames
    b_consumer: Frames


async def _shop(srv: Server, name: str, only_here: str) -> ShopIds:
    agents = [
        AgentSpec("alice"),
        AgentSpec("bob", status="busy"),  # offered a transfer, not routed to (CONV-7)
        AgentSpec(only_here, status="offline"),
    ]
    return await make_shop(srv.db, name=name, groups=2, agents=agents, clock=srv.clock)


async def _assigned(srv: Server, shop: ShopIds) -> Frames:
    consumer = await srv.consumer(shop.shop_id)
    answer = await consumer.request({"type": "request_human"})
    assert answer["conversation"]["agent_id"] == shop.accounts["alice"]
    return consumer


async def _build_shop(srv: Server, key: str, only_here: str) -> tuple[ShopIds, dict[str, Any]]:
    shop = await _shop(srv, key, only_here)
    owner = await srv.staff(shop.shop_id, "owner")
    alice = await srv.staff(shop.shop_id, "alice")
    first = await _assigned(srv, shop)
    second = await _assigned(srv, shop)
    first_id: int = first.conversation_id  # type: ignore[attr-defined]
    second_id: int = second.conversation_id  # type: ignore[attr-defined]
    sent = await first.request(
        {"type": "send", "conversation_id": first_id, "client_id": "k1", "body": f"for {key}"}
    )
    assert sent["type"] == "ack"
    transfer = await alice.post(
        f"/api/conversations/{second_id}/transfer", json={"to_agent_id": shop.accounts["bob"]}
    )
    assert transfer.status_code == 200, transfer.text
    # The owner joins the first conversation, so body fields are checked past the path's.
    joined = await owner.post(f"/api/conversations/{first_id}/join")
    assert joined.status_code == 200, joined.text
    consumer = (await owner.get(f"/api/conversations/{first_id}")).json()["consumer"]
    ids = {
        f"{key}.shop": shop.shop_id,
        f"{key}.consumer": consumer["id"],
        f"{key}.conversation": first_id,
        f"{key}.other_conversation": second_id,
        f"{key}.alice": shop.accounts["alice"],
        f"{key}.bob": shop.accounts["bob"],
        f"{key}.owner": shop.accounts["owner"],
        f"{key}.group": shop.group_ids[1],
        f"{key}.transfer": transfer.json()["id"],
        f"{key}.permission_request": await _permission_request(alice),
        f"{key}.attachment": await _attachment(alice, first_id, key),
        **await _bot_objects(owner, key),
        **await _offline_objects(srv, shop, owner, key, first_id),
        **await _quality_objects(srv, shop, owner, key, first_id),
        **await _alert_objects(srv, shop, owner, key),
        **await _webhook_objects(owner, key),
    }
    return shop, {"ids": ids, "owner": owner, "alice": alice, "consumer": first}


async def _quality_objects(
    srv: Server, shop: ShopIds, owner: httpx.AsyncClient, key: str, conversation_id: int
) -> dict[str, int]:
    """An inspection of today with one hit in the first conversation (QA-2)."""
    today = srv.clock.now().date().isoformat()
    started = await owner.post("/api/quality/inspections", json={"first": today, "last": today})
    assert started.status_code == 201, started.text
    inspection_id = int(started.json()["id"])
    async with srv.db.uow() as tx:
        hit_id = await tx.conn.scalar(
            insert(t.qa_hits)
            .values(
                shop_id=shop.shop_id,
                inspection_id=inspection_id,
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
    return {f"{key}.inspection": inspection_id, f"{key}.hit": int(hit_id or 0)}


async def _permission_request(alice: httpx.AsyncClient) -> int:
    """ACCT-6: alice asks her owner for the analytics feature."""
    asked = await alice.post("/api/permission-requests", json={"feature": "analytics"})
    assert asked.status_code == 201, asked.text
    return int(asked.json()["id"])


async def _offline_objects(
    srv: Server, shop: ShopIds, owner: httpx.AsyncClient, key: str, conversation_id: int
) -> dict[str, int]:
    """An offline-message entry (a request outside service hours) and a blacklist entry
    (OFFL-2, ROUTE-5)."""
    closed = await owner.put("/api/shop/settings", json={"service_hours_enabled": True})
    assert closed.status_code == 200, closed.text
    late = await srv.consumer(shop.shop_id)
    assert (await late.request({"type": "request_human"}))["conversation"]["state"] == "offline"
    await owner.put("/api/shop/settings", json={"service_hours_enabled": False})
    entries = (await owner.get("/api/offline/entries")).json()["items"]
    listed = await owner.post(
        f"/api/conversations/{conversation_id}/blacklist", json={"reason": f"{key} spam"}
    )
    assert listed.status_code == 200, listed.text
    return {f"{key}.offline_entry": entries[0]["id"], f"{key}.blacklist": listed.json()["id"]}


async def _alert_objects(
    srv: Server, shop: ShopIds, owner: httpx.AsyncClient, key: str
) -> dict[str, int]:
    """LIVE-2: an alert rule that alerts (nobody is queued: 0 < 1), and its alert."""
    made = await owner.post(
        "/api/supervision/alerts/rules",
        json={
            "scope": "shop",
            "metric": "queued",
            "comparison": "lt",
            "threshold": 1,
            "recipient_ids": [shop.accounts["owner"]],
        },
    )
    assert made.status_code == 201, made.text
    sent = await alerts.evaluate_shop(srv.runtime.ctx, shop.shop_id)
    return {f"{key}.alert_rule": made.json()["id"], f"{key}.alert": sent[0]["id"]}


async def _webhook_objects(owner: httpx.AsyncClient, key: str) -> dict[str, int]:
    """A webhook endpoint (API-2) on a public address, for an event the world never raises."""
    created = await owner.post(
        "/api/webhooks", json={"url": f"https://1.1.1.1/{key}", "events": ["alert.raised"]}
    )
    assert created.status_code == 201, created.text
    return {f"{key}.webhook": created.json()["id"]}


async def _attachment(alice: httpx.AsyncClient, conversation_id: int, key: str) -> int:
    """A text file alice sends in the conversation (MSG-1)."""
    sent = await alice.post(
        f"/api/conversations/{conversation_id}/attachments",
        files={"file": (f"{key}.txt", f"for {key}".encode(), "text/plain")},
        data={"client_id": f"file-{key}"},
    )
    assert sent.status_code == 200, sent.text
    attachment_id: int = sent.json()["attachment"]["id"]
    return attachment_id


async def _bot_objects(owner: httpx.AsyncClient, key: str) -> dict[str, int]:
    """A knowledge-base category and question, and a shop-wide quick phrase (BOT-2, MSG-4)."""
    category = await owner.post("/api/kb/categories", json={"name": f"cat {key}"})
    question = await owner.post(
        "/api/kb/questions",
        json={"question": f"{key} 多久发货", "answer": "48h", "category_id": category.json()["id"]},
    )
    phrase = await owner.post("/api/quick-phrases", json={"scope": "shop", "body": f"hi {key}"})
    tree = await owner.get("/api/summary-categories")  # CONV-10: the default tree's leaves
    token = await owner.post("/api/catalog/tokens", json={"name": f"erp {key}"})
    return {
        f"{key}.summary_category": tree.json()["nodes"][0]["id"],
        f"{key}.token": token.json()["id"],
        f"{key}.category": category.json()["id"],
        f"{key}.question": question.json()["id"],
        f"{key}.phrase": phrase.json()["id"],
    }


async def build_world(srv: Server) -> World:
    a, at_a = await _build_shop(srv, "A", "ann")
    b, at_b = await _build_shop(srv, "B", "ben")
    return World(
        a,
        b,
        at_a["ids"] | at_b["ids"],
        at_a["owner"],
        at_a["alice"],
        at_b["owner"],
        at_b["alice"],
        at_a["consumer"],
        at_b["consumer"],
    )


async def _json(client: httpx.AsyncClient, path: str) -> Any:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    return response.json()


async def snapshot(w: World) -> dict[str, Any]:
    """What A's requests must not change: B's conversation, messages, agents and settings, and
    A's own agents and settings (a refused request changes nothing, not even half)."""
    b_conv = w.ids["B.conversation"]
    a_conv = w.ids["A.conversation"]
    return {
        "b_conversation": await _json(w.b_alice, f"/api/conversations/{b_conv}"),
        "b_messages": await _json(w.b_alice, f"/api/conversations/{b_conv}/messages"),
        "b_agents": await _json(w.b_owner, "/api/agents"),
        "b_settings": await _json(w.b_owner, "/api/shop/settings"),
        "a_conversation": await _json(w.a_owner, f"/api/conversations/{a_conv}"),
        "a_agents": await _json(w.a_owner, "/api/agents"),
        "a_settings": await _json(w.a_owner, "/api/shop/settings"),
        "b_questions": await _json(w.b_owner, "/api/kb/questions"),
        "b_categories": await _json(w.b_owner, "/api/kb/categories"),
        "b_phrases": await _json(w.b_owner, "/api/quick-phrases"),
        "b_entry": await _json(w.b_owner, "/api/shop/entry"),
        "b_greetings": await _json(w.b_owner, "/api/greetings"),
        "a_questions": await _json(w.a_owner, "/api/kb/questions"),
        "a_entry": await _json(w.a_owner, "/api/shop/entry"),
        "a_greetings": await _json(w.a_owner, "/api/greetings"),
        "b_permissions": await _json(w.b_owner, "/api/permissions"),
        "b_permission_requests": await _json(w.b_owner, "/api/permission-requests"),
        "b_summary_tree": await _json(w.b_owner, "/api/summary-categories"),
        "b_summary": await _json(w.b_alice, f"/api/conversations/{b_conv}/summary"),
        "b_webhooks": await _json(w.b_owner, "/api/webhooks"),
    }


def _refusal(response: httpx.Response) -> tuple[int, str, str | None]:
    try:
        body = response.json()
    except ValueError:
        return response.status_code, response.text[:100], None
    return response.status_code, body.get("code"), body.get("params", {}).get("kind")


class _TipIn(p.FrameIn):
    type: Literal["tip"]
    conversation_id: p.ConversationRef


async def test_acct_5_every_route_and_frame_has_an_isolation_case(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = create_app(
        Settings(database_url="sqlite+aiosqlite://", secret_key=SECRET_KEY),
        clock=FakeClock(),
        rng=random.Random(1),
        run_scheduler=False,
    )
    doc = app.openapi()
    assert uncovered_routes(doc) == []
    assert uncovered_frames() == []
    # The discovery itself sees ids in paths, in bodies, in lists and in maps.
    fields = object_fields(doc)
    assert ("path", "conversation_id") in fields[("GET", "/api/conversations/{conversation_id}")]
    assert ("body", "agent_ids") in fields[("POST", "/api/agents/batch")]
    assert ("body", "entry_groups") in fields[("PUT", "/api/shop/settings")]
    # A new route that names an object is reported until it gets a case.
    doc["paths"]["/api/conversations/{conversation_id}/tip"] = {
        "post": {"parameters": [{"name": "conversation_id", "in": "path", "schema": {}}]}
    }
    assert len(uncovered_routes(doc)) == 1
    # So is a new frame naming a conversation: not in CONVERSATION_FRAMES, and no case.
    monkeypatch.setitem(p.CONSUMER_FRAMES, "tip", _TipIn)
    assert len(uncovered_frames()) == 2
    # Each case names an object of shop B, never A's, in the field it covers.
    for case in HTTP_CASES:
        where, name = case.field
        if where == "body":
            named = _body_value(case.body, name)
        else:
            named = (case.path_params if where == "path" else case.query).get(name)
        assert named is not None and "'B." in repr(named), case


async def test_acct_5_http_routes_answer_not_found_for_another_shops_ids(db_url: str) -> None:
    async with running_server(db_url) as srv:
        w = await build_world(srv)
        doc = await _json(w.a_owner, "/openapi.json")
        assert uncovered_routes(doc) == []
        before = await snapshot(w)

        failures = []
        for case in HTTP_CASES:
            for who, client in (("owner", w.a_owner), ("agent", w.a_alice)):
                body = fill(case.body, w.ids) if case.body is not None else None
                response = await client.request(case.method, case.url(w.ids), json=body)
                if case.role_only and who == "agent":
                    expected: tuple[int, str, str | None] = (403, "forbidden", None)
                else:
                    expected = (404, "not_found", case.kind)
                if _refusal(response) != expected:
                    failures.append(
                        f"{who} {case.method} {case.path} {case.field}: expected {expected}, "
                        f"got {response.status_code} {response.text[:200]}"
                    )
        assert failures == []

        assert await snapshot(w) == before
        # B's transfer is still pending: A could neither accept nor decline it.
        b_bob = await srv.staff(w.b.shop_id, "bob")
        decided = await b_bob.post(f"/api/transfers/{w.ids['B.transfer']}/decline")
        assert decided.status_code == 200 and decided.json()["state"] == "declined"


async def test_acct_5_lists_show_only_the_own_shop(db_url: str) -> None:
    async with running_server(db_url) as srv:
        w = await build_world(srv)
        b_objects = {
            "/api/agents": {w.b.accounts[name] for name in w.b.accounts},
            "/api/groups": set(w.b.group_ids),
            "/api/conversations": {w.ids["B.conversation"], w.ids["B.other_conversation"]},
            "/api/kb/categories": {w.ids["B.category"]},
            "/api/quick-phrases": {w.ids["B.phrase"]},
            "/api/offline/entries": {w.ids["B.offline_entry"]},
            "/api/blacklist": {w.ids["B.blacklist"]},
            "/api/customers/search": {w.ids["B.consumer"]},
            "/api/supervision/alerts/rules": {w.ids["B.alert_rule"]},
            "/api/supervision/alerts": {w.ids["B.alert"]},
            "/api/webhooks": {w.ids["B.webhook"]},
        }
        # /metrics is the operator's, not a session's (test_ops_metrics.py checks who may read it).
        gets = sorted(p for m, p in NO_OBJECT_IDS if m == "GET" and p != "/metrics")
        seen: dict[str, set[int]] = {path: set() for path in b_objects}
        for client in (w.a_owner, w.a_alice):
            for path in gets:
                for params in _params_for(path):
                    response = await client.get(path, params=params)
                    if response.status_code == 403:
                        continue  # colleague sessions are for supervisors (CONV-9)
                    assert response.status_code == 200, (path, params, response.text)
                    data = response.json()
                    assert _shop_ids(data) <= {w.a.shop_id}, (path, params)
                    if path in b_objects:
                        listed = {item["id"] for item in data["items"]}
                        assert not listed & b_objects[path], (path, params)
                        seen[path] |= listed
        # Not vacuous: each list did show shop A's own objects.
        assert seen["/api/agents"] == set(w.a.accounts.values())
        assert seen["/api/groups"] == set(w.a.group_ids)
        assert w.ids["A.consumer"] in seen["/api/customers/search"]
        assert seen["/api/webhooks"] == {w.ids["A.webhook"]}
        assert {w.ids["A.conversation"], w.ids["A.other_conversation"]} <= seen[
            "/api/conversations"
        ]


def _params_for(path: str) -> list[dict[str, str]]:
    if path == "/api/conversations":
        return [{"scope": s} for s in ("mine", "colleagues", "history", "recent")]
    if path == "/api/customers/search":
        return [{"q": "访客"}]  # every anonymous consumer's nickname, in both shops
    return [{}]


def _shop_ids(data: Any) -> set[int]:
    found: set[int] = set()
    if isinstance(data, dict):
        if isinstance(data.get("shop_id"), int):
            found.add(data["shop_id"])
        for value in data.values():
            found |= _shop_ids(value)
    elif isinstance(data, list):
        for value in data:
            found |= _shop_ids(value)
    return found


async def test_acct_5_ws_frames_naming_another_shops_conversation_get_not_found(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        w = await build_world(srv)
        b_alice_ws = await srv.staff_socket(w.b_alice)
        b_messages = await _json(
            w.b_alice, f"/api/conversations/{w.ids['B.conversation']}/messages"
        )
        sockets = [
            ("consumer", w.a_consumer, p.CONSUMER_FRAMES),
            ("owner", await srv.staff_socket(w.a_owner), p.STAFF_FRAMES),
            ("agent", await srv.staff_socket(w.a_alice), p.STAFF_FRAMES),
        ]
        failures = []
        for who, ws, registry in sockets:
            targets = [w.ids["B.conversation"]]
            if who == "consumer":  # another consumer's conversation, even in the same shop
                targets.append(w.ids["A.other_conversation"])
            for kind in sorted(p.CONVERSATION_FRAMES):
                for target in targets:
                    answer = await ws.request(WS_CASES[kind](target))
                    expected = "not_found" if kind in registry else "unknown_frame"
                    if (answer["type"], answer.get("code")) != ("error", expected):
                        failures.append(f"{who} {kind} -> {target}: {answer}")
                    pong = await ws.request({"type": "ping"})
                    if pong["type"] != "pong":
                        failures.append(f"{who} after {kind}: no pong but {pong}")
        assert failures == []

        assert (
            await _json(w.b_alice, f"/api/conversations/{w.ids['B.conversation']}/messages")
            == b_messages
        )
        # B's own typing reaches B's agent; A's attempts, sent earlier, did not.
        await w.b_consumer.send(
            {"type": "typing", "conversation_id": w.ids["B.conversation"], "text": "B typing"}
        )
        await b_alice_ws.wait_for(lambda f: f["type"] == "typing")
        assert [f["text"] for f in b_alice_ws.of_type("typing")] == ["B typing"]
        assert not [f for f in b_alice_ws.of_type("message") if f["message"]["body"] == "hello B"]


async def test_acct_5_consumer_token_of_one_shop_does_not_authenticate_for_another(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        a = await make_shop(srv.db, name="A", clock=srv.clock)
        b = await make_shop(srv.db, name="B", clock=srv.clock)
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            session = await client.post("/api/consumer/session", json={"shop_id": a.shop_id})
            token = session.json()["token"]
            again = await client.post(
                "/api/consumer/session", json={"shop_id": b.shop_id, "token": token}
            )
            assert _refusal(again)[:2] == (401, "auth.required")

        async def auth(shop_id: int) -> Frames:
            frames = Frames(await connect(srv.ws_url + "/ws/consumer"))
            srv._sockets.append(frames)
            await frames.send({"type": "auth", "shop_id": shop_id, "token": token})
            return frames

        foreign = await auth(b.shop_id)
        await foreign.ws.wait_closed()
        assert foreign.ws.close_code == 4401
        assert [f.get("code") for f in foreign.received] == ["auth.required"]
        # The same token does open its own shop.
        own = await auth(a.shop_id)
        ready = await own.wait_for(lambda f: f["type"] in ("ready", "error"))
        assert ready["type"] == "ready"


async def test_acct_5_public_routes_show_public_data_and_not_found_for_missing_shops(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        a = await make_shop(
            srv.db, name="A", agents=[AgentSpec("ann", status="offline")], clock=srv.clock
        )
        b = await make_shop(srv.db, name="B", clock=srv.clock)
        missing = b.shop_id + 1000
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            public = await client.get(f"/api/public/shops/{b.shop_id}")
            assert public.status_code == 200
            assert set(public.json()) == {"id", "name", "products", "orders_demo"}
            assert public.json()["name"] == "B" and b.secret not in public.text

            gone = await client.get(f"/api/public/shops/{missing}")
            assert _refusal(gone) == (404, "not_found", "shop")
            session = await client.post("/api/consumer/session", json={"shop_id": missing})
            assert _refusal(session) == (404, "not_found", "shop")

            # ann exists in shop A only: her credentials open nothing in shop B.
            login = {"username": "ann", "password": "secret-pass-1"}
            refused = await client.post("/api/auth/login", json={**login, "shop_id": b.shop_id})
            assert _refusal(refused)[:2] == (401, "auth.invalid_credentials")
            accepted = await client.post("/api/auth/login", json={**login, "shop_id": a.shop_id})
            assert accepted.status_code == 200


async def test_acct_2_agents_are_forbidden_owner_and_supervisor_actions(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(
            srv.db,
            groups=2,
            agents=[AgentSpec("alice"), AgentSpec("bob", status="offline")],
            clock=srv.clock,
        )
        owner = await srv.staff(shop.shop_id, "owner")
        alice = await srv.staff(shop.shop_id, "alice")
        bob, me, other_group = shop.accounts["bob"], shop.accounts["alice"], shop.group_ids[1]
        settings = await _json(alice, "/api/shop/settings")
        agents = await _json(owner, "/api/agents")

        attempts: list[tuple[str, str, dict[str, Any]]] = [
            ("PUT", "/api/shop/settings", {"queue_order": "lcfs"}),
            ("PUT", "/api/shop/settings", {"bot_enabled": True, "welcome_message": "hi"}),
            ("PUT", "/api/shop/settings", {"entry_groups": {"product": other_group}}),
            ("PUT", f"/api/agents/{bob}", {"display_name": "Renamed"}),
            ("PUT", f"/api/agents/{me}", {"has_im_permission": False}),
            ("POST", "/api/agents/batch", {"agent_ids": [bob], "action": "suspend"}),
            (
                "POST",
                "/api/agents/batch",
                {"agent_ids": [me, bob], "action": "move", "group_id": other_group},
            ),
        ]
        for method, path, body in attempts:
            response = await alice.request(method, path, json=body)
            assert _refusal(response)[:2] == (403, "forbidden"), (method, path, response.text)

        assert await _json(alice, "/api/shop/settings") == settings
        assert await _json(owner, "/api/agents") == agents
        # The same requests are the owner's to make.
        for method, path, body in attempts:
            response = await owner.request(method, path, json=body)
            assert response.status_code == 200, (method, path, response.text)
        assert (await _json(alice, "/api/shop/settings"))["queue_order"] == "lcfs"


def _body_value(body: Any, name: str) -> Any:
    value = body.get(name) if isinstance(body, dict) else None
    if isinstance(value, dict):
        return list(value.values())
    return value
