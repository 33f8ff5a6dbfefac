"""DESK-5 and CONV-6 over the wire: a proactive conversation reaches the consumer's widget live
and on the next visit; bad panel input and bad page views are refused and store nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select

from kefu.storage import tables as t
from support import AgentSpec, Server, consumer_socket, consumer_token, make_shop, running_server

HUGE_ID = 2**64


async def _order_for(srv: Server, shop_id: int, consumer_id: int, order_no: str) -> None:
    async with srv.db.uow() as tx:
        await tx.conn.execute(
            insert(t.orders).values(
                shop_id=shop_id,
                consumer_id=consumer_id,
                order_no=order_no,
                item_count=1,
                amount="9.90",
                title="Tea",
                ordered_at=srv.clock.now(),
            )
        )
        await tx.commit()


async def test_conv_6_a_proactive_conversation_reaches_the_consumer_live_and_later(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("alice")], clock=srv.clock)
        alice = await srv.staff(shop.shop_id, "alice")
        token = await consumer_token(srv.base_url, shop.shop_id)
        widget = await consumer_socket(srv.ws_url, shop.shop_id, token)
        ready = widget.of_type("ready")[0]
        assert ready["conversation"] is None
        consumer_id = ready["consumer"]["id"]
        await _order_for(srv, shop.shop_id, consumer_id, "SO-77")

        found = await alice.get("/api/customers/search", params={"q": "SO-77"})
        assert [c["id"] for c in found.json()["items"]] == [consumer_id]
        started = await alice.post(f"/api/customers/{consumer_id}/conversations")
        assert started.status_code == 200, started.text
        conversation_id = started.json()["id"]

        pushed = await widget.wait_for(
            lambda f: f["type"] == "conversation" and f["conversation"]["id"] == conversation_id
        )
        assert pushed["conversation"]["agent_id"] == shop.accounts["alice"]
        notice = pushed["conversation"]["last_message"]["notice"]
        assert notice == {"code": "conversation.proactive_started", "params": {"agent": "Alice"}}
        await widget.close()

        later = await consumer_socket(srv.ws_url, shop.shop_id, token)
        assert later.of_type("ready")[0]["conversation"]["id"] == conversation_id
        await later.close()


async def test_desk_5_bad_panel_input_and_page_views_are_refused_and_store_nothing(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("alice")], clock=srv.clock)
        owner = await srv.staff(shop.shop_id, "owner")
        visitor = await srv.consumer(shop.shop_id)
        cid = visitor.conversation_id  # type: ignore[attr-defined]
        panel = (await owner.get(f"/api/conversations/{cid}/panel")).json()
        consumer = f"/api/customers/{panel['consumer']['id']}"
        good = {"notes": "", "tags": [], "phone": ""}
        attempts: list[tuple[str, str, Any]] = [
            ("PUT", consumer + "/profile", {**good, "notes": "长" * 501}),
            ("PUT", consumer + "/profile", {**good, "tags": "VIP"}),
            ("PUT", consumer + "/profile", {**good, "tags": [f"t{i}" for i in range(11)]}),
            ("PUT", consumer + "/profile", {**good, "tags": ["x" * 21]}),
            ("PUT", consumer + "/profile", {**good, "phone": "abc"}),
            ("PUT", consumer + "/profile", {**good, "phone": 13800138000}),
            ("PUT", consumer + "/profile", {**good, "notes": "a\x00b"}),
            ("PUT", consumer + "/profile", {**good, "vip": True}),
            ("PUT", f"/api/customers/{HUGE_ID}/profile", good),
            ("GET", f"/api/customers/{HUGE_ID}/orders", None),
            ("GET", consumer + "/orders?page_size=101", None),
            ("GET", consumer + "/orders?page=0", None),
            ("GET", f"{consumer}/conversations/{HUGE_ID}", None),
            ("GET", f"/api/conversations/{HUGE_ID}/panel", None),
            ("POST", f"/api/customers/{HUGE_ID}/conversations", None),
            ("GET", "/api/customers/search", None),
            ("GET", "/api/customers/search?q=", None),
            ("GET", "/api/customers/search?q=%20", None),
            ("GET", "/api/customers/search?q=" + "x" * 65, None),
            ("GET", "/api/customers/search?q=a%00b", None),
        ]
        failures = []
        for method, path, body in attempts:
            response = await owner.request(method, path, json=body)
            if response.status_code != 422 or response.json().get("code") != "bad_input":
                failures.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
        assert failures == []
        after = (await owner.get(f"/api/conversations/{cid}/panel")).json()
        assert after["profile"] == panel["profile"]

        view = {"type": "page_view", "conversation_id": cid, "url": "https://shop.example/a"}
        bad_views = [
            {**view, "url": "javascript:alert(1)"},
            {**view, "url": "//evil.example/"},
            {**view, "url": ""},
            {**view, "url": "https://shop.example/" + "a" * 500},
            {**view, "title": "t" * 201},
            {**view, "at": "2026-12-01T00:00:00"},
            {**view, "at": "yesterday"},
            {k: v for k, v in view.items() if k != "url"},
        ]
        for frame in bad_views:
            answer = await visitor.request(frame)
            assert (answer["type"], answer.get("code")) == ("error", "bad_input"), frame
        async with srv.db.read() as tx:
            assert (await tx.conn.execute(select(t.page_views))).all() == []
        earlier = (srv.clock.now() - timedelta(seconds=40)).isoformat()
        first = await visitor.request({**view, "title": "<b>A</b>", "at": earlier})
        assert first["recorded"] is True
        recorded = await visitor.request({**view, "title": "<b>A</b>"})
        assert recorded == {
            "type": "page_view_recorded",
            "ref": recorded["ref"],
            "conversation_id": cid,
            "recorded": True,
        }
        trail = (await owner.get(f"/api/conversations/{cid}/panel")).json()["trail"]
        assert [(p["title"], p["seconds_on_page"]) for p in trail["pages"]] == [
            ("<b>A</b>", 40),
            ("<b>A</b>", None),
        ]
