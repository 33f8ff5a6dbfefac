"""The bot in conversations, through a real server and real sockets: answers with feedback
(BOT-3), misses and the automatic hand-over (BOT-4), the switch and mode (BOT-1), hit counts
and statistics from event rows (BOT-2, BOT-6), FAQ clicks (ENTRY-2) and the knowledge base's
limits (nothing changes on a refusal)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from kefu.domain.shop import ShopSettings
from kefu.storage import tables as t
from support import (
    PASSWORD,
    AgentSpec,
    Server,
    ShopIds,
    bot_answer,
    make_shop,
    running_server,
)

BOT_ON = ShopSettings(bot_enabled=True, bot_mode="bot_first")
KB = [
    ("多久发货", "付款后48小时内发货。", ["什么时候发货", "下单后几天发货"]),
    ("怎么退货", "七天无理由退货，在订单页申请即可。", ["退货流程是什么"]),
    ("可以开发票吗", "可以，下单时填写发票抬头。", ["怎么开发票"]),
]


async def _bot_shop(
    srv: Server, settings: ShopSettings = BOT_ON
) -> tuple[ShopIds, httpx.AsyncClient]:
    shop = await make_shop(srv.db, agents=[AgentSpec("alice")], settings=settings, clock=srv.clock)
    owner = await srv.staff(shop.shop_id, "owner")
    return shop, owner


async def _add_kb(owner: httpx.AsyncClient) -> list[int]:
    ids = []
    for question, answer, phrasings in KB:
        made = await owner.post(
            "/api/kb/questions",
            json={"question": question, "answer": answer, "phrasings": phrasings},
        )
        assert made.status_code == 200, made.text
        ids.append(made.json()["id"])
    return ids


async def _take_over(srv: Server, shop_id: int) -> httpx.AsyncClient:
    """The owner logs in on another process, taking over the earlier session (ACCT-4)."""
    client = httpx.AsyncClient(base_url=srv.base_url)
    srv._clients.append(client)
    login = {"shop_id": shop_id, "username": "owner", "password": PASSWORD, "take_over": True}
    assert (await client.post("/api/auth/login", json=login)).status_code == 200
    return client


async def _state(srv: Server, conversation_id: int) -> tuple[str, list[tuple[str, str | None]]]:
    async with srv.db.read() as tx:
        state = await tx.conn.scalar(
            select(t.conversations.c.state).where(t.conversations.c.id == conversation_id)
        )
        e = t.conversation_events.c
        rows = await tx.conn.execute(
            select(e.kind, e.cause).where(e.conversation_id == conversation_id).order_by(e.id)
        )
        return str(state), [(r.kind, r.cause) for r in rows]


async def test_bot_3_recognised_question_is_answered_and_feedback_is_counted(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop, owner = await _bot_shop(srv)
        ids = await _add_kb(owner)
        await owner.put(
            f"/api/kb/questions/{ids[0]}",
            json={
                "question": KB[0][0],
                "answer": KB[0][1],
                "phrasings": KB[0][2],
                "related_ids": [ids[1]],
            },
        )
        consumer = await srv.consumer(shop.shop_id)
        cid = consumer.conversation_id  # type: ignore[attr-defined]

        answer = (await bot_answer(consumer, "请问什么时候发货呀", "c1"))["message"]
        assert answer["body"] == "付款后48小时内发货。"
        assert answer["meta"] == {
            "question_id": ids[0],
            "related": [{"question_id": ids[1], "question": "怎么退货"}],
            "feedback": "pending",
        }
        done = await consumer.request(
            {"type": "feedback", "conversation_id": cid, "seq": answer["seq"], "resolved": True}
        )
        assert done == {
            "type": "feedback_recorded",
            "ref": done["ref"],
            "conversation_id": cid,
            "seq": answer["seq"],
            "resolved": True,
        }
        again = await consumer.request(
            {"type": "feedback", "conversation_id": cid, "seq": answer["seq"], "resolved": False}
        )
        assert (again["type"], again["code"]) == ("error", "conflict")
        # Feedback on a message that is not a bot answer is not_found.
        wrong = await consumer.request(
            {"type": "feedback", "conversation_id": cid, "seq": 1, "resolved": True}
        )
        assert (wrong["type"], wrong["code"]) == ("error", "not_found")

        question = (await owner.get(f"/api/kb/questions/{ids[0]}")).json()
        assert (
            question["hit_count"],
            question["resolved_count"],
            question["unresolved_count"],
        ) == (1, 1, 0)
        history = (await owner.get("/api/kb/questions")).json()
        assert history["total"] == 3
        state, _ = await _state(srv, cid)
        assert state == "bot"
        # The history shows the feedback given.
        synced = await consumer.request({"type": "sync", "conversation_id": cid, "since_seq": 0})
        bot = [m for m in synced["items"] if m["sender"] == "bot"]
        assert [m["meta"]["feedback"] for m in bot] == ["resolved"]


async def test_bot_4_two_misses_hand_over_to_the_queue(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop, owner = await _bot_shop(srv)
        await _add_kb(owner)
        consumer = await srv.consumer(shop.shop_id)
        cid = consumer.conversation_id  # type: ignore[attr-defined]

        first = (await bot_answer(consumer, "你们家的猫叫什么名字", "m1"))["message"]
        assert first["notice"] == {"code": "bot.no_answer", "params": {}}
        assert first["meta"] == {"miss": True, "notice": first["notice"]}
        state, _ = await _state(srv, cid)
        assert state == "bot"
        await bot_answer(consumer, "天空为什么是蓝色的", "m2")
        await consumer.wait_for(
            lambda f: f["type"] == "conversation" and f["conversation"]["state"] == "assigned"
        )
        state, events = await _state(srv, cid)
        assert state == "assigned"
        assert ("human_requested", "bot_handover") in events
        assert [k for k, _ in events].count("bot_miss") == 2
        assert [k for k, _ in events].count("bot_handover") == 1


async def test_bot_4_an_answer_between_misses_resets_the_count(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop, owner = await _bot_shop(srv)
        await _add_kb(owner)
        consumer = await srv.consumer(shop.shop_id)
        cid = consumer.conversation_id  # type: ignore[attr-defined]
        await bot_answer(consumer, "你们家的猫叫什么名字", "m1")
        await bot_answer(consumer, "多久发货", "m2")
        await bot_answer(consumer, "天空为什么是蓝色的", "m3")
        state, _ = await _state(srv, cid)
        assert state == "bot"


async def test_bot_4_transfer_to_human_from_the_first_message(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop, owner = await _bot_shop(srv)
        await _add_kb(owner)
        consumer = await srv.consumer(shop.shop_id)
        cid = consumer.conversation_id  # type: ignore[attr-defined]
        ack = await consumer.request(
            {"type": "send", "conversation_id": cid, "client_id": "h1", "body": "转人工"}
        )
        assert ack["type"] == "ack"
        state, events = await _state(srv, cid)
        assert state == "assigned"
        assert ("human_requested", "consumer") in events
        assert not [f for f in consumer.of_type("message") if f["message"]["sender"] == "bot"]

        # The request_human frame works at any moment too.
        other = await srv.consumer(shop.shop_id)
        answer = await other.request({"type": "request_human"})
        assert answer["conversation"]["state"] in ("assigned", "queued")


async def test_bot_1_bot_off_or_human_first_goes_straight_to_routing(db_url: str) -> None:
    for settings in (ShopSettings(), ShopSettings(bot_enabled=True, bot_mode="human_first")):
        async with running_server(db_url) as srv:
            shop, owner = await _bot_shop(srv, settings)
            await _add_kb(owner)
            consumer = await srv.consumer(shop.shop_id)
            cid = consumer.conversation_id  # type: ignore[attr-defined]
            await consumer.request(
                {"type": "send", "conversation_id": cid, "client_id": "d1", "body": "多久发货"}
            )
            state, events = await _state(srv, cid)
            assert state == "assigned", settings
            assert ("human_requested", "direct") in events
            assert not [k for k, _ in events if k.startswith("bot_")]


async def test_bot_6_hit_counts_and_both_resolution_rates_match_hand_computed_values(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        shop, owner = await _bot_shop(srv)
        ids = await _add_kb(owner)
        entry = await owner.put(
            "/api/shop/entry",
            json={
                "welcome_message": "欢迎光临",
                "faq_menu": [
                    {"title": "售后", "children": [{"title": "怎么退货", "question_id": ids[1]}]}
                ],
                "bot_cards": [{"title": "开发票", "question_id": ids[2]}],
                "consumer_phrases": ["多久发货"],
            },
        )
        assert entry.status_code == 200, entry.text
        child_id = entry.json()["faq_menu"][0]["children"][0]["id"]
        card_id = entry.json()["bot_cards"][0]["id"]

        # Consumer 1: two answers (resolved, unresolved), then asks for a human.
        c1 = await srv.consumer(shop.shop_id)
        cid1 = c1.conversation_id  # type: ignore[attr-defined]
        a1 = (await bot_answer(c1, "什么时候发货", "a"))["message"]
        a2 = (await bot_answer(c1, "退货流程是什么", "b"))["message"]
        for seq, resolved in ((a1["seq"], True), (a2["seq"], False)):
            await c1.request(
                {"type": "feedback", "conversation_id": cid1, "seq": seq, "resolved": resolved}
            )
        await c1.request({"type": "request_human"})
        # Consumer 2: a FAQ click (answered), one miss, one answer with feedback resolved.
        c2 = await srv.consumer(shop.shop_id)
        cid2 = c2.conversation_id  # type: ignore[attr-defined]
        click = await c2.request(
            {"type": "faq_click", "conversation_id": cid2, "item_id": child_id}
        )
        assert click["type"] == "faq_click_recorded" and click["seq"] is not None
        faq_answer = await c2.wait_for(
            lambda f: f["type"] == "message" and f["message"]["seq"] == click["seq"]
        )
        assert faq_answer["message"]["body"] == KB[1][1]
        await bot_answer(c2, "你们家的猫叫什么名字", "x")
        a3 = (await bot_answer(c2, "可以开发票吗", "y"))["message"]
        await c2.request(
            {"type": "feedback", "conversation_id": cid2, "seq": a3["seq"], "resolved": True}
        )
        await c2.request({"type": "faq_click", "conversation_id": cid2, "item_id": card_id})
        # Consumer 3 asks for a human without ever consulting the bot: no consultation.
        c3 = await srv.consumer(shop.shop_id)
        await c3.request({"type": "request_human"})

        stats = (
            await owner.get("/api/bot/stats", params={"start": "2026-01-05", "end": "2026-01-05"})
        ).json()
        # Answers: a1, a2, FAQ answer, a3, card answer = 5; misses 1; feedback 2 resolved, 1 not.
        assert stats["consultations"] == 2
        assert stats["transfers_to_human"] == 1
        assert stats["transfer_rate"] == 0.5
        assert (stats["answers"], stats["misses"]) == (5, 1)
        assert (stats["resolved"], stats["unresolved"]) == (2, 1)
        assert stats["resolution_rate"] == 2 / 5
        assert stats["feedback_resolution_rate"] == 2 / 3
        clicks = {i["id"]: i["clicks"] for i in stats["faq_clicks"]}
        assert clicks[child_id] == 1 and clicks[card_id] == 1
        assert stats["by_day"] == [
            {"date": "2026-01-05", "consultations": 2, "transfers_to_human": 1}
        ]
        hits = {
            q["id"]: q["hit_count"] for q in (await owner.get("/api/kb/questions")).json()["items"]
        }
        assert hits == {ids[0]: 1, ids[1]: 2, ids[2]: 2}
        # Statistics are from event rows: a fresh process computes the same.
        async with running_server(db_url, create_schema=False, clock=srv.clock) as again:
            owner2 = await _take_over(again, shop.shop_id)
            same = await owner2.get(
                "/api/bot/stats", params={"start": "2026-01-05", "end": "2026-01-05"}
            )
            assert same.json() == stats
        # The range is bounded.
        owner = await _take_over(srv, shop.shop_id)
        wide = await owner.get(
            "/api/bot/stats", params={"start": "2026-01-01", "end": "2026-03-01"}
        )
        assert wide.status_code == 422 and wide.json()["params"]["max_days"] == 31


async def _kb_snapshot(owner: httpx.AsyncClient) -> Any:
    return {
        "questions": (await owner.get("/api/kb/questions")).json(),
        "categories": (await owner.get("/api/kb/categories")).json(),
        "entry": (await owner.get("/api/shop/entry")).json(),
        "synonyms": (await owner.get("/api/kb/synonyms")).json(),
        "phrases": (await owner.get("/api/quick-phrases")).json(),
    }


async def test_bot_2_limits_and_bad_input_each_change_nothing(db_url: str) -> None:
    async with running_server(db_url) as srv:
        _, owner = await _bot_shop(srv)
        ids = await _add_kb(owner)
        for i in range(10):
            made = await owner.post("/api/quick-phrases", json={"scope": "shop", "body": f"p{i}"})
            assert made.status_code == 200
        before = await _kb_snapshot(owner)
        child = {"title": "t", "question_id": ids[0]}
        attempts: list[tuple[str, str, Any, dict[str, Any]]] = [
            ("POST", "/api/kb/questions", {"question": "问" * 100_000, "answer": "a"}, {}),
            (
                "POST",
                "/api/kb/questions",
                {"question": "问题", "answer": "  "},
                {"field": "answer"},
            ),
            ("POST", "/api/kb/questions", {"question": "问\x00题", "answer": "a"}, {}),
            (
                "PUT",
                f"/api/kb/questions/{ids[0]}",
                {"question": "多久发货", "answer": ""},
                {"field": "answer"},
            ),
            (
                "POST",
                "/api/kb/questions",
                {"question": "q", "answer": "a", "phrasings": ["p"] * 51},
                {"field": "phrasings", "max_items": 50},
            ),
            (
                "PUT",
                "/api/shop/entry",
                {
                    "welcome_message": "hi",
                    "faq_menu": [{"title": f"t{i}", "children": [child]} for i in range(4)],
                    "bot_cards": [],
                    "consumer_phrases": [],
                },
                {"field": "faq_menu", "max_items": 3},
            ),
            (
                "PUT",
                "/api/shop/entry",
                {
                    "welcome_message": "hi",
                    "faq_menu": [],
                    "bot_cards": [],
                    "consumer_phrases": [f"p{i}" for i in range(11)],
                },
                {"field": "consumer_phrases", "max_items": 10},
            ),
            (
                "PUT",
                "/api/shop/entry",
                {
                    "welcome_message": "hi",
                    "faq_menu": [],
                    "bot_cards": [child] * 5,
                    "consumer_phrases": [],
                },
                {"field": "bot_cards", "max_items": 4},
            ),
            (
                "PUT",
                "/api/kb/synonyms",
                {"groups": [["快递"]], "user_words": []},
                {"field": "groups"},
            ),
            ("POST", "/api/kb/categories", {"name": "x" * 51}, {"field": "name", "max_chars": 50}),
            ("POST", "/api/quick-phrases", {"scope": "shop", "body": ""}, {"field": "body"}),
            (
                "POST",
                "/api/quick-phrases",
                {"scope": "shop", "body": "x" * 501},
                {"max_chars": 500},
            ),
        ]
        for method, path, body, params in attempts:
            response = await owner.request(method, path, json=body)
            assert response.status_code == 422, (path, response.text)
            assert response.json()["code"] == "bad_input"
            for key, value in params.items():
                assert response.json()["params"][key] == value, (path, response.json())
        # A 30 MB import is refused before it is read.
        big = b"question,answer\n" + b"x" * (30 * 1024 * 1024)
        response = await owner.post("/api/kb/import", files={"file": ("kb.csv", big, "text/csv")})
        assert response.status_code == 422
        assert response.json()["params"]["max_bytes"] == 10 * 1024 * 1024
        assert await _kb_snapshot(owner) == before


async def test_bot_2_kb_import_export_round_trip_with_rejected_lines(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop, owner = await _bot_shop(srv)
        csv_file = (
            "category,question,answer,phrasings,related\n"
            "物流,多久发货,付款后48小时内发货。,什么时候发货|几天发货,怎么退货\n"
            "售后,怎么退货,七天无理由退货。,退货流程是什么,\n"
            ",没有答案的问题,,,\n"
            "售后,怎么退货,重复的一行,,\n"
            f"售后,{'长' * 201},答案,,\n"
            '售后,"多行的\n问题",答案,,\n'
        ).encode()
        result = await owner.post(
            "/api/kb/import", files={"file": ("kb.csv", csv_file, "text/csv")}
        )
        assert result.status_code == 200, result.text
        assert result.json() == {
            "imported": 3,
            "updated": 0,
            "rejected": [
                {"line": 4, "reason": "answer.empty"},
                {"line": 5, "reason": "duplicate"},
                {"line": 6, "reason": "question.too_long"},
            ],
        }
        for fmt in ("csv", "json"):
            exported = await owner.get("/api/kb/export", params={"format": fmt})
            assert exported.status_code == 200
            assert "attachment" in exported.headers["content-disposition"]
            _, other_owner = await _bot_shop(srv)
            back = await other_owner.post(
                "/api/kb/import", files={"file": (f"kb.{fmt}", exported.content, "text/plain")}
            )
            assert back.json() == {"imported": 3, "updated": 0, "rejected": []}, fmt
            again = await other_owner.get("/api/kb/export", params={"format": fmt})
            assert again.content == exported.content, fmt
            # A second import of the same file updates instead of duplicating.
            twice = await other_owner.post(
                "/api/kb/import", files={"file": (f"kb.{fmt}", exported.content, "text/plain")}
            )
            assert twice.json() == {"imported": 0, "updated": 3, "rejected": []}
        items = (await owner.get("/api/kb/questions")).json()["items"]
        by_text = {q["question"]: q for q in items}
        assert by_text["多久发货"]["related_ids"] == [by_text["怎么退货"]["id"]]
        assert by_text["多久发货"]["phrasings"] == ["什么时候发货", "几天发货"]
        cats = (await owner.get("/api/kb/categories")).json()["items"]
        assert {c["name"]: c["question_count"] for c in cats} == {"物流": 1, "售后": 2}
        # The imported base answers at once (the matcher follows the version).
        consumer = await srv.consumer(shop.shop_id)
        answer = (await bot_answer(consumer, "几天发货", "i1"))["message"]
        assert answer["body"] == "付款后48小时内发货。"
        tried = (await owner.post("/api/kb/try", json={"text": "几天发货"})).json()
        assert tried["answered"] and tried["candidates"][0]["question"] == "多久发货"


async def test_bot_2_edits_reach_the_matcher_and_another_process(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop, owner = await _bot_shop(srv)
        ids = await _add_kb(owner)
        consumer = await srv.consumer(shop.shop_id)
        answer = (await bot_answer(consumer, "多久发货", "e1"))["message"]
        assert answer["meta"]["question_id"] == ids[0]
        async with running_server(db_url, create_schema=False, clock=srv.clock) as other:
            other_owner = await _take_over(other, shop.shop_id)
            # Another process edits the base: this one reloads on its next answer.
            changed = await other_owner.put(
                f"/api/kb/questions/{ids[0]}",
                json={"question": "多久发货", "answer": "今天就发。", "phrasings": []},
            )
            assert changed.status_code == 200
            deleted = await other_owner.delete(f"/api/kb/questions/{ids[2]}")
            assert deleted.status_code == 200
        assert (await bot_answer(consumer, "多久发货", "e2"))["message"]["body"] == "今天就发。"
        owner = await _take_over(srv, shop.shop_id)
        tried = (await owner.post("/api/kb/try", json={"text": "可以开发票吗"})).json()
        assert ids[2] not in [c["question_id"] for c in tried["candidates"]]


async def test_set_2_greetings_group_wins_over_agent(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(
            srv.db,
            groups=2,
            agents=[AgentSpec("alice"), AgentSpec("bob", group=1, status="offline")],
            clock=srv.clock,
        )
        owner = await srv.staff(shop.shop_id, "owner")
        alice_id, bob_id = shop.accounts["alice"], shop.accounts["bob"]
        saved = await owner.put(
            "/api/greetings",
            json={
                "groups": [{"group_id": shop.group_ids[0], "welcome": "组欢迎", "closing": None}],
                "agents": [
                    {"agent_id": alice_id, "welcome": "个人欢迎", "closing": "个人再见"},
                    {"agent_id": bob_id, "welcome": "鲍勃欢迎", "closing": None},
                ],
            },
        )
        assert saved.status_code == 200, saved.text
        assert saved.json()["groups"] == [
            {"group_id": shop.group_ids[0], "welcome": "组欢迎", "closing": None}
        ]
        consumer = await srv.consumer(shop.shop_id)
        cid = consumer.conversation_id  # type: ignore[attr-defined]
        await consumer.request({"type": "request_human"})
        alice = await srv.staff(shop.shop_id, "alice")
        ended = await alice.post(f"/api/conversations/{cid}/end")
        assert ended.status_code == 200
        items = (await alice.get(f"/api/conversations/{cid}/messages")).json()["items"]
        system = [
            m["notice"]["code"] if m["notice"] else m["body"]
            for m in items
            if m["sender"] == "system"
        ]
        # The group's welcome wins; the group has no closing, so alice's own is used.
        assert "组欢迎" in system and "个人欢迎" not in system
        assert system[-2:] == ["个人再见", "conversation.ended"]
        refused = await alice.put("/api/greetings", json={"groups": [], "agents": []})
        assert refused.status_code == 403
        assert (await owner.get("/api/greetings")).json() == saved.json()


async def test_msg_4_quick_phrases_personal_and_shop_scope(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(
            srv.db, agents=[AgentSpec("alice"), AgentSpec("bob")], clock=srv.clock
        )
        owner = await srv.staff(shop.shop_id, "owner")
        alice = await srv.staff(shop.shop_id, "alice")
        bob = await srv.staff(shop.shop_id, "bob")
        shop_phrase = await owner.post(
            "/api/quick-phrases", json={"scope": "shop", "title": "问候", "body": "您好，在的"}
        )
        assert shop_phrase.status_code == 200
        mine = await alice.post("/api/quick-phrases", json={"title": "发货", "body": "今天发货"})
        assert mine.json()["scope"] == "personal"
        refused = await alice.post("/api/quick-phrases", json={"scope": "shop", "body": "x"})
        assert refused.status_code == 403
        # Alice sees hers and the shop's; bob sees only the shop's.
        assert [p["body"] for p in (await alice.get("/api/quick-phrases")).json()["items"]] == [
            "今天发货",
            "您好，在的",
        ]
        assert [p["body"] for p in (await bob.get("/api/quick-phrases")).json()["items"]] == [
            "您好，在的"
        ]
        assert [
            p["body"]
            for p in (await alice.get("/api/quick-phrases", params={"q": "发"})).json()["items"]
        ] == ["今天发货"]
        # Bob cannot touch alice's phrase (not_found) nor the shop's (forbidden).
        pid, sid = mine.json()["id"], shop_phrase.json()["id"]
        assert (await bob.put(f"/api/quick-phrases/{pid}", json={"body": "x"})).status_code == 404
        assert (await bob.delete(f"/api/quick-phrases/{sid}")).status_code == 403
        assert (await alice.put(f"/api/quick-phrases/{pid}", json={"body": "明天发货"})).json()[
            "body"
        ] == "明天发货"
        assert (
            await owner.put(f"/api/quick-phrases/{sid}", json={"body": "您好"})
        ).status_code == 200
        # Bulk import: lines with problems are reported by number.
        data = "title,body\n问候,您好\n,\n长,{}\n感谢,谢谢惠顾\n".format("x" * 501).encode()
        imported = await alice.post(
            "/api/quick-phrases/import",
            files={"file": ("p.csv", data, "text/csv")},
            data={"scope": "personal"},
        )
        assert imported.json() == {
            "imported": 2,
            "rejected": [{"line": 4, "reason": "body.too_long"}],
        }
        refused_import = await alice.post(
            "/api/quick-phrases/import",
            files={"file": ("p.csv", data, "text/csv")},
            data={"scope": "shop"},
        )
        assert refused_import.status_code == 403
        async with srv.db.read() as tx:
            count = await tx.conn.scalar(select(func.count()).select_from(t.quick_phrases))
        assert count == 4


async def test_entry_2_public_entry_for_the_widget(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop, owner = await _bot_shop(srv)
        ids = await _add_kb(owner)
        body = {
            "welcome_message": "欢迎！",
            "faq_menu": [
                {"title": "物流", "children": [{"title": "多久发货", "question_id": ids[0]}]}
            ],
            "bot_cards": [{"title": "退货", "question_id": ids[1]}],
            "consumer_phrases": ["在吗"],
        }
        saved = (await owner.put("/api/shop/entry", json=body)).json()
        top = saved["faq_menu"][0]
        # Ids sent back are kept; new items get new ones.
        body["faq_menu"][0]["id"] = top["id"]  # type: ignore[index]
        body["faq_menu"].append({"title": "售后", "children": []})  # type: ignore[attr-defined]
        again = (await owner.put("/api/shop/entry", json=body)).json()
        assert again["faq_menu"][0]["id"] == top["id"]
        assert again["faq_menu"][1]["id"] not in (top["id"], top["children"][0]["id"])
        async with httpx.AsyncClient(base_url=srv.base_url) as anonymous:
            public = (await anonymous.get(f"/api/public/shops/{shop.shop_id}/entry")).json()
        assert public == {**again, "bot_enabled": True, "bot_first": True}
        (await owner.put("/api/shop/settings", json={"bot_mode": "human_first"})).raise_for_status()
        async with httpx.AsyncClient(base_url=srv.base_url) as anonymous:
            public = (await anonymous.get(f"/api/public/shops/{shop.shop_id}/entry")).json()
        assert (public["bot_enabled"], public["bot_first"]) == (True, False)
        # The welcome message is the one new conversations start with.
        consumer = await srv.consumer(shop.shop_id)
        first = await consumer.wait_for(lambda f: f["type"] == "conversation")
        assert first["conversation"]["last_message"]["body"] == "欢迎！"


async def test_bot_5_a_near_miss_offers_did_you_mean(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop, owner = await _bot_shop(srv)
        ids = await _add_kb(owner)
        consumer = await srv.consumer(shop.shop_id)
        # A near miss keeps the confidence under the threshold: the bot does not answer, but it
        # offers the question it was close to, and the consumer can click it.
        near = (await bot_answer(consumer, "下单后多久发火", "m1"))["message"]
        assert near["meta"] == {
            "miss": True,
            "related": [{"question_id": ids[0], "question": "多久发货"}],
            "notice": near["notice"],
        }
        assert near["notice"] == {"code": "bot.suggestions", "params": {}}
        far = (await bot_answer(consumer, "你们家的猫叫什么名字", "m2"))["message"]
        assert far["meta"] == {
            "miss": True,
            "notice": far["notice"],
        }  # nothing close: no suggestions
        assert far["notice"] == {"code": "bot.no_answer", "params": {}}
