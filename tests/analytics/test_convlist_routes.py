"""DATA-5 through the real server on SQLite and PostgreSQL: conversations stored as rows with
their participants, ratings and summaries, then listed with each filter, by page, by role, as
CSV, and never across shops.

Shop: group g0 (agent aa), group g1 (agent bb, leader lead). Newest last:
- k1: u1, g0, aa; rated 5 by the consumer (self); summarised 售前 › 价格.
- k2: u2, g1, bb; invited twice: 2 then 4 stars (best 4).
- k3: u1, g0, aa then transferred to bb; forced rating 1.
- k4: u3, g1, bb; unrated; started the day before the others.
- k5: "=cmd", g0, aa; rated 3 by the consumer.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert

from kefu.clock import FakeClock
from kefu.storage import tables as t
from support import AgentSpec, Server, make_shop, running_server

NOW = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
LIST = "/api/analytics/conversations"


async def _row(srv: Server, table: Any, **values: Any) -> int:
    async with srv.db.uow() as tx:
        found = await tx.conn.execute(insert(table).values(**values).returning(table.c[0]))
        await tx.commit()
    return int(found.scalar_one())


async def _conversation(
    srv: Server,
    shop_id: int,
    *,
    consumer: int,
    group: int,
    agents: list[int],
    started: datetime,
    ratings: Sequence[tuple[int, str]] = (),
) -> int:
    cid = await _row(
        srv,
        t.conversations,
        shop_id=shop_id,
        consumer_id=consumer,
        state="ended",
        group_id=group,
        agent_id=agents[-1],
        entry={},
        created_at=started,
        ended_at=started + timedelta(minutes=10),
    )
    for n, agent in enumerate(agents):
        role = "holder" if n == len(agents) - 1 else "previous"
        async with srv.db.uow() as tx:
            await tx.conn.execute(
                insert(t.participants).values(
                    conversation_id=cid,
                    account_id=agent,
                    shop_id=shop_id,
                    role=role,
                    joined_at=started,
                )
            )
            await tx.commit()
    for n, (stars, source) in enumerate(ratings):
        await _row(
            srv,
            t.ratings,
            shop_id=shop_id,
            conversation_id=cid,
            agent_id=agents[-1],
            stars=stars,
            source=source,
            card_seq=None if source == "self" else n + 1,
            at=started + timedelta(minutes=11 + n),
        )
    return cid


async def _world(srv: Server) -> dict[str, int]:
    shop = await make_shop(
        srv.db,
        groups=2,
        agents=[
            AgentSpec("aa", group=0),
            AgentSpec("bb", group=1),
            AgentSpec("lead", group=1, role="leader"),
        ],
        clock=srv.clock,
    )
    s, g0, g1 = shop.shop_id, *shop.group_ids
    aa, bb = shop.accounts["aa"], shop.accounts["bb"]

    def consumer(uid: str) -> dict[str, Any]:
        return {"shop_id": s, "uid": uid, "nickname": uid, "is_vip": False, "created_at": NOW}

    u1 = await _row(srv, t.consumers, **consumer("u1"))
    u2 = await _row(srv, t.consumers, **consumer("u2"))
    u3 = await _row(srv, t.consumers, **consumer("u3"))
    u4 = await _row(srv, t.consumers, **{**consumer("u4"), "nickname": "=cmd"})
    day = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
    ids = {"shop_id": s, "g0": g0, "g1": g1, "aa": aa, "bb": bb, "u1": u1}
    ids["k1"] = await _conversation(
        srv, s, consumer=u1, group=g0, agents=[aa], started=day, ratings=[(5, "self")]
    )
    ids["k2"] = await _conversation(
        srv,
        s,
        consumer=u2,
        group=g1,
        agents=[bb],
        started=day + timedelta(minutes=20),
        ratings=[(2, "invited"), (4, "invited")],
    )
    ids["k3"] = await _conversation(
        srv,
        s,
        consumer=u1,
        group=g0,
        agents=[aa, bb],
        started=day + timedelta(minutes=40),
        ratings=[(1, "forced")],
    )
    ids["k4"] = await _conversation(
        srv, s, consumer=u3, group=g1, agents=[bb], started=day - timedelta(days=1)
    )
    ids["k5"] = await _conversation(
        srv,
        s,
        consumer=u4,
        group=g0,
        agents=[aa],
        started=day + timedelta(minutes=60),
        ratings=[(3, "self")],
    )
    category = await _row(srv, t.summary_categories, shop_id=s, name="价格", position=0)
    async with srv.db.uow() as tx:
        await tx.conn.execute(
            insert(t.conversation_summaries).values(
                conversation_id=ids["k1"],
                shop_id=s,
                category_id=category,
                path=["售前", "价格"],
                note="问价",
                agent_id=aa,
                at=day + timedelta(minutes=12),
            )
        )
        await tx.commit()
    return ids


async def _listed(client: httpx.AsyncClient, **params: Any) -> list[int]:
    response = await client.get(LIST, params={"page_size": 100, **params})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_data_5_list_filters_by_agent_group_consumer_rating_and_time(db_url: str) -> None:
    async with running_server(db_url, clock=FakeClock(NOW)) as srv:
        w = await _world(srv)
        k1, k2, k3, k4, k5 = (w[f"k{i}"] for i in range(1, 6))
        owner = await srv.staff(w["shop_id"], "owner")
        assert await _listed(owner) == [k5, k4, k3, k2, k1]  # newest id first
        assert await _listed(owner, agent_id=w["aa"]) == [k5, k3, k1]
        assert await _listed(owner, agent_id=w["bb"]) == [k4, k3, k2]
        assert await _listed(owner, group_id=w["g1"]) == [k4, k2]
        assert await _listed(owner, consumer_id=w["u1"]) == [k3, k1]
        assert await _listed(owner, rating_source="self") == [k5, k1]
        assert await _listed(owner, rating_source="invited") == [k2]
        assert await _listed(owner, rating_source="forced") == [k3]
        assert await _listed(owner, rating="satisfied") == [k2, k1]  # k2's best is 4
        assert await _listed(owner, rating="unsatisfied") == [k5, k3]
        assert await _listed(owner, rating="2") == []  # k2's 2 stars do not count (RATE-2)
        assert await _listed(owner, rating="5") == [k1]
        assert await _listed(owner, rating="unrated") == [k4]
        since, until = "2026-01-05T00:00:00+00:00", "2026-01-05T01:50:00+00:00"
        assert await _listed(owner, since=since) == [k5, k3, k2, k1]
        assert await _listed(owner, since=since, until=until) == [k3, k2, k1]
        assert await _listed(owner, agent_id=w["aa"], rating="unsatisfied", since=since) == [
            k5,
            k3,
        ]


async def test_data_5_each_row_carries_its_ratings_and_summary(db_url: str) -> None:
    async with running_server(db_url, clock=FakeClock(NOW)) as srv:
        w = await _world(srv)
        owner = await srv.staff(w["shop_id"], "owner")
        items = {i["id"]: i for i in (await owner.get(LIST)).json()["items"]}
        k1, k2, k4 = items[w["k1"]], items[w["k2"]], items[w["k4"]]
        assert k1["summary"]["path"] == ["售前", "价格"] and k1["summary"]["note"] == "问价"
        assert [(r["stars"], r["source"]) for r in k1["ratings"]] == [(5, "self")]
        assert [(r["stars"], r["source"]) for r in k2["ratings"]] == [
            (2, "invited"),
            (4, "invited"),
        ]
        assert k2["best_stars"] == 4 and k2["summary"] is None
        assert (k2["agent_name"], k2["consumer"]["uid"]) == ("Bb", "u2")
        assert k4["ratings"] == [] and k4["best_stars"] is None


async def test_data_5_list_pages_by_cursor(db_url: str) -> None:
    async with running_server(db_url, clock=FakeClock(NOW)) as srv:
        w = await _world(srv)
        owner = await srv.staff(w["shop_id"], "owner")
        seen: list[int] = []
        cursor = None
        for _ in range(4):
            params: dict[str, Any] = {"page_size": 2}
            if cursor:
                params["cursor"] = cursor
            page = (await owner.get(LIST, params=params)).json()
            seen += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [w[f"k{i}"] for i in (5, 4, 3, 2, 1)] and cursor is None
        for bad in (
            {"rating": "7"},
            {"cursor": "abc"},
            {"rating_source": "robot"},
            {"since": "0001-01-01T00:00:00+05:00"},  # off the calendar in UTC
            {"until": "9999-12-31T23:59:59-05:00"},
        ):
            refused = await owner.get(LIST, params=bad)
            assert refused.status_code == 422 and refused.json()["code"] == "bad_input", bad
        backwards = {"since": "2026-01-06T00:00:00+00:00", "until": "2026-01-05T00:00:00+00:00"}
        assert (await owner.get(LIST, params=backwards)).json()["params"]["field"] == "until"


async def test_data_5_agents_see_theirs_and_leaders_their_group(db_url: str) -> None:
    async with running_server(db_url, clock=FakeClock(NOW)) as srv:
        w = await _world(srv)
        k1, k2, k3, k4, k5 = (w[f"k{i}"] for i in range(1, 6))
        aa = await srv.staff(w["shop_id"], "aa")
        bb = await srv.staff(w["shop_id"], "bb")
        lead = await srv.staff(w["shop_id"], "lead")
        assert await _listed(aa) == [k5, k3, k1]
        assert await _listed(bb) == [k4, k3, k2]  # k3 was transferred to bb
        assert await _listed(lead) == [k4, k2]  # group g1's
        # A filter does not widen what one sees: aa asking for bb's gets their shared one.
        assert await _listed(aa, agent_id=w["bb"]) == [k3]


async def test_data_5_another_shops_agent_group_or_consumer_is_not_found(db_url: str) -> None:
    async with running_server(db_url, clock=FakeClock(NOW)) as srv:
        w = await _world(srv)
        other = await make_shop(srv.db, name="Other", clock=srv.clock)
        stranger = await srv.staff(other.shop_id, "owner")
        assert await _listed(stranger) == []
        for field, kind in (
            ("agent_id", "account"),
            ("group_id", "group"),
            ("consumer_id", "consumer"),
        ):
            name = {"agent_id": "aa", "group_id": "g0", "consumer_id": "u1"}[field]
            refused = await stranger.get(LIST, params={field: w[name]})
            assert refused.status_code == 404, field
            assert refused.json()["params"]["kind"] == kind
        exported = await stranger.get(LIST, params={"format": "csv"})
        assert exported.text.lstrip("\ufeff").count("\r\n") == 1  # the header alone


async def test_data_5_csv_export_of_the_filtered_list(db_url: str) -> None:
    async with running_server(db_url, clock=FakeClock(NOW)) as srv:
        w = await _world(srv)
        owner = await srv.staff(w["shop_id"], "owner")
        exported = await owner.get(LIST, params={"format": "csv", "agent_id": w["aa"]})
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        assert exported.headers["content-disposition"].startswith("attachment")
        rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
        assert [int(r["conversation_id"]) for r in rows] == [w["k5"], w["k3"], w["k1"]]
        k5, k3, k1 = rows
        assert k5["consumer_nickname"] == "'=cmd"  # neutralised (DATA-8)
        assert (k1["summary"], k1["summary_note"], k1["ratings"]) == (
            "售前 › 价格",
            "问价",
            "5★(self)",
        )
        assert (k3["best_stars"], k3["ratings"], k3["agent_name"]) == ("1", "1★(forced)", "Bb")
