"""Bad input over WebSocket and HTTP (MSG-1, PRES-2, API-2): each refusal has a stable code,
nothing is stored, and the connection stays usable (the next valid send gets the next seq)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from support import AgentSpec, Frames, Server, make_shop, running_server

HUGE_ID = 2**64


@dataclass
class Chat:
    """A consumer's conversation assigned to alice, with both sides connected."""

    conversation_id: int
    consumer: Frames
    alice: httpx.AsyncClient
    alice_ws: Frames
    owner: httpx.AsyncClient


async def open_chat(srv: Server) -> Chat:
    shop = await make_shop(srv.db, agents=[AgentSpec("alice")], clock=srv.clock)
    alice = await srv.staff(shop.shop_id, "alice")
    alice_ws = await srv.staff_socket(alice)
    consumer = await srv.consumer(shop.shop_id)
    answer = await consumer.request({"type": "request_human"})
    assert answer["conversation"]["agent_id"] == shop.accounts["alice"]
    owner = await srv.staff(shop.shop_id, "owner")
    cid: int = consumer.conversation_id  # type: ignore[attr-defined]
    return Chat(cid, consumer, alice, alice_ws, owner)


async def stored(chat: Chat) -> list[tuple[int, str, str]]:
    response = await chat.alice.get(f"/api/conversations/{chat.conversation_id}/messages")
    assert response.status_code == 200, response.text
    return [(m["seq"], m["sender"], m["body"]) for m in response.json()["items"]]


def bad_frames(cid: int) -> list[tuple[str, str | dict[str, Any], str, str | None]]:
    """(what, frame, code, the field `params.errors` must name)."""
    send = {"type": "send", "conversation_id": cid, "client_id": "bad", "body": "hello"}
    return [
        ("malformed JSON", '{"type": "send", "conversation_id": ', "bad_input", None),
        ("a JSON array", '[{"type": "ping"}]', "bad_input", None),
        ("a JSON string", '"ping"', "bad_input", None),
        ("a JSON number", "42", "bad_input", None),
        ("JSON null", "null", "bad_input", None),
        ("no type", {"conversation_id": cid}, "bad_input", None),
        ("a number as type", {"type": 7}, "bad_input", None),
        ("an unknown type", {"type": "explode"}, "unknown_frame", None),
        (
            "a string conversation id",
            {**send, "conversation_id": str(cid)},
            "bad_input",
            "conversation_id",
        ),
        (
            "a float conversation id",
            {**send, "conversation_id": cid + 0.5},
            "bad_input",
            "conversation_id",
        ),
        (
            "an id beyond any row",
            {**send, "conversation_id": HUGE_ID},
            "bad_input",
            "conversation_id",
        ),
        ("an unknown field", {**send, "seq": 99}, "bad_input", "seq"),
        (
            "a missing client id",
            {k: v for k, v in send.items() if k != "client_id"},
            "bad_input",
            "client_id",
        ),
        ("a system kind", {**send, "kind": "system"}, "bad_input", "kind"),
        ("2,001 characters", {**send, "body": "字" * 2001}, "bad_input", "body"),
        ("a NUL character", {**send, "body": "before\x00after"}, "bad_input", None),
        ("an empty body", {**send, "body": ""}, "bad_input", None),
        ("a whitespace body", {**send, "body": " \n\t\u3000 "}, "bad_input", None),
        ("a ref of 65 chars", {"type": "ping", "ref": "r" * 65}, "bad_input", "ref"),
        (
            "a since_seq beyond any seq",
            {"type": "sync", "conversation_id": cid, "since_seq": HUGE_ID},
            "bad_input",
            "since_seq",
        ),
    ]


async def refuse(ws: Frames, frame: str | dict[str, Any]) -> dict[str, Any]:
    """Send a bad frame, then a ping: the one error before the pong answers the bad frame."""
    start = len(ws.received)
    ref = None
    if isinstance(frame, dict):
        frame = {"ref": f"bad-{start}", **frame}
        ref = frame["ref"] if len(frame["ref"]) <= 64 else None
        text = json.dumps(frame, ensure_ascii=False)
    else:
        text = frame
    await ws.ws.send(text)
    pong = await ws.request({"type": "ping"})
    assert pong["type"] == "pong", pong
    between = ws.received[start : ws.received.index(pong)]
    errors = [f for f in between if f["type"] == "error"]
    assert len(errors) == 1, (text[:100], between)
    # The error names the frame it answers, when the frame had a usable ref.
    assert errors[0]["ref"] == ref, (text[:100], errors[0])
    return errors[0]


@pytest.mark.parametrize("side", ["consumer", "staff"])
async def test_msg_1_bad_frames_get_a_code_store_nothing_and_keep_the_socket(
    db_url: str, side: str
) -> None:
    async with running_server(db_url) as srv:
        chat = await open_chat(srv)
        ws = chat.consumer if side == "consumer" else chat.alice_ws
        before = await stored(chat)

        failures = []
        for what, frame, code, field in bad_frames(chat.conversation_id):
            error = await refuse(ws, frame)
            named = [e["loc"] for e in error["params"].get("errors", [])]
            if error["code"] != code or (field and not any(field in loc for loc in named)):
                failures.append(f"{what}: {error}")
            if not error["message"]:
                failures.append(f"{what}: no message")
        assert failures == []

        assert await stored(chat) == before
        ack = await ws.request(
            {
                "type": "send",
                "conversation_id": chat.conversation_id,
                "client_id": "ok-1",
                "body": "ok",
            }
        )
        assert ack["type"] == "ack" and ack["seq"] == before[-1][0] + 1
        # A literal backslash-u0000 typed by a user is text, not a NUL character.
        typed = "C:\\u0000 is not a NUL"
        ack = await ws.request(
            {
                "type": "send",
                "conversation_id": chat.conversation_id,
                "client_id": "ok-2",
                "body": typed,
            }
        )
        assert ack["type"] == "ack" and ack["seq"] == before[-1][0] + 2
        assert (await stored(chat))[-2:] == [
            (ack["seq"] - 1, "consumer" if side == "consumer" else "agent", "ok"),
            (ack["seq"], "consumer" if side == "consumer" else "agent", typed),
        ]


async def test_msg_1_a_consumer_typing_preview_is_checked_like_a_message(db_url: str) -> None:
    async with running_server(db_url) as srv:
        chat = await open_chat(srv)
        cid = chat.conversation_id
        for text in ("x" * 501, "a\x00b"):
            frame = {"type": "typing", "conversation_id": cid, "text": text}
            error = await refuse(chat.consumer, frame)
            assert error["code"] == "bad_input"
        await chat.consumer.send({"type": "typing", "conversation_id": cid, "text": "x" * 500})
        seen = await chat.alice_ws.wait_for(lambda f: f["type"] == "typing")
        assert seen["text"] == "x" * 500
        assert len(chat.alice_ws.of_type("typing")) == 1


@pytest.mark.parametrize("side", ["consumer", "staff"])
async def test_msg_1_an_oversized_frame_closes_the_socket_with_1009(db_url: str, side: str) -> None:
    async with running_server(db_url) as srv:
        chat = await open_chat(srv)
        ws = chat.consumer if side == "consumer" else chat.alice_ws
        before = await stored(chat)
        frame = {
            "type": "send",
            "conversation_id": chat.conversation_id,
            "client_id": "big",
            "body": "x" * (64 * 1024),
        }
        await ws.ws.send(json.dumps(frame))
        await asyncio.wait_for(ws.ws.wait_closed(), 5)
        # uvicorn enforces the 64 KiB limit itself: the frame never reaches kefu.
        assert ws.ws.close_code == 1009
        assert [f["code"] for f in ws.of_type("error")] in ([], ["frame_too_large"])
        assert await stored(chat) == before

        if side == "consumer":
            again = Frames(await connect(srv.ws_url + "/ws/consumer"))
            srv._sockets.append(again)
            shop_id = (await chat.owner.get("/api/me")).json()["shop"]["id"]
            token = chat.consumer.token  # type: ignore[attr-defined]
            await again.send({"type": "auth", "shop_id": shop_id, "token": token})
            await again.wait_for(lambda f: f["type"] == "ready")
        else:
            again = await srv.staff_socket(chat.alice)
        ack = await again.request(
            {
                "type": "send",
                "conversation_id": chat.conversation_id,
                "client_id": "c2",
                "body": "ok",
            }
        )
        assert ack["type"] == "ack" and ack["seq"] == before[-1][0] + 1


async def test_msg_1_bad_http_sends_get_bad_input_and_store_nothing(db_url: str) -> None:
    async with running_server(db_url) as srv:
        chat = await open_chat(srv)
        url = f"/api/conversations/{chat.conversation_id}/messages"
        before = await stored(chat)
        ok = {"client_id": "h1", "body": "hello"}
        raw = {"headers": {"content-type": "application/json"}}
        attempts: list[tuple[str, str, dict[str, Any]]] = [
            ("malformed JSON", url, {"content": b'{"client_id": "h1", ', **raw}),
            ("a JSON array", url, {"json": [ok]}),
            ("a JSON string", url, {"json": "hello"}),
            ("no body", url, {}),
            ("a number as client id", url, {"json": {**ok, "client_id": 5}}),
            ("a list as body", url, {"json": {**ok, "body": ["hello"]}}),
            ("an unknown field", url, {"json": {**ok, "seq": 9}}),
            ("a system kind", url, {"json": {**ok, "kind": "system"}}),
            ("2,001 characters", url, {"json": {**ok, "body": "字" * 2001}}),
            ("a NUL character", url, {"json": {**ok, "body": "before\x00after"}}),
            ("an empty body", url, {"json": {**ok, "body": ""}}),
            ("a whitespace body", url, {"json": {**ok, "body": " \n\t\u3000 "}}),
            ("a word as id", "/api/conversations/abc/messages", {"json": ok}),
            ("an id beyond any row", f"/api/conversations/{HUGE_ID}/messages", {"json": ok}),
        ]
        failures = []
        for what, path, kwargs in attempts:
            response = await chat.alice.post(path, **kwargs)
            body = (
                response.json()
                if response.headers.get("content-type", "").startswith("application/json")
                else {}
            )
            if (
                response.status_code != 422
                or body.get("code") != "bad_input"
                or not body.get("message")
            ):
                failures.append(f"{what}: {response.status_code} {response.text[:200]}")
        assert failures == []

        assert await stored(chat) == before
        sent = await chat.alice.post(url, json=ok)
        assert sent.status_code == 200 and sent.json()["seq"] == before[-1][0] + 1


async def test_pres_2_reception_limit_outside_1_to_50_is_refused_and_unchanged(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("alice", limit=5)], clock=srv.clock)
        alice = await srv.staff(shop.shop_id, "alice")

        async def limit() -> int:
            return int((await alice.get("/api/me")).json()["account"]["reception_limit"])

        for bad in (0, 51, -1, 10**30, "many", 2.5, None, [3]):
            response = await alice.put("/api/me/reception-limit", json={"limit": bad})
            assert response.status_code == 422, (bad, response.text)
            assert response.json()["code"] == "bad_input", bad
            assert await limit() == 5, bad
        out_of_range = await alice.put("/api/me/reception-limit", json={"limit": 51})
        assert (
            out_of_range.json()["params"] | {"min": 1, "max": 50} == out_of_range.json()["params"]
        )
        extra = await alice.put("/api/me/reception-limit", json={"limit": 4, "for": "bob"})
        assert extra.status_code == 422 and await limit() == 5

        for good in (1, 50):
            response = await alice.put("/api/me/reception-limit", json={"limit": good})
            assert response.status_code == 200, response.text
            assert response.json()["account"]["reception_limit"] == good
            assert await limit() == good


async def test_api_2_nul_and_ids_beyond_any_row_are_bad_input_not_server_errors(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("alice")], clock=srv.clock)
        owner = await srv.staff(shop.shop_id, "owner")
        alice = shop.accounts["alice"]
        settings = (await owner.get("/api/shop/settings")).json()
        agents = (await owner.get("/api/agents")).json()
        async with httpx.AsyncClient(base_url=srv.base_url) as anonymous:
            attempts: list[tuple[httpx.AsyncClient, str, str, Any]] = [
                (owner, "PUT", "/api/shop/settings", {"welcome_message": "hi\x00"}),
                (owner, "PUT", f"/api/agents/{alice}", {"display_name": "Al\x00ice"}),
                (owner, "PUT", f"/api/agents/{HUGE_ID}", {"display_name": "Nobody"}),
                (owner, "POST", "/api/agents/batch", {"agent_ids": [HUGE_ID], "action": "suspend"}),
                (owner, "PUT", "/api/shop/settings", {"entry_groups": {"product": HUGE_ID}}),
                (owner, "GET", f"/api/conversations/{HUGE_ID}", None),
                (owner, "GET", f"/api/conversations/1/messages?since_seq={HUGE_ID}", None),
                (owner, "POST", f"/api/transfers/{HUGE_ID}/accept", None),
                (owner, "PUT", f"/api/agents/{HUGE_ID}/permissions", {"features": []}),
                (owner, "PUT", f"/api/agents/{alice}/permissions", {"features": ["root"]}),
                (owner, "PUT", f"/api/agents/{alice}/permissions", {"features": ["quality"] * 6}),
                (owner, "POST", f"/api/permission-requests/{HUGE_ID}/approve", None),
                (
                    owner,
                    "POST",
                    "/api/permission-requests",
                    {"feature": "quality", "note": "x" * 201},
                ),
                (owner, "POST", "/api/permission-requests", {"feature": "quality\x00"}),
                (owner, "GET", f"/api/attachments/{HUGE_ID}", None),
                (owner, "GET", f"/api/attachments/{HUGE_ID}/thumbnail", None),
                (owner, "POST", f"/api/conversations/{HUGE_ID}/attachments", None),
                (anonymous, "GET", f"/api/consumer/attachments/{HUGE_ID}", None),
                (anonymous, "POST", f"/api/consumer/conversations/{HUGE_ID}/attachments", None),
                (owner, "GET", "/api/history/search?q=%E9%80%80%00", None),
                (owner, "GET", f"/api/history/search?agent_id={HUGE_ID}", None),
                (owner, "GET", "/api/history/search?q=%E9%80%80", None),
                (owner, "GET", "/api/history/search?since=2026-01-01T00:00:00", None),
                # Before the calendar starts once in UTC: bad_input, not an overflow (500).
                (owner, "GET", "/api/history/search?since=0001-01-01T00:00:00%2B05:00", None),
                (owner, "GET", "/api/history/search?q=ab&cursor=zz", None),
                (
                    anonymous,
                    "POST",
                    "/api/auth/login",
                    {"shop_id": shop.shop_id, "username": "al\x00ice", "password": "x"},
                ),
                (
                    anonymous,
                    "POST",
                    "/api/auth/login",
                    {"shop_id": HUGE_ID, "username": "alice", "password": "x"},
                ),
                (anonymous, "POST", "/api/consumer/session", {"shop_id": HUGE_ID}),
                (anonymous, "GET", f"/api/public/shops/{HUGE_ID}", None),
                (owner, "DELETE", f"/api/catalog/tokens/{HUGE_ID}", None),
                (owner, "POST", "/api/catalog/tokens", {"name": "ERP\x00"}),
                (owner, "POST", "/api/catalog/tokens", {"name": ""}),
                (owner, "GET", "/api/catalog/products?q=%00", None),
                (owner, "GET", "/api/catalog/products?page=0", None),
                (owner, "GET", f"/api/catalog/products?page_size={HUGE_ID}", None),
                (owner, "GET", "/api/catalog/orders?consumer_uid=a%00b", None),
                (owner, "POST", "/api/catalog/products/import?format=xml", None),
                (owner, "POST", "/api/catalog/orders/import", None),
                (anonymous, "GET", f"/api/consumer/orders?shop_id={HUGE_ID}", None),
            ]
            failures = []
            for client, method, path, body in attempts:
                response = await client.request(method, path, json=body)
                if response.status_code != 422 or response.json().get("code") != "bad_input":
                    failures.append(
                        f"{method} {path} {body}: {response.status_code} {response.text[:200]}"
                    )
            assert failures == []
        assert (await owner.get("/api/shop/settings")).json() == settings
        assert (await owner.get("/api/agents")).json() == agents
        # Consumers still get the welcome message, on PostgreSQL too.
        consumer = await srv.consumer(shop.shop_id)
        assert consumer.conversation_id  # type: ignore[attr-defined]


async def test_offl_3_bad_offline_and_blacklist_input_is_refused_and_changes_nothing(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        chat = await open_chat(srv)
        cid = chat.conversation_id
        attempts: list[tuple[str, str, Any]] = [
            ("POST", "/api/offline/entries/processed", {"entry_ids": []}),
            ("POST", "/api/offline/entries/processed", {"entry_ids": [HUGE_ID]}),
            ("POST", "/api/offline/entries/processed", {"entry_ids": list(range(1, 102))}),
            ("POST", "/api/offline/entries/start", {"entry_ids": ["1"]}),
            ("POST", "/api/offline/entries/start", {"entry_ids": [1], "all": True}),
            ("GET", "/api/offline/entries?status=everything", None),
            ("GET", "/api/offline/entries?page_size=101", None),
            ("GET", f"/api/offline/entries/{HUGE_ID}/messages", None),
            ("GET", "/api/offline/entries/1/messages?limit=0", None),
            ("POST", f"/api/conversations/{cid}/blacklist", {"reason": "x" * 201}),
            ("POST", f"/api/conversations/{cid}/blacklist", {"reason": "a\x00b"}),
            ("POST", f"/api/conversations/{cid}/blacklist", {"reason": 5}),
            ("POST", f"/api/conversations/{HUGE_ID}/blacklist", {"reason": "x"}),
            ("DELETE", f"/api/blacklist/{HUGE_ID}", None),
            ("PUT", "/api/shop/settings", {"time_zone": "Mars/Olympus"}),
            ("PUT", "/api/shop/settings", {"service_hours": {"mon": [["18:00", "09:00"]]}}),
            ("PUT", "/api/shop/settings", {"service_hours": {"mon": [["09:00"]]}}),
            ("PUT", "/api/shop/settings", {"holidays": ["2026-02-30"]}),
            ("PUT", "/api/shop/settings", {"offline_after_s": 86_401}),
            ("PUT", "/api/shop/settings", {"offline_message": "x" * 501}),
        ]
        settings = (await chat.owner.get("/api/shop/settings")).json()
        failures = []
        for method, path, body in attempts:
            client = chat.owner if "settings" in path or "blacklist/" in path else chat.alice
            response = await client.request(method, path, json=body)
            if response.status_code != 422 or response.json().get("code") != "bad_input":
                failures.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
        assert failures == []
        assert (await chat.owner.get("/api/shop/settings")).json() == settings
        assert (await chat.owner.get("/api/blacklist")).json()["total"] == 0


async def test_rate_2_conv_10_bad_ratings_trees_and_summaries_are_refused_and_store_nothing(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        chat = await open_chat(srv)
        cid = chat.conversation_id
        rate = {"type": "rate", "conversation_id": cid, "stars": 5}
        for frame, field in [
            ({**rate, "stars": 0}, "stars"),
            ({**rate, "stars": 6}, "stars"),
            ({**rate, "stars": 4.5}, "stars"),
            ({k: v for k, v in rate.items() if k != "stars"}, "stars"),
            ({**rate, "card_seq": 0}, "card_seq"),
            ({**rate, "card_seq": HUGE_ID}, "card_seq"),
            ({**rate, "conversation_id": HUGE_ID}, "conversation_id"),
        ]:
            error = await refuse(chat.consumer, frame)
            assert error["code"] == "bad_input", (frame, error)
            assert field in json.dumps(error["params"]), (frame, error)
        tree_before = (await chat.owner.get("/api/summary-categories")).json()
        leaf = tree_before["nodes"][0]["id"]
        node = {"key": "k", "name": "售前"}
        for body in [
            {"nodes": [{**node, "name": ""}]},
            {"nodes": [{**node, "name": "长" * 31}]},
            {"nodes": [{**node, "name": "a\x00b"}]},
            {"nodes": [node, node]},
            {"nodes": [{**node, "parent_key": "nobody"}]},
            {
                "nodes": [
                    {**node, "parent_key": "k2"},
                    {"key": "k2", "parent_key": "k", "name": "x"},
                ]
            },
            {"nodes": [{**node, "id": HUGE_ID}]},
            {"nodes": [{**node, "key": "k" * 41}]},
            {"nodes": [{**node, "key": "", "name": "x"}]},
            {"nodes": [{"key": f"k{i}", "name": "x"} for i in range(501)]},
            {"nodes": "售前"},
        ]:
            response = await chat.owner.put("/api/summary-categories", json=body)
            assert response.status_code == 422, (body, response.text)
            assert response.json()["code"] == "bad_input", (body, response.text)
        assert (await chat.owner.get("/api/summary-categories")).json() == tree_before
        summary = f"/api/conversations/{cid}/summary"
        for body in [
            {"category_id": leaf, "note": "x" * 501},
            {"category_id": leaf, "note": "a\x00b"},
            {"category_id": HUGE_ID},
            {"category_id": 0},
            {"note": "no category"},
        ]:
            response = await chat.alice.put(summary, json=body)
            assert response.status_code == 422, (body, response.text)
            assert response.json()["code"] == "bad_input", (body, response.text)
        assert (await chat.alice.get(summary)).json() == {"summary": None}
        conversation = (await chat.alice.get(f"/api/conversations/{cid}")).json()
        assert (conversation["rating"], conversation["needs_summary"]) == (None, True)
