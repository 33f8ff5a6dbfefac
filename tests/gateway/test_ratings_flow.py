"""RATE-1, RATE-2, CONV-7, CONV-10, DESK-2, DESK-4: ratings and consultation summaries over the
real server: the consumer's `rate` frame, the agent's invitation and the forced card, the best
rating in the conversation's view, the classification tree and the needs-summary flag."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from support import AgentSpec, Frames, Server, make_shop, running_server


@dataclass
class Chat:
    shop_id: int
    accounts: dict[str, int]
    cid: int
    consumer: Frames
    alice: httpx.AsyncClient
    owner: httpx.AsyncClient
    others: dict[str, httpx.AsyncClient]


async def _chat(srv: Server, *agents: str) -> Chat:
    shop = await make_shop(
        srv.db, agents=[AgentSpec(name) for name in ("alice", *agents)], clock=srv.clock
    )
    alice = await srv.staff(shop.shop_id, "alice")
    await srv.staff_socket(alice)
    others = {}
    for name in agents:  # online but busy until alice holds the conversation
        other = await srv.staff(shop.shop_id, name)
        await srv.staff_socket(other)
        await other.put("/api/me/status", json={"status": "busy"})
        others[name] = other
    consumer = await srv.consumer(shop.shop_id)
    answer = await consumer.request({"type": "request_human"})
    assert answer["conversation"]["agent_id"] == shop.accounts["alice"], answer
    owner = await srv.staff(shop.shop_id, "owner")
    cid = answer["conversation"]["id"]
    return Chat(shop.shop_id, shop.accounts, cid, consumer, alice, owner, others)


async def _rate(chat: Chat, stars: int, card_seq: int | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "rate", "conversation_id": chat.cid, "stars": stars}
    if card_seq is not None:
        frame["card_seq"] = card_seq
    return await chat.consumer.request(frame)


async def _conversation(chat: Chat) -> dict[str, Any]:
    response = await chat.alice.get(f"/api/conversations/{chat.cid}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _messages(chat: Chat) -> list[dict[str, Any]]:
    response = await chat.alice.get(f"/api/conversations/{chat.cid}/messages")
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def _notices(messages: list[dict[str, Any]], code: str) -> list[dict[str, Any]]:
    return [m for m in messages if (m["notice"] or {}).get("code") == code]


async def _invite(chat: Chat) -> int:
    response = await chat.alice.post(f"/api/conversations/{chat.cid}/rating-invitations")
    assert response.status_code == 200, response.text
    cards = _notices(await _messages(chat), "rating.invited")
    return int(cards[-1]["seq"])


async def test_rate_1_self_rating_once_only_and_the_thanks_names_the_agent(db_url: str) -> None:
    async with running_server(db_url) as srv:
        chat = await _chat(srv)
        rated = await _rate(chat, 3)
        assert rated["type"] == "rated", rated
        assert (rated["stars"], rated["source"], rated["best"]) == (3, "self", 3)
        assert rated["agent_id"] == chat.accounts["alice"]
        again = await _rate(chat, 5)
        assert again["type"] == "error" and again["code"] == "rating.already_rated", again
        thanks = _notices(await _messages(chat), "rating.thanks")
        assert len(thanks) == 1
        assert thanks[0]["notice"]["params"] == {"agent": "Alice"}
        assert thanks[0]["body"] == "感谢您对客服Alice的评价"
        assert (await _conversation(chat))["rating"] == 3


async def test_rate_2_invited_any_number_of_times_and_the_best_rating_counts(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        chat = await _chat(srv)
        assert (await _rate(chat, 2))["source"] == "self"
        first = await _invite(chat)
        second = await _invite(chat)
        assert first != second
        answered = await _rate(chat, 5, first)
        assert (answered["source"], answered["best"]) == ("invited", 5)
        twice = await _rate(chat, 1, first)
        assert twice["code"] == "rating.already_rated", twice
        lower = await _rate(chat, 1, second)
        assert (lower["source"], lower["stars"], lower["best"]) == ("invited", 1, 5)
        assert (await _conversation(chat))["rating"] == 5
        quality = (await chat.alice.get(f"/api/conversations/{chat.cid}/service-quality")).json()
        assert quality["rating"] == 5
        assert [(r["stars"], r["source"]) for r in quality["ratings"]] == [
            (2, "self"),
            (5, "invited"),
            (1, "invited"),
        ]
        # A seq that is no rating card answers nothing.
        no_card = await _rate(chat, 4, 1)
        assert no_card["code"] == "not_found" and no_card["params"]["kind"] == "rating_card"


async def test_rate_2_stars_outside_1_to_5_are_bad_input_and_store_nothing(db_url: str) -> None:
    async with running_server(db_url) as srv:
        chat = await _chat(srv)
        for stars in (0, 6, -1):
            refused = await _rate(chat, stars)
            assert refused["code"] == "bad_input", refused
        assert (await _conversation(chat))["rating"] is None


async def test_rate_1_forced_rating_card_at_the_end_of_a_human_conversation(db_url: str) -> None:
    async with running_server(db_url) as srv:
        chat = await _chat(srv)
        saved = await chat.owner.put("/api/shop/settings", json={"rating_forced": True})
        assert saved.status_code == 200 and saved.json()["rating_forced"] is True
        ended = await chat.alice.post(f"/api/conversations/{chat.cid}/end")
        assert ended.status_code == 200, ended.text
        cards = _notices(await _messages(chat), "rating.forced")
        assert len(cards) == 1 and cards[0]["notice"]["params"] == {"agent": "Alice"}
        rated = await _rate(chat, 4, cards[0]["seq"])
        assert (rated["source"], rated["best"]) == ("forced", 4)
        # RATE-1: rating an ended conversation is allowed for 72 hours (LIMIT-3), then refused.
        srv.clock.advance(timedelta(hours=72, seconds=1))
        late = await _rate(chat, 5)
        assert late["code"] == "rating.window_closed", late


async def test_rate_1_no_forced_card_unless_the_shop_forces_it(db_url: str) -> None:
    async with running_server(db_url) as srv:
        chat = await _chat(srv)
        ended = await chat.alice.post(f"/api/conversations/{chat.cid}/end")
        assert ended.status_code == 200, ended.text
        assert _notices(await _messages(chat), "rating.forced") == []


async def test_conv_7_after_a_transfer_the_receiver_is_rated(db_url: str) -> None:
    async with running_server(db_url) as srv:
        chat = await _chat(srv, "bob")
        bob = chat.others["bob"]
        assert (await bob.put("/api/me/status", json={"status": "online"})).status_code == 200
        offer = await chat.alice.post(
            f"/api/conversations/{chat.cid}/transfer", json={"to_agent_id": chat.accounts["bob"]}
        )
        assert offer.status_code == 200, offer.text
        accepted = await bob.post(f"/api/transfers/{offer.json()['id']}/accept")
        assert accepted.status_code == 200, accepted.text
        rated = await _rate(chat, 5)
        assert rated["agent_id"] == chat.accounts["bob"], rated
        assert rated["agent_name"] == "Bob"
        quality = (await bob.get(f"/api/conversations/{chat.cid}/service-quality")).json()
        assert [r["agent_id"] for r in quality["ratings"]] == [chat.accounts["bob"]]
        # The previous holder invites no rating any more.
        refused = await chat.alice.post(f"/api/conversations/{chat.cid}/rating-invitations")
        assert refused.status_code == 403, refused.text


async def test_rate_1_a_conversation_no_agent_served_cannot_be_rated(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("alice")], clock=srv.clock)
        consumer = await srv.consumer(shop.shop_id)
        cid = consumer.conversation_id  # type: ignore[attr-defined]
        refused = await consumer.request({"type": "rate", "conversation_id": cid, "stars": 5})
        assert refused["code"] == "rating.no_agent", refused


async def test_desk_4_average_response_time_of_the_conversation(db_url: str) -> None:
    async with running_server(db_url) as srv:
        chat = await _chat(srv)

        async def consumer_says(text: str) -> None:
            ack = await chat.consumer.request(
                {"type": "send", "conversation_id": chat.cid, "client_id": text, "body": text}
            )
            assert ack["type"] == "ack", ack

        async def alice_says(text: str) -> None:
            sent = await chat.alice.post(
                f"/api/conversations/{chat.cid}/messages", json={"client_id": text, "body": text}
            )
            assert sent.status_code == 200, sent.text

        await consumer_says("c1")
        srv.clock.advance(timedelta(seconds=10))
        await consumer_says("c2")  # answered together with c1: the reply counts from c1
        srv.clock.advance(timedelta(seconds=20))
        await alice_says("a1")  # 30 s
        srv.clock.advance(timedelta(seconds=5))
        await alice_says("a2")  # answers nothing
        await consumer_says("c3")
        srv.clock.advance(timedelta(seconds=50))
        await alice_says("a3")  # 50 s
        quality = (await chat.alice.get(f"/api/conversations/{chat.cid}/service-quality")).json()
        assert quality["average_response_s"] == 40.0
        assert quality["rating"] is None


async def test_conv_10_default_tree_and_a_6_level_tree_is_refused(db_url: str) -> None:
    async with running_server(db_url) as srv:
        chat = await _chat(srv)
        tree = (await chat.alice.get("/api/summary-categories")).json()
        assert [n["name"] for n in tree["nodes"]] == ["售前", "售后", "投诉", "建议", "其他"]
        assert tree["max_depth"] == 5

        def chain(levels: int) -> list[dict[str, Any]]:
            return [
                {
                    "key": f"k{level}",
                    "parent_key": f"k{level - 1}" if level > 1 else None,
                    "name": f"L{level}",
                }
                for level in range(1, levels + 1)
            ]

        deep = await chat.owner.put("/api/summary-categories", json={"nodes": chain(6)})
        assert deep.status_code == 422 and deep.json()["code"] == "summary.too_deep", deep.text
        assert (await chat.alice.get("/api/summary-categories")).json() == tree
        five = await chat.owner.put("/api/summary-categories", json={"nodes": chain(5)})
        assert five.status_code == 200, five.text
        node = five.json()["nodes"][0]
        depth = 1
        while node["children"]:
            node, depth = node["children"][0], depth + 1
        assert (depth, node["name"]) == (5, "L5")
        # SET-1: only the owner edits the tree.
        refused = await chat.alice.put("/api/summary-categories", json={"nodes": chain(1)})
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"


async def test_conv_10_desk_2_needs_summary_flag_set_then_cleared_by_a_leaf(db_url: str) -> None:
    async with running_server(db_url) as srv:
        chat = await _chat(srv)
        listed = (await chat.alice.get("/api/conversations?scope=mine")).json()["items"]
        assert [(c["id"], c["needs_summary"]) for c in listed] == [(chat.cid, True)]
        saved = await chat.owner.put(
            "/api/summary-categories",
            json={
                "nodes": [
                    {"key": "a", "name": "售后"},
                    {"key": "b", "parent_key": "a", "name": "退货"},
                    {"key": "c", "parent_key": "a", "name": "换货"},
                ]
            },
        )
        top = saved.json()["nodes"][0]
        not_leaf = await chat.alice.put(
            f"/api/conversations/{chat.cid}/summary", json={"category_id": top["id"]}
        )
        assert not_leaf.status_code == 422 and not_leaf.json()["code"] == "summary.not_a_leaf"
        assert (await _conversation(chat))["needs_summary"] is True
        leaf = top["children"][0]
        written = await chat.alice.put(
            f"/api/conversations/{chat.cid}/summary",
            json={"category_id": leaf["id"], "note": "要退货"},
        )
        assert written.status_code == 200, written.text
        assert written.json()["summary"]["path"] == ["售后", "退货"]
        assert (await _conversation(chat))["needs_summary"] is False
        listed = (await chat.alice.get("/api/conversations?scope=mine")).json()["items"]
        assert [(c["id"], c["needs_summary"]) for c in listed] == [(chat.cid, False)]
        got = (await chat.alice.get(f"/api/conversations/{chat.cid}/summary")).json()
        assert got["summary"]["note"] == "要退货"


async def test_conv_10_a_bot_conversation_needs_no_summary(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("alice")], clock=srv.clock)
        consumer = await srv.consumer(shop.shop_id)
        cid = consumer.conversation_id  # type: ignore[attr-defined]
        owner = await srv.staff(shop.shop_id, "owner")
        assert (await owner.get(f"/api/conversations/{cid}")).json()["needs_summary"] is False


async def test_conv_10_summary_required_refuses_to_end_until_written(db_url: str) -> None:
    async with running_server(db_url) as srv:
        chat = await _chat(srv)
        saved = await chat.owner.put("/api/shop/settings", json={"summary_required": True})
        assert saved.status_code == 200 and saved.json()["summary_required"] is True
        refused = await chat.alice.post(f"/api/conversations/{chat.cid}/end")
        assert refused.status_code == 422 and refused.json()["code"] == "summary.required"
        assert (await _conversation(chat))["state"] == "assigned"
        leaf = (await chat.alice.get("/api/summary-categories")).json()["nodes"][0]
        written = await chat.alice.put(
            f"/api/conversations/{chat.cid}/summary", json={"category_id": leaf["id"]}
        )
        assert written.status_code == 200, written.text
        ended = await chat.alice.post(f"/api/conversations/{chat.cid}/end")
        assert ended.status_code == 200 and ended.json()["state"] == "ended", ended.text


async def test_set_1_rating_and_summary_settings_are_the_owners(db_url: str) -> None:
    async with running_server(db_url) as srv:
        chat = await _chat(srv)
        for change in ({"rating_forced": True}, {"summary_required": True}):
            refused = await chat.alice.put("/api/shop/settings", json=change)
            assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
        settings = (await chat.owner.get("/api/shop/settings")).json()
        assert (settings["rating_forced"], settings["summary_required"]) == (False, False)


async def test_conv_10_desk_2_an_ended_conversation_is_summarised_after_the_end(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        chat = await _chat(srv)
        ended = await chat.alice.post(f"/api/conversations/{chat.cid}/end")
        assert ended.status_code == 200 and ended.json()["needs_summary"] is True
        history = (await chat.alice.get("/api/conversations?scope=history")).json()["items"]
        assert [(c["id"], c["needs_summary"]) for c in history] == [(chat.cid, True)]
        leaf = (await chat.alice.get("/api/summary-categories")).json()["nodes"][-1]
        written = await chat.alice.put(
            f"/api/conversations/{chat.cid}/summary", json={"category_id": leaf["id"]}
        )
        assert written.status_code == 200, written.text
        history = (await chat.alice.get("/api/conversations?scope=history")).json()["items"]
        assert [(c["id"], c["needs_summary"]) for c in history] == [(chat.cid, False)]


async def test_rate_1_a_consumer_rates_only_their_own_conversation(db_url: str) -> None:
    async with running_server(db_url) as srv:
        chat = await _chat(srv)
        stranger = await srv.consumer(chat.shop_id)
        refused = await stranger.request({"type": "rate", "conversation_id": chat.cid, "stars": 1})
        assert refused["code"] == "not_found", refused
        assert (await _conversation(chat))["rating"] is None
        quality = (await chat.alice.get(f"/api/conversations/{chat.cid}/service-quality")).json()
        assert quality["ratings"] == []


async def test_rate_1_forced_card_also_follows_the_silence_timers_end(db_url: str) -> None:
    async with running_server(db_url) as srv:
        chat = await _chat(srv)
        saved = await chat.owner.put("/api/shop/settings", json={"rating_forced": True})
        assert saved.status_code == 200, saved.text
        srv.clock.advance(timedelta(minutes=15, seconds=1))
        await srv.runtime.scheduler.tick()
        assert (await _conversation(chat))["state"] == "ended"
        messages = await _messages(chat)
        codes = [(m["notice"] or {}).get("code") for m in messages]
        assert codes[-2:] == ["conversation.auto_ended", "rating.forced"], codes
        rated = await _rate(chat, 5, messages[-1]["seq"])
        assert (rated["source"], rated["agent_id"]) == ("forced", chat.accounts["alice"])
