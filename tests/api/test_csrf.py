"""Cross-site writes: a state-changing request that carries the staff session cookie (and the
login, which sets it) is refused unless its Origin, or its Referer when there is no Origin, is
this server or an allowed origin; and a route that takes a body takes JSON only. Every such
route of the OpenAPI document is tried, so a new one cannot go without the check."""

from __future__ import annotations

import re
from typing import Any

import httpx

from support import PASSWORD, AgentSpec, Server, ShopIds, make_shop, running_server

EVIL = "https://evil.example"
DESK = "https://desk.example.com"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
SESSION = "staff_session"
# Writes that neither need nor set the staff session: the widget calls them from shops' sites.
CROSS_SITE_WRITES = {
    ("POST", "/api/consumer/session"),
    # MSG-1: authenticated by the consumer token in a header, never by a cookie.
    ("POST", "/api/consumer/conversations/{conversation_id}/attachments"),
}
LOGIN = ("POST", "/api/auth/login")
UPLOAD = ("POST", "/api/consumer/conversations/{conversation_id}/attachments")


async def _world(srv: Server) -> tuple[ShopIds, httpx.AsyncClient, int]:
    """A shop whose alice is online, holding one conversation."""
    shop = await make_shop(srv.db, agents=[AgentSpec("alice")], clock=srv.clock)
    alice = await srv.staff(shop.shop_id, "alice")
    consumer = await srv.consumer(shop.shop_id)
    assigned = await consumer.request({"type": "request_human"})
    assert assigned["conversation"]["agent_id"] == shop.accounts["alice"]
    return shop, alice, assigned["conversation"]["id"]


async def _state(alice: httpx.AsyncClient, conversation_id: int) -> tuple[str, str]:
    me = (await alice.get("/api/me")).json()["account"]
    conversation = (await alice.get(f"/api/conversations/{conversation_id}")).json()
    return me["status"], conversation["state"]


def _code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json().get("code")


async def test_cross_site_writes_with_the_session_cookie_are_refused(db_url: str) -> None:
    async with running_server(db_url) as srv:
        _, alice, conversation_id = await _world(srv)
        assert await _state(alice, conversation_id) == ("online", "assigned")

        status = await alice.put(
            "/api/me/status", json={"status": "busy"}, headers={"Origin": EVIL}
        )
        assert _code(status) == (403, "csrf.origin")
        # The classic attack: a body-less form posted from the attacker's page.
        ended = await alice.post(
            f"/api/conversations/{conversation_id}/end",
            headers={"Origin": EVIL, "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert _code(ended) == (403, "csrf.origin")
        # Without Origin, the Referer decides; a page with no origin to tell ("null") is foreign.
        for headers in (
            {"Referer": EVIL + "/page?x=1"},
            {"Origin": "null"},
            {"Origin": EVIL, "Referer": srv.base_url + "/workbench"},
        ):
            refused = await alice.put("/api/me/status", json={"status": "busy"}, headers=headers)
            assert _code(refused) == (403, "csrf.origin"), headers
        assert await _state(alice, conversation_id) == ("online", "assigned")

        # The workbench's own requests go through, by Origin or by Referer alone.
        own = await alice.put(
            "/api/me/status", json={"status": "busy"}, headers={"Origin": srv.base_url}
        )
        assert own.status_code == 200, own.text
        by_referer = await alice.put(
            "/api/me/status",
            json={"status": "break"},
            headers={"Referer": srv.base_url + "/workbench"},
        )
        assert by_referer.status_code == 200, by_referer.text
        ended = await alice.post(
            f"/api/conversations/{conversation_id}/end", json={}, headers={"Origin": srv.base_url}
        )
        assert ended.status_code == 200, ended.text
        assert await _state(alice, conversation_id) == ("break", "ended")


async def test_allowed_origins_and_requests_without_origin_or_referer_may_write(
    db_url: str,
) -> None:
    async with running_server(db_url, allowed_origins=[DESK]) as srv:
        shop, alice, conversation_id = await _world(srv)
        desk = await alice.put("/api/me/status", json={"status": "busy"}, headers={"Origin": DESK})
        assert desk.status_code == 200, desk.text
        # Neither header: not a browser (browsers send Origin with every write), so a script
        # that holds the cookie may write, as on /ws/staff.
        script = await alice.put("/api/me/status", json={"status": "break"})
        assert script.status_code == 200, script.text
        assert await _state(alice, conversation_id) == ("break", "assigned")
        # The login itself is checked too: no logging a victim into a foreign session.
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            login = {"shop_id": shop.shop_id, "username": "owner", "password": PASSWORD}
            foreign = await client.post("/api/auth/login", json=login, headers={"Origin": EVIL})
            assert _code(foreign) == (403, "csrf.origin")
            assert "kefu_session" not in client.cookies
            allowed = await client.post("/api/auth/login", json=login, headers={"Origin": DESK})
            assert allowed.status_code == 200, allowed.text


def _writes(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): op
        for path, operations in doc["paths"].items()
        for method, op in operations.items()
        if method.upper() in WRITES
    }


def _is_staff(op: dict[str, Any]) -> bool:
    return any(SESSION in need for need in op.get("security", []))


def _takes_json(op: dict[str, Any]) -> bool:
    return "application/json" in op.get("requestBody", {}).get("content", {})


def _url(path: str, conversation_id: int) -> str:
    """The conversation's id, and 1 for other ids: the check comes before any lookup."""
    return re.sub(
        r"\{(\w+)\}",
        lambda m: str(conversation_id if m[1] == "conversation_id" else 1),
        path,
    )


async def _send(
    client: httpx.AsyncClient, method: str, url: str, op: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    if _takes_json(op):
        return await client.request(method, url, json={}, headers=headers)
    if "multipart/form-data" in op.get("requestBody", {}).get("content", {}):
        files = {"file": ("x.csv", b"title,body\n", "text/csv")}
        return await client.request(method, url, files=files, headers=headers)
    return await client.request(method, url, headers=headers)


async def test_every_cookie_authenticated_write_checks_the_origin(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop, alice, conversation_id = await _world(srv)
        owner = await srv.staff(shop.shop_id, "owner")
        doc = (await owner.get("/openapi.json")).json()
        writes = _writes(doc)
        staff = {route for route, op in writes.items() if _is_staff(op)}
        # Every write is a staff route, the login, or named here as one for other sites.
        assert writes.keys() - staff - {LOGIN} == CROSS_SITE_WRITES
        before = await _state(alice, conversation_id)
        settings = (await owner.get("/api/shop/settings")).json()

        failures = []
        for method, path in sorted(staff | {LOGIN}):
            url = _url(path, conversation_id)
            for client in (owner, alice):
                answer = await _send(client, method, url, writes[(method, path)], {"Origin": EVIL})
                if _code(answer) != (403, "csrf.origin"):
                    failures.append(f"{method} {path}: {answer.status_code} {answer.text[:200]}")
        assert failures == []
        # Nothing changed, and both sessions are alive (the logout was refused too).
        assert await _state(alice, conversation_id) == before
        assert (await owner.get("/api/shop/settings")).json() == settings
        # The widget's session route stays open to shops' sites.
        for method, path in CROSS_SITE_WRITES - {UPLOAD}:
            answer = await owner.request(
                method, path, json={"shop_id": shop.shop_id}, headers={"Origin": EVIL}
            )
            assert answer.status_code == 200, answer.text


async def test_writes_that_take_a_body_take_json_only(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop, alice, conversation_id = await _world(srv)
        owner = await srv.staff(shop.shop_id, "owner")
        doc = (await owner.get("/openapi.json")).json()
        own = {"Origin": srv.base_url}
        body = b'{"status": "busy"}'
        for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
            headers = own if content_type is None else {**own, "Content-Type": content_type}
            refused = await alice.put("/api/me/status", content=body, headers=headers)
            assert _code(refused) == (422, "bad_input"), content_type
            assert refused.json()["params"]["expected"] == "application/json"
        assert await _state(alice, conversation_id) == ("online", "assigned")
        accepted = await alice.put(
            "/api/me/status", content=body, headers={**own, "Content-Type": "application/json"}
        )
        assert accepted.status_code == 200, accepted.text

        failures = []
        async with httpx.AsyncClient(base_url=srv.base_url) as anyone:
            for (method, path), op in sorted(_writes(doc).items()):
                if not _takes_json(op) or (method, path) in CROSS_SITE_WRITES:
                    continue
                client = anyone if (method, path) == LOGIN else owner
                answer = await client.request(
                    method,
                    _url(path, conversation_id),
                    content=b"{}",
                    headers={**own, "Content-Type": "text/plain"},
                )
                if not _refused_as_not_json(answer, op):
                    failures.append(f"{method} {path}: {answer.status_code} {answer.text[:200]}")
        assert failures == []


def _refused_as_not_json(answer: httpx.Response, op: dict[str, Any]) -> bool:
    """Refused as bad input naming what it takes: JSON, or for a file import that also takes
    CSV (API-1), its `format`."""
    if _code(answer) != (422, "bad_input"):
        return False
    params = answer.json()["params"]
    if "text/csv" in op.get("requestBody", {}).get("content", {}):
        return bool(params.get("field") == "format")
    return bool(params.get("expected") == "application/json")
