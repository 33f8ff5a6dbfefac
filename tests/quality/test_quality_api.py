"""QA-1, QA-2 over HTTP: owner-only rules with checked patterns, inspections started by
supervisors and leaders (their own group), the report, its CSV, hits with context and false
positives; a catastrophic pattern hangs neither the inspection nor the chat."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import httpx

from kefu.quality.models import QaHitContextOut, QaHitPageOut, QaReportOut, QaRulesOut
from support import AgentSpec, ShopIds, make_shop, running_server

EVIL = "a" * 40 + "!"


async def _shop(srv: object) -> ShopIds:
    return await make_shop(
        srv.db,  # type: ignore[attr-defined]
        groups=2,
        agents=[
            AgentSpec("alice"),
            AgentSpec("sue", role="supervisor", status="offline"),
            AgentSpec("lee", role="leader", status="offline", group=1),
        ],
        clock=srv.clock,  # type: ignore[attr-defined]
    )


async def test_qa_1_rules_are_the_owners_to_edit_and_patterns_are_checked(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await _shop(srv)
        owner, sue, lee, alice = [
            await srv.staff(shop.shop_id, n) for n in ("owner", "sue", "lee", "alice")
        ]
        rules = QaRulesOut.model_validate((await owner.get("/api/quality/rules")).json())
        assert rules.next is None and {r.key for r in rules.rules} >= {"greeting", "unanswered"}
        assert (await sue.get("/api/quality/rules")).status_code == 200
        assert (await lee.get("/api/quality/rules")).status_code == 200
        assert (await alice.get("/api/quality/rules")).status_code == 403
        custom = {"key": "c1", "kind": "regex", "pattern": "(a)\\1", "name": "bad"}
        refused = await owner.put("/api/quality/rules", json={"rules": [custom]})
        assert refused.status_code == 422
        assert refused.json()["code"] == "quality.pattern_invalid"
        custom["pattern"] = "1\\d{10}"
        assert (await sue.put("/api/quality/rules", json={"rules": [custom]})).status_code == 403
        saved = await owner.put("/api/quality/rules", json={"rules": [custom]})
        assert saved.status_code == 200, saved.text
        view = QaRulesOut.model_validate(saved.json())
        tomorrow = (srv.clock.now() + timedelta(hours=8) + timedelta(days=1)).date()
        assert view.next is not None and view.next.applies_from == tomorrow.isoformat()
        assert "c1" not in {r.key for r in view.rules}
        assert "c1" in {r.key for r in view.next.rules}
        too_many = {"rules": [{**custom, "key": f"c{i}"} for i in range(60)]}
        assert (await owner.put("/api/quality/rules", json=too_many)).status_code == 422


async def test_qa_2_leaders_inspect_only_their_own_group(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await _shop(srv)
        owner, lee, alice = [await srv.staff(shop.shop_id, n) for n in ("owner", "lee", "alice")]
        today = (srv.clock.now() + timedelta(hours=8)).date().isoformat()
        span = {"first": today, "last": today}
        other = await lee.post(
            "/api/quality/inspections", json={**span, "group_ids": [shop.group_ids[0]]}
        )
        assert other.status_code == 403
        mine = await lee.post("/api/quality/inspections", json=span)
        assert mine.status_code == 201, mine.text
        assert mine.json()["group_ids"] == [shop.group_ids[1]]
        assert (await alice.post("/api/quality/inspections", json=span)).status_code == 403
        everything = await owner.post("/api/quality/inspections", json=span)
        hidden = everything.json()["id"]
        assert (await lee.get(f"/api/quality/inspections/{hidden}")).status_code == 404
        listed = (await lee.get("/api/quality/inspections")).json()["items"]
        assert [i["id"] for i in listed] == [mine.json()["id"]]
        too_long = {"first": "2026-01-01", "last": "2026-03-01"}
        assert (await owner.post("/api/quality/inspections", json=too_long)).status_code == 422


async def _chat(srv: object, shop: ShopIds, alice: httpx.AsyncClient) -> tuple[int, float]:
    """A conversation where alice writes the catastrophic text and a forbidden word; returns
    its id and the slowest send's seconds."""
    consumer = await srv.consumer(shop.shop_id)  # type: ignore[attr-defined]
    answer = await consumer.request({"type": "request_human"})
    cid = answer["conversation"]["id"]
    slowest = 0.0
    for n, body in enumerate(["您好", EVIL, "不知道", EVIL * 10]):
        started = time.perf_counter()
        sent = await alice.post(
            f"/api/conversations/{cid}/messages", json={"client_id": f"m{n}", "body": body}
        )
        slowest = max(slowest, time.perf_counter() - started)
        assert sent.status_code == 200, sent.text
    await alice.post(f"/api/conversations/{cid}/end")
    return cid, slowest


async def test_qa_2_an_inspection_reports_hits_with_context_and_false_positives(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        shop = await _shop(srv)
        owner = await srv.staff(shop.shop_id, "owner")
        evil = {"key": "c1", "kind": "regex", "pattern": "(a+)+$", "name": "evil"}
        saved = await owner.put("/api/quality/rules", json={"rules": [evil]})
        assert saved.status_code == 200, saved.text
        srv.clock.advance(timedelta(days=1))  # the rule applies from tomorrow
        sue, alice = [await srv.staff(shop.shop_id, n) for n in ("sue", "alice")]
        cid, slowest = await _chat(srv, shop, alice)
        assert slowest < 2.0  # the chat never waits on a pattern
        today = (srv.clock.now() + timedelta(hours=8)).date().isoformat()
        started = await sue.post("/api/quality/inspections", json={"first": today, "last": today})
        assert started.status_code == 201, started.text
        inspection = started.json()
        assert (inspection["state"], inspection["total"]) == ("running", 1)
        await asyncio.wait_for(srv.runtime.scheduler.tick(), timeout=10)
        path = f"/api/quality/inspections/{inspection['id']}"
        report = QaReportOut.model_validate((await sue.get(path)).json())
        assert (report.state, report.processed) == ("done", 1)
        (agent,) = report.agents
        assert agent.agent_id == shop.accounts["alice"]
        assert agent.hits == {"closing": 1, "forbidden_words": 1}  # (a+)+$ never matched "…!"
        csv = await sue.get(path, params={"format": "csv"})
        assert csv.headers["content-type"].startswith("text/csv")
        assert "forbidden_words,negative,1" in csv.text
        page = QaHitPageOut.model_validate(
            (await sue.get(f"{path}/hits", params={"rule_key": "forbidden_words"})).json()
        )
        (hit,) = page.items
        assert hit.conversation_id == cid
        context = QaHitContextOut.model_validate(
            (await sue.get(f"/api/quality/hits/{hit.id}/context")).json()
        )
        assert any(m.seq == hit.seq and m.body == "不知道" for m in context.messages)
        marked = await sue.put(
            f"/api/quality/hits/{hit.id}/false-positive", json={"is_false_positive": True}
        )
        assert marked.status_code == 200 and marked.json()["is_false_positive"] is True
        after = QaReportOut.model_validate((await sue.get(path)).json())
        assert after.agents[0].hits == {"closing": 1, "forbidden_words": 0}
        assert after.agents[0].total == 1
        assert after.agents[0].false_positives == 1
        assert (await alice.get(f"/api/quality/hits/{hit.id}/context")).status_code == 403
