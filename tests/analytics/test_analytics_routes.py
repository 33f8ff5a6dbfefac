"""DATA-1, DATA-2, DATA-8 through the real server on SQLite and PostgreSQL: conversations
driven over WebSockets on a fake clock, then read back as figures and as CSV."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta

import httpx
from typer.testing import CliRunner

from kefu.analytics.export import neutralise, to_csv
from kefu.cli import app
from kefu.clock import FakeClock
from support import AgentSpec, Frames, Server, make_shop, running_server

# 17:00 in Shanghai, inside the DATA-3 window.
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


async def _say(frames: Frames, cid: int, client_id: str, body: str = "在吗") -> None:
    answer = await frames.request(
        {"type": "send", "conversation_id": cid, "client_id": client_id, "body": body}
    )
    assert answer["type"] == "ack", answer


async def _day_of_one_agent(srv: Server) -> tuple[dict[str, int], httpx.AsyncClient]:
    """solo (limit 1) serves c1 (replies after 20 s and 40 s), then c2, which queued 60 s."""
    shop = await make_shop(srv.db, agents=[AgentSpec("solo", limit=1)], clock=srv.clock)
    solo = await srv.staff(shop.shop_id, "solo")
    solo_ws = await srv.staff_socket(solo)
    c1 = await srv.consumer(shop.shop_id)
    cid1 = c1.conversation_id  # type: ignore[attr-defined]
    await _say(c1, cid1, "c1")
    assert (await c1.request({"type": "request_human"}))["conversation"]["state"] == "assigned"
    srv.clock.advance(timedelta(seconds=20))
    await _say(solo_ws, cid1, "a1", "您好")
    await _say(c1, cid1, "c2")
    srv.clock.advance(timedelta(seconds=40))
    await _say(solo_ws, cid1, "a2", "好的")

    c2 = await srv.consumer(shop.shop_id)
    assert (await c2.request({"type": "request_human"}))["conversation"]["state"] == "queued"
    srv.clock.advance(timedelta(seconds=60))
    assert (await solo.post(f"/api/conversations/{cid1}/end")).status_code == 200
    await c2.wait_for(
        lambda f: f["type"] == "conversation" and f["conversation"]["state"] == "assigned"
    )
    return {"shop_id": shop.shop_id, "solo": shop.accounts["solo"]}, solo


async def test_data_1_dashboard_reads_what_happened_over_the_sockets(db_url: str) -> None:
    async with running_server(db_url, clock=FakeClock(START)) as srv:
        ids, _ = await _day_of_one_agent(srv)
        owner = await srv.staff(ids["shop_id"], "owner")
        view = (await owner.get("/api/analytics/dashboard", params={"period": "day"})).json()
        now = view["current"]
        assert (now["conversations"], now["human_requests"], now["assigned"]) == (2, 2, 2)
        assert now["pickup_rate"] == 1.0 and now["abandonment_rate"] == 0.0
        assert now["queue_time_s"] == 30.0  # 0 s and 60 s
        assert now["first_response_s"] == 20.0
        assert (now["replies"], now["response_s"]) == (2, 30.0)  # 20 s and 40 s
        assert (now["replies_within_30s"], now["replies_within_60s"]) == (1, 2)
        assert now["satisfaction_rate"] is None
        assert view["previous"]["conversations"] == 0
        assert view["period"]["first"] == "2026-01-05" and view["period"]["time_zone"]
        assert [d["conversations"] for d in view["trend"]] == [2]
        # c2 waits for its first reply: 1 request of 2 got a human reply within 2 minutes.
        assert now["assessment"]["requests"] == 2
        assert now["assessment"]["first_reply_within_2min"] == 1

        week = (await owner.get("/api/analytics/dashboard", params={"period": "week"})).json()
        assert len(week["trend"]) == 7 and week["current"]["assigned"] == 2


async def test_data_2_agent_analysis_and_its_csv(db_url: str) -> None:
    async with running_server(db_url, clock=FakeClock(START)) as srv:
        ids, _ = await _day_of_one_agent(srv)
        owner = await srv.staff(ids["shop_id"], "owner")
        view = (await owner.get("/api/analytics/agents", params={"period": "day"})).json()
        (solo,) = [a for a in view["agents"] if a["agent_id"] == ids["solo"]]
        assert (solo["assigned"], solo["replies"], solo["response_s"]) == (2, 2, 30.0)

        exported = await owner.get("/api/analytics/agents", params={"format": "csv"})
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        assert exported.headers["content-disposition"].startswith("attachment")
        rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
        (row,) = [r for r in rows if r["agent_id"] == str(ids["solo"])]
        assert (row["display_name"], row["assigned"], row["response_s"]) == ("Solo", "2", "30.0")

        too_long = await owner.get(
            "/api/analytics/agents",
            params={"period": "custom", "first": "2026-01-01", "last": "2026-02-15"},
        )
        assert too_long.status_code == 422 and too_long.json()["params"]["max_days"] == 30


async def test_data_1_agents_and_other_shops_see_nothing_of_the_shop(db_url: str) -> None:
    async with running_server(db_url, clock=FakeClock(START)) as srv:
        ids, solo = await _day_of_one_agent(srv)
        refused = await solo.get("/api/analytics/dashboard")
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
        assert (await solo.get("/api/analytics/agents")).status_code == 403

        other = await make_shop(srv.db, name="Other", clock=srv.clock)
        stranger = await srv.staff(other.shop_id, "owner")
        theirs = (await stranger.get("/api/analytics/dashboard")).json()
        assert theirs["current"]["conversations"] == 0
        agents = (await stranger.get("/api/analytics/agents")).json()["agents"]
        assert ids["solo"] not in [a["agent_id"] for a in agents]


def test_data_8_csv_cells_that_look_like_formulas_are_neutralised() -> None:
    for text in ("=1+1", "+1", "-cmd", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(text) == "'" + text
    assert neutralise(-3) == "-3" and neutralise(0.25) == "0.25" and neutralise(None) == ""
    out = to_csv(("name", "rate"), [{"name": '=HYPERLINK("x")', "rate": 0.5}])
    assert out.startswith("\ufeff")
    (header, row) = list(csv.reader(io.StringIO(out.lstrip("\ufeff"))))
    assert header == ["name", "rate"] and row == ['\'=HYPERLINK("x")', "0.5"]


async def test_data_4_targets_default_to_feige_and_only_the_owner_edits_them(db_url: str) -> None:
    async with running_server(db_url, clock=FakeClock(START)) as srv:
        ids, solo = await _day_of_one_agent(srv)
        owner = await srv.staff(ids["shop_id"], "owner")
        view = (await owner.get("/api/analytics/targets")).json()
        assert view["preset"] == "feige" and not view["edited"]
        results = {r["metric"]: r for r in view["results"]}
        # The last 7 days: replies of 20 s and 40 s (≤ 2 min), pickup 100 %, queue 30 s.
        assert results["response_s"]["passed"] is True and results["response_s"]["gap"] == 0
        assert results["pickup_rate"]["passed"] is True
        assert results["queue_time_s"]["value"] == 30.0
        assert results["satisfaction_rate"]["passed"] is None

        refused = await solo.put("/api/analytics/targets", json={"preset": "xixi"})
        assert refused.status_code == 403
        edited = await owner.put(
            "/api/analytics/targets",
            json={
                "preset": "xixi",
                "targets": [
                    {"metric": "first_response_s", "comparison": "below", "threshold": 10},
                    {"metric": "pickup_rate", "comparison": "at_least", "threshold": 0.95},
                ],
            },
        )
        assert edited.status_code == 200, edited.text
        now = {r["metric"]: r for r in edited.json()["results"]}
        assert now["first_response_s"]["passed"] is False
        assert now["first_response_s"]["gap"] == 10.0  # 20 s against < 10 s
        assert now["pickup_rate"]["passed"] is True
        bad = await owner.put(
            "/api/analytics/targets",
            json={
                "preset": "xixi",
                "targets": [{"metric": "x", "comparison": "below", "threshold": 1}],
            },
        )
        assert bad.status_code == 422 and bad.json()["code"] == "bad_input"
        kept = (await owner.get("/api/analytics/targets")).json()
        assert kept["preset"] == "xixi" and len(kept["results"]) == 2


async def test_data_1_kefu_report_prints_the_dashboard_figures(db_url: str) -> None:
    async with running_server(db_url, clock=FakeClock(START)) as srv:
        ids, _ = await _day_of_one_agent(srv)
        owner = await srv.staff(ids["shop_id"], "owner")
        day = {"period": "custom", "first": "2026-01-05", "last": "2026-01-05"}
        web = (await owner.get("/api/analytics/dashboard", params=day)).json()
        args = ["report", "--shop-id", str(ids["shop_id"]), "--database-url", db_url]
        args += ["--period", "custom", "--first", "2026-01-05", "--last", "2026-01-05"]
        runner = CliRunner()
        printed = await asyncio.to_thread(runner.invoke, app, [*args, "--json"])
        assert printed.exit_code == 0, printed.output
        figures = json.loads(printed.output.strip().splitlines()[-1])
        assert figures["current"] == web["current"] and figures["previous"] == web["previous"]
        table = await asyncio.to_thread(runner.invoke, app, args)
        assert "pickup rate" in table.output and "100.0%" in table.output
        missing = await asyncio.to_thread(
            runner.invoke, app, ["report", "--shop-id", "999", "--database-url", db_url]
        )
        assert missing.exit_code == 1


async def test_data_6_intents_of_what_consumers_wrote_and_an_edited_taxonomy(
    db_url: str,
) -> None:
    async with running_server(db_url, clock=FakeClock(START)) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("solo")], clock=srv.clock)
        for n, text in enumerate(["东西不想要了能退不", "我要退货", "发神么快递", "在吗"]):
            consumer = await srv.consumer(shop.shop_id)
            await _say(consumer, consumer.conversation_id, f"c{n}", text)  # type: ignore[attr-defined]
        owner = await srv.staff(shop.shop_id, "owner")
        view = (await owner.get("/api/analytics/intents", params={"period": "day"})).json()
        assert view["conversations"] == 4
        volume = [(r["top"], r["name"], r["conversations"]) for r in view["by_volume"]]
        assert volume[0] == ("售后", "退货退款", 2)
        assert ("售后", "物流", 1) in volume and ("其他", "其他", 1) in volume
        assert view["by_contribution"] == []  # nobody rated

        mine = [{"name": "咨询", "children": [{"name": "快递", "keywords": ["快递"]}]}]
        put = await owner.put("/api/analytics/intents/taxonomy", json={"taxonomy": mine})
        assert put.status_code == 200 and put.json()["edited"] is True
        again = (await owner.get("/api/analytics/intents", params={"period": "day"})).json()
        assert ("咨询", "快递", 1) in [
            (r["top"], r["name"], r["conversations"]) for r in again["by_volume"]
        ]
        solo = await srv.staff(shop.shop_id, "solo")
        assert (
            await solo.put("/api/analytics/intents/taxonomy", json={"taxonomy": None})
        ).status_code == 403
        empty = [{"name": "咨询", "children": [{"name": "快递", "keywords": []}]}]
        bad = await owner.put("/api/analytics/intents/taxonomy", json={"taxonomy": empty})
        assert bad.status_code == 422
        reset = await owner.put("/api/analytics/intents/taxonomy", json={"taxonomy": None})
        assert reset.json()["edited"] is False and len(reset.json()["taxonomy"]) == 3
        too_long = await owner.get(
            "/api/analytics/intents",
            params={"period": "custom", "first": "2026-01-01", "last": "2026-02-05"},
        )
        assert too_long.status_code == 422 and too_long.json()["params"]["max_days"] == 31
