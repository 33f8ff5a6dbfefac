"""Use cases of the conversation list (DATA-5) and of the sales attribution (DATA-7): check
who asks and what they name, read through storage, and shape plain dicts for the edges.

The list shows what the viewer may open (services/access.py): owners and supervisors the
whole shop, a group leader their group's conversations and those they took part in, an agent
the conversations they took part in. A filter naming another shop's agent, group or consumer
is not_found, like a missing one (ACCT-5). The sales attribution is the shop's figures, for
owners and supervisors."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from kefu import errors
from kefu.analytics.conversations import MAX_EXPORT_ROWS, ListQuery, RatingVerdict
from kefu.analytics.periods import local_day
from kefu.analytics.sales import (
    INQUIRY_LOOKBACK,
    Order,
    SalesFigures,
    Service,
    day_bounds,
    parse_amount,
    sales_day,
)
from kefu.domain.permissions import Feature
from kefu.domain.presence import Role
from kefu.services.access import access_account, access_group
from kefu.services.context import Context, Staff
from kefu.services.permissions import require_permission
from kefu.storage import accounts as account_store
from kefu.storage import conversation_list as store
from kefu.storage import sales as sales_store
from kefu.storage import shops as shop_store
from kefu.storage.db import Connection


async def conversation_page(ctx: Context, staff: Staff, query: ListQuery) -> dict[str, Any]:
    """DATA-5: one page of conversations newest first, each with its ratings and summary, and
    the cursor of the next page (None: this is the last)."""
    async with ctx.db.read() as tx:
        f = await _filters(tx.conn, staff, query)
        rows = await store.page(tx.conn, f, before_id=query.before_id, limit=query.page_size + 1)
        shown = rows[: query.page_size]
        items = await _items(tx.conn, staff.shop_id, shown)
    more = len(rows) > query.page_size
    return {"items": items, "next_cursor": str(shown[-1].id) if more else None}


async def conversation_export(ctx: Context, staff: Staff, query: ListQuery) -> list[dict[str, Any]]:
    """DATA-5, DATA-8: every conversation the filters keep (at most MAX_EXPORT_ROWS), newest
    first, read page by page in one transaction."""
    found: list[dict[str, Any]] = []
    before = query.before_id
    async with ctx.db.read() as tx:
        f = await _filters(tx.conn, staff, query)
        while len(found) < MAX_EXPORT_ROWS:
            limit = min(500, MAX_EXPORT_ROWS - len(found))
            rows = await store.page(tx.conn, f, before_id=before, limit=limit)
            found += await _items(tx.conn, staff.shop_id, rows)
            if len(rows) < limit:
                break
            before = rows[-1].id
    return found


async def _filters(conn: Connection, staff: Staff, query: ListQuery) -> store.ListFilters:
    """The query within the viewer's reach; ids of another shop are not_found (ACCT-5)."""
    if query.agent_id is not None:
        await access_account(conn, staff, query.agent_id)
    if query.group_id is not None:
        await access_group(conn, staff, query.group_id)
    if query.consumer_id is not None and (
        await account_store.shop_consumer(conn, staff.shop_id, query.consumer_id) is None
    ):
        raise errors.NotFound(kind="consumer", id=query.consumer_id)
    viewer_id = viewer_group_id = None
    if staff.role is Role.AGENT:
        viewer_id = staff.account_id
    elif staff.role is Role.LEADER:
        viewer_id, viewer_group_id = staff.account_id, staff.group_id
    rating = query.rating
    return store.ListFilters(
        shop_id=staff.shop_id,
        agent_id=query.agent_id,
        group_id=query.group_id,
        consumer_id=query.consumer_id,
        rating_source=str(query.rating_source) if query.rating_source is not None else None,
        stars=rating.stars_range() if rating is not None else None,
        unrated=rating is not None and rating.verdict is RatingVerdict.UNRATED,
        since=query.since,
        until=query.until,
        viewer_id=viewer_id,
        viewer_group_id=viewer_group_id,
    )


async def _items(
    conn: Connection, shop_id: int, rows: list[store.ListedRow]
) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    ratings: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in await store.ratings(conn, shop_id, ids):
        ratings[r.conversation_id].append(
            {"stars": r.stars, "source": r.source, "agent_id": r.agent_id, "at": r.at}
        )
    summaries = {
        s.conversation_id: {"path": s.path, "note": s.note, "agent_id": s.agent_id, "at": s.at}
        for s in await store.summaries(conn, shop_id, ids)
    }
    return [
        {
            "id": r.id,
            "state": r.state,
            "created_at": r.created_at,
            "ended_at": r.ended_at,
            "consumer": {
                "id": r.consumer_id,
                "uid": r.consumer_uid,
                "nickname": r.consumer_nickname,
            },
            "agent_id": r.agent_id,
            "agent_name": r.agent_name,
            "group_id": r.group_id,
            "group_name": r.group_name,
            "best_stars": max((x["stars"] for x in ratings[r.id]), default=None),
            "ratings": ratings[r.id],
            "summary": summaries.get(r.id),
        }
        for r in rows
    ]


async def sales_view(ctx: Context, staff: Staff, *, day: date | None = None) -> dict[str, Any]:
    """DATA-7: the day's sales attribution (default: today in the shop's time zone), the day
    before beside it, and per agent (credited to the agent who served first)."""
    if staff.role not in (Role.OWNER, Role.SUPERVISOR):
        raise errors.Forbidden()
    require_permission(staff, Feature.ANALYTICS)
    async with ctx.db.read() as tx:
        settings = await shop_store.shop_settings(tx.conn, staff.shop_id)
        tz = ZoneInfo(settings.time_zone)
        today = day or local_day(ctx.clock.now(), tz)
        yesterday = today - timedelta(days=1)
        start, _ = day_bounds(yesterday, tz)
        _, end = day_bounds(today, tz)
        served = await sales_store.services(tx.conn, staff.shop_id, start, end)
        orders = await sales_store.orders(
            tx.conn,
            staff.shop_id,
            [s.consumer_id for s in served],
            ordered_since=start - INQUIRY_LOOKBACK,
            until=end,
        )
        accounts = await account_store.loaded_accounts(tx.conn, shop_id=staff.shop_id)
    services = [Service(s.consumer_id, s.agent_id, s.at) for s in served]
    plain = [Order(o.consumer_id, parse_amount(o.amount), o.ordered_at, o.paid_at) for o in orders]
    current = sales_day(services, plain, day=today, tz=tz)
    previous = sales_day(services, plain, day=yesterday, tz=tz)
    names: dict[int, str] = {a.account.id: a.account.display_name for a in accounts}
    agent_ids = sorted(current.by_agent.keys() | previous.by_agent.keys())
    empty = SalesFigures(0, 0, 0, 0, Decimal(0))
    return {
        "day": today.isoformat(),
        "previous_day": yesterday.isoformat(),
        "time_zone": tz.key,
        "current": figures_view(current.shop),
        "previous": figures_view(previous.shop),
        "agents": [
            {
                "agent_id": a,
                "display_name": names.get(a, ""),
                "current": figures_view(current.by_agent.get(a, empty)),
                "previous": figures_view(previous.by_agent.get(a, empty)),
            }
            for a in agent_ids
        ],
    }


def figures_view(f: SalesFigures) -> dict[str, Any]:
    """Sales as a decimal string with 2 places (money is no float)."""
    return {
        "served": f.served,
        "inquiring": f.inquiring,
        "paying": f.paying,
        "inquiring_paying": f.inquiring_paying,
        "sales": str(f.sales.quantize(Decimal("0.01"))),
        "conversion_rate": f.conversion_rate,
    }
