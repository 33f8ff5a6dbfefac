"""The catalog over the real server: imports and integration tokens over HTTP (API-1, API-2),
the agent's shop-scoped product search, and product and order cards over real WebSockets
(ENTRY-3, MSG-1), with the entry context carried into a reopened conversation (CONV-5)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from support import AgentSpec, Frames, consumer_socket, make_shop, running_server

PRODUCTS = (
    "external_id,title,price,url\n"
    "p1,轻薄羽绒服,399,https://shop.example/p1\n"
    "p2,无线耳机,259,\n"
    "bad,,1,\n"
)


def _orders(*rows: tuple[str, str]) -> bytes:
    return json.dumps(
        [
            {
                "order_no": no,
                "consumer_uid": uid,
                "amount": "518.00",
                "ordered_at": "2026-11-20T10:00:00Z",
                "items": [{"external_id": "p1", "title": "轻薄羽绒服", "quantity": 2}],
            }
            for no, uid in rows
        ]
    ).encode()


async def _post_file(
    client: httpx.AsyncClient, path: str, data: bytes, media: str, **headers: str
) -> httpx.Response:
    return await client.post(path, content=data, headers={"content-type": media, **headers})


async def test_api_1_http_import_reports_bad_rows_and_refuses_oversize(db_url: str) -> None:
    async with running_server(db_url, import_max_bytes=2000) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("alice")], clock=srv.clock)
        owner = await srv.staff(shop.shop_id, "owner")
        answer = await _post_file(
            owner, "/api/catalog/products/import", PRODUCTS.encode(), "text/csv"
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["imported"], body["rejected_count"]) == (2, 1)
        assert body["rejected"][0]["line"] == 4

        big = PRODUCTS.encode() + b"x" * 2000
        refused = await _post_file(owner, "/api/catalog/products/import", big, "text/csv")
        assert refused.status_code == 413 and refused.json()["code"] == "too_large"

        gbk = "external_id,title,price\np3,有机绿茶,128\n".encode("gbk")
        assert (await _post_file(owner, "/api/catalog/products/import", gbk, "text/csv")).json()[
            "imported"
        ] == 1
        alice = await srv.staff(shop.shop_id, "alice")
        refused = await _post_file(alice, "/api/catalog/products/import", gbk, "text/csv")
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
        found = (await alice.get("/api/catalog/products", params={"q": "绿茶"})).json()
        assert [p["external_id"] for p in found["items"]] == ["p3"] and found["total"] == 1


async def test_api_2_token_imports_and_reads_until_revoked(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(
            srv.db, agents=[AgentSpec("alice", role="supervisor")], clock=srv.clock
        )
        owner = await srv.staff(shop.shop_id, "owner")
        created = await owner.post("/api/catalog/tokens", json={"name": "ERP"})
        assert created.status_code == 200, created.text
        token, token_id = created.json()["token"], created.json()["id"]
        listed = (await owner.get("/api/catalog/tokens")).json()["items"]
        assert [t["id"] for t in listed] == [token_id] and "token" not in listed[0]
        alice = await srv.staff(shop.shop_id, "alice")
        assert (await alice.get("/api/catalog/tokens")).json()["code"] == "forbidden"

        bearer = {"authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=srv.base_url) as erp:
            imported = await _post_file(
                erp, "/api/catalog/orders/import", _orders(("D1", "u1")), "application/json",
                **bearer,
            )  # fmt: skip
            assert imported.status_code == 200 and imported.json()["imported"] == 1
            orders = await erp.get(
                "/api/catalog/orders", params={"consumer_uid": "u1"}, headers=bearer
            )
            assert [o["order_no"] for o in orders.json()["items"]] == ["D1"]
            assert orders.json()["items"][0]["item_count"] == 2
            assert (await owner.delete(f"/api/catalog/tokens/{token_id}")).status_code == 200
            after = await erp.get("/api/catalog/products", headers=bearer)
            assert after.status_code == 401 and after.json()["code"] == "auth.required"


async def test_msg_1_product_search_is_shop_scoped(db_url: str) -> None:
    async with running_server(db_url) as srv:
        a = await make_shop(srv.db, name="A", agents=[AgentSpec("alice")], clock=srv.clock)
        b = await make_shop(srv.db, name="B", clock=srv.clock)
        owner_b = await srv.staff(b.shop_id, "owner")
        await _post_file(owner_b, "/api/catalog/products/import", PRODUCTS.encode(), "text/csv")
        owner_a = await srv.staff(a.shop_id, "owner")
        csv = b"external_id,title,price\na1,A's down jacket,1\n"
        await _post_file(owner_a, "/api/catalog/products/import", csv, "text/csv")
        alice = await srv.staff(a.shop_id, "alice")
        everything = (await alice.get("/api/catalog/products")).json()
        assert [p["external_id"] for p in everything["items"]] == ["a1"]
        assert (await alice.get("/api/catalog/products", params={"q": "p1"})).json()["total"] == 0
        page = (
            await owner_b.get("/api/catalog/products", params={"page_size": 1, "page": 2})
        ).json()
        assert page["total"] == 2 and [p["external_id"] for p in page["items"]] == ["p2"]


async def _consumer(srv: Any, shop_id: int, entry: dict[str, Any]) -> tuple[Frames, str, str, int]:
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        session = (await client.post("/api/consumer/session", json={"shop_id": shop_id})).json()
    ws = await consumer_socket(srv.ws_url, shop_id, session["token"])
    srv._sockets.append(ws)
    opened = await ws.request({"type": "open", "entry": entry})
    return ws, session["token"], session["consumer"]["uid"], opened["conversation"]["id"]


async def test_entry_3_cards_round_trip_over_websockets(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("alice")], clock=srv.clock)
        owner = await srv.staff(shop.shop_id, "owner")
        await _post_file(owner, "/api/catalog/products/import", PRODUCTS.encode(), "text/csv")
        alice = await srv.staff(shop.shop_id, "alice")
        alice_ws = await srv.staff_socket(alice)
        entry = {"source": "order", "page_url": "https://shop.example/order/D1"}
        ws, token, uid, cid = await _consumer(srv, shop.shop_id, entry)
        orders = _orders(("D1", uid), ("D9", "somebody-else"))
        await _post_file(owner, "/api/catalog/orders/import", orders, "application/json")

        mine = await owner.get(
            "/api/consumer/orders", params={"shop_id": shop.shop_id},
            headers={"x-consumer-token": token},
        )  # fmt: skip
        assert [o["order_no"] for o in mine.json()["items"]] == ["D1"]

        def send(kind: str, body: str, client_id: str) -> dict[str, Any]:
            return {"type": "send", "conversation_id": cid, "client_id": client_id,
                    "kind": kind, "body": body}  # fmt: skip

        other = await ws.request(send("order_card", "D9", "c0"))
        assert other["type"] == "error" and other["code"] == "not_found"
        link = await ws.request(send("product_link", "p1", "c00"))
        assert link["type"] == "error" and link["code"] == "bad_input"

        ack = await ws.request(send("order_card", "D1", "c1"))
        assert ack["type"] == "ack", ack
        # A card is a consultation: with the bot off, it asks for a human and alice gets it.
        got = await alice_ws.wait_for(
            lambda f: f["type"] == "message" and f["message"]["client_id"] == "c1"
        )
        assert got["message"]["kind"] == "order_card"
        card = json.loads(got["message"]["body"])
        assert (card["order_no"], card["item_count"], card["amount"]) == ("D1", 2, "518.00")
        assert card["ordered_at"].startswith("2026-11-20T10:00:00")
        await alice_ws.wait_for(
            lambda f: f["type"] == "conversation" and f["conversation"]["agent_id"] is not None
        )

        reply = await alice_ws.request(
            {"type": "send", "conversation_id": cid, "client_id": "a1", "kind": "product_link",
             "body": "p1"}
        )  # fmt: skip
        assert reply["type"] == "ack", reply
        seen = await ws.wait_for(
            lambda f: f["type"] == "message" and f["message"]["seq"] == reply["seq"]
        )
        product = json.loads(seen["message"]["body"])
        assert seen["message"]["kind"] == "product_link"
        assert (product["title"], product["price"], product["url"]) == (
            "轻薄羽绒服", "399.00", "https://shop.example/p1",
        )  # fmt: skip
        over_http = await alice.post(
            f"/api/conversations/{cid}/messages",
            json={"client_id": "a3", "kind": "product_link", "body": "p2"},
        )
        assert over_http.status_code == 200, over_http.text
        seen = await ws.wait_for(
            lambda f: f["type"] == "message" and f["message"]["client_id"] == "a3"
        )
        assert json.loads(seen["message"]["body"])["title"] == "无线耳机"
        missing = await alice_ws.request(
            {"type": "send", "conversation_id": cid, "client_id": "a2", "kind": "product_link",
             "body": "nope"}
        )  # fmt: skip
        assert missing["code"] == "not_found"

        # CONV-5: after the end, the next card opens a conversation with the same entry.
        assert (await alice.post(f"/api/conversations/{cid}/end")).status_code == 200
        again = await ws.request(send("product_card", "p2", "c2"))
        assert again["type"] == "ack" and again["conversation_id"] != cid
        reopened = await ws.wait_for(
            lambda f: (
                f["type"] == "conversation" and f["conversation"]["id"] == again["conversation_id"]
            )
        )
        assert reopened["conversation"]["entry"]["page_url"] == entry["page_url"]
        assert reopened["conversation"]["entry"]["source"] == "order"


async def test_conv_5_a_reopened_conversation_keeps_the_entry_context(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("alice")], clock=srv.clock)
        alice = await srv.staff(shop.shop_id, "alice")
        entry = {
            "source": "product",
            "product": {"id": "p1", "title": "Tea", "price": "9.90", "url": "", "image": ""},
            "page_url": "https://shop.example/p/1",
        }
        ws, _, _, cid = await _consumer(srv, shop.shop_id, entry)
        assert (await ws.request({"type": "request_human"}))["type"] == "conversation"
        assert (await alice.post(f"/api/conversations/{cid}/end")).status_code == 200
        text = {"type": "send", "conversation_id": cid, "client_id": "t1", "body": "还在吗"}
        again = await ws.request(text)
        assert again["type"] == "ack" and again["conversation_id"] != cid
        reopened = (await alice.get(f"/api/conversations/{again['conversation_id']}")).json()
        kept = {k: reopened["entry"][k] for k in ("source", "product", "page_url")}
        assert kept == entry
        assert "ip" in reopened["entry"]
