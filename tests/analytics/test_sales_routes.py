"""DATA-7 through the real server on SQLite and PostgreSQL: the day of test_sales_rules.py
stored as rows (conversations, assignment and transfer events, orders), read back as JSON and
as CSV, today and yesterday, per agent, and for nobody else."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from kefu.clock import FakeClock
from kefu.storage import tables as t
from support import AgentSpec, Server, make_shop, running_server

TZ = ZoneInfo("Asia/Shanghai")
# 23:59 on 2026-01-05 in Shanghai: "today" is the 5th.
NOW = datetime(2026, 1, 5, 15, 59, tzinfo=UTC)


def at(hour: int, minute: int = 0, *, days: int = 0) -> datetime:
    return datetime(2026, 1, 5, hour, minute, tzinfo=TZ) + timedelta(days=days)


async def _consumer(srv: Server, shop_id: int, uid: str) -> int:
    async with srv.db.uow() as tx:
        found = await tx.conn.execute(
            insert(t.consumers)
            .values(shop_id=shop_id, uid=uid, nickname=uid, is_vip=False, created_at=at(0))
            .returning(t.consumers.c.id)
        )
        await tx.commit()
    return int(found.scalar_one())


async def _served(
    srv: Server, shop_id: int, consumer_id: int, turns: list[tuple[str, int, datetime]]
) -> None:
    """One ended conversation of the consumer, taken by (kind, agent, at) in turn."""
    async with srv.db.uow() as tx:
        cid = (
            await tx.conn.execute(
                insert(t.conversations)
                .values(
                    shop_id=shop_id,
                    consumer_id=consumer_id,
                    state="ended",
                    agent_id=turns[-1][1],
                    entry={},
                    created_at=turns[0][2] - timedelta(minutes=1),
                    ended_at=turns[-1][2] + timedelta(minutes=5),
                )
                .returning(t.conversations.c.id)
            )
        ).scalar_one()
        for kind, agent_id, when in turns:
            await tx.conn.execute(
                insert(t.conversation_events).values(
                    shop_id=shop_id,
                    conversation_id=cid,
                    kind=kind,
                    agent_id=agent_id,
                    at=when,
                    data={},
                )
            )
        await tx.commit()


async def _order(
    srv: Server,
    shop_id: int,
    consumer_id: int,
    no: str,
    amount: str,
    ordered: datetime,
    paid: datetime | None,
) -> None:
    async with srv.db.uow() as tx:
        await tx.conn.execute(
            insert(t.orders).values(
                shop_id=shop_id,
                consumer_id=consumer_id,
                order_no=no,
                item_count=1,
                amount=amount,
                ordered_at=ordered,
                paid_at=paid,
            )
        )
        await tx.commit()


async def _the_day(srv: Server) -> dict[str, int]:
    shop = await make_shop(srv.db, agents=[AgentSpec("aa"), AgentSpec("bb")], clock=srv.clock)
    s, a, b = shop.shop_id, shop.accounts["aa"], shop.accounts["bb"]
    c = [await _consumer(srv, s, f"u{i}") for i in range(1, 6)]
    await _served(srv, s, c[0], [("assigned", a, at(10))])
    await _served(srv, s, c[1], [("assigned", b, at(9))])
    await _served(srv, s, c[2], [("assigned", a, at(13)), ("transferred", b, at(14))])
    await _served(srv, s, c[3], [("assigned", b, at(23, days=-1))])
    await _served(srv, s, c[4], [("assigned", a, at(20))])
    await _order(srv, s, c[0], "o1", "99.50", at(10, 30), at(11))
    await _order(srv, s, c[0], "o2", "5.00", at(0, 10, days=1), at(0, 30, days=1))
    await _order(srv, s, c[1], "o3", "88.00", at(9, days=-10), at(8))
    await _order(srv, s, c[1], "o4", "20.00", at(11, 50), at(12))
    await _order(srv, s, c[2], "o5", "9.00", at(12, days=-22), at(12, days=-22))
    await _order(srv, s, c[2], "o6", "15.00", at(23, 20), at(23, 30))
    await _order(srv, s, c[3], "o7", "50.00", at(8), at(8, 5))
    return {"shop_id": s, "aa": a, "bb": b}


async def test_data_7_sales_attribution_today_and_yesterday(db_url: str) -> None:
    async with running_server(db_url, clock=FakeClock(NOW)) as srv:
        ids = await _the_day(srv)
        owner = await srv.staff(ids["shop_id"], "owner")
        view = (await owner.get("/api/analytics/sales")).json()
        assert (view["day"], view["previous_day"]) == ("2026-01-05", "2026-01-04")
        assert view["current"] == {
            "served": 4,
            "inquiring": 3,
            "paying": 3,
            "inquiring_paying": 2,
            "sales": "134.50",
            "conversion_rate": 2 / 3,
        }
        assert view["previous"] == {
            "served": 1,
            "inquiring": 1,
            "paying": 0,
            "inquiring_paying": 0,
            "sales": "0.00",
            "conversion_rate": 0.0,
        }
        by_agent = {x["agent_id"]: x for x in view["agents"]}
        aa, bb = by_agent[ids["aa"]], by_agent[ids["bb"]]
        assert aa["display_name"] == "Aa"
        assert (aa["current"]["served"], aa["current"]["sales"]) == (3, "114.50")
        assert aa["current"]["conversion_rate"] == 2 / 3 and aa["previous"]["served"] == 0
        assert (bb["current"]["served"], bb["current"]["paying"]) == (1, 1)
        assert bb["current"]["conversion_rate"] is None
        assert bb["previous"]["served"] == 1

        # Another day asked by name: the 4th, with the 3rd beside it.
        before = (await owner.get("/api/analytics/sales", params={"day": "2026-01-04"})).json()
        assert before["current"] == view["previous"] and before["previous"]["served"] == 0


async def test_data_7_sales_csv_has_the_same_numbers(db_url: str) -> None:
    async with running_server(db_url, clock=FakeClock(NOW)) as srv:
        ids = await _the_day(srv)
        owner = await srv.staff(ids["shop_id"], "owner")
        exported = await owner.get("/api/analytics/sales", params={"format": "csv"})
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        assert 'filename="sales-2026-01-05.csv"' in exported.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
        shop_today = rows[0]
        assert (shop_today["day"], shop_today["agent_id"]) == ("2026-01-05", "")
        assert (shop_today["served"], shop_today["sales"]) == ("4", "134.50")
        assert shop_today["conversion_rate"] == repr(round(2 / 3, 6))
        agent_rows = {(r["day"], r["agent_id"]): r for r in rows[1:]}
        assert agent_rows[("2026-01-05", str(ids["aa"]))]["sales"] == "114.50"
        assert agent_rows[("2026-01-04", str(ids["bb"]))]["served"] == "1"
        assert len(rows) == 6  # the shop and 2 agents, for 2 days


async def test_data_7_sales_are_the_shops_own_and_for_supervising_roles(db_url: str) -> None:
    async with running_server(db_url, clock=FakeClock(NOW)) as srv:
        ids = await _the_day(srv)
        aa = await srv.staff(ids["shop_id"], "aa")
        refused = await aa.get("/api/analytics/sales")
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
        other = await make_shop(srv.db, name="Other", clock=srv.clock)
        stranger = await srv.staff(other.shop_id, "owner")
        theirs = (await stranger.get("/api/analytics/sales")).json()
        assert theirs["current"]["served"] == 0 and theirs["agents"] == []
        for day in ("yesterday", "9999-12-31", "0001-01-01"):
            bad = await stranger.get("/api/analytics/sales", params={"day": day})
            assert bad.status_code == 422 and bad.json()["code"] == "bad_input", day
        assert date.fromisoformat(theirs["day"]) == date(2026, 1, 5)
