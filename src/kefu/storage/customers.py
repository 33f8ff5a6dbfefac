"""The customer's side panel (DESK-5) and proactive conversations (CONV-6): consumers, their
profiles, orders, past conversations and page views, always scoped to one shop (ACCT-5)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import desc, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu import errors
from kefu.storage import tables as t

_cons = t.consumers.c
_o = t.orders.c
_cp = t.customer_profiles.c
_pv = t.page_views.c
_c = t.conversations.c


@dataclass(frozen=True, slots=True)
class ConsumerRecord:
    id: int
    uid: str
    nickname: str
    is_vip: bool


@dataclass(frozen=True, slots=True)
class ProfileRecord:
    notes: str
    tags: list[str]
    phone: str
    updated_by: int | None
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class OrderRecord:
    id: int
    order_no: str
    title: str
    item_count: int
    amount: str
    ordered_at: datetime


@dataclass(frozen=True, slots=True)
class FoundConsumer:
    id: int
    uid: str
    nickname: str
    is_vip: bool
    last_ordered_at: datetime | None


@dataclass(frozen=True, slots=True)
class PageViewRecord:
    url: str
    title: str
    at: datetime


async def shop_consumer(conn: AsyncConnection, shop_id: int, consumer_id: int) -> ConsumerRecord:
    """A consumer of the shop; another shop's is NotFound like a missing one (ACCT-5)."""
    row = (
        await conn.execute(
            select(_cons.id, _cons.uid, _cons.nickname, _cons.is_vip).where(
                _cons.id == consumer_id, _cons.shop_id == shop_id
            )
        )
    ).first()
    if row is None:
        raise errors.NotFound(kind="consumer", id=consumer_id)
    return ConsumerRecord(row.id, row.uid, row.nickname, bool(row.is_vip))


EMPTY_PROFILE = ProfileRecord("", [], "", None, None)


async def profile(conn: AsyncConnection, shop_id: int, consumer_id: int) -> ProfileRecord:
    row = (
        await conn.execute(
            select(t.customer_profiles).where(
                _cp.shop_id == shop_id, _cp.consumer_id == consumer_id
            )
        )
    ).first()
    if row is None:
        return EMPTY_PROFILE
    return ProfileRecord(row.notes, list(row.tags or []), row.phone, row.updated_by, row.updated_at)


async def save_profile(
    conn: AsyncConnection,
    shop_id: int,
    consumer_id: int,
    *,
    notes: str,
    tags: Sequence[str],
    phone: str,
    updated_by: int,
    now: datetime,
) -> None:
    """Insert or replace the profile. The caller holds the shop lock, so two first saves of
    one profile do not both insert."""
    values: dict[str, Any] = {
        "notes": notes,
        "tags": list(tags),
        "phone": phone,
        "updated_by": updated_by,
        "updated_at": now,
    }
    done = await conn.execute(
        update(t.customer_profiles)
        .where(_cp.shop_id == shop_id, _cp.consumer_id == consumer_id)
        .values(**values)
    )
    if done.rowcount == 0:
        await conn.execute(
            insert(t.customer_profiles).values(shop_id=shop_id, consumer_id=consumer_id, **values)
        )


async def orders_page(
    conn: AsyncConnection, shop_id: int, consumer_id: int, *, page: int, page_size: int
) -> tuple[list[OrderRecord], int]:
    """The consumer's orders with the shop, newest first, and how many there are."""
    where = (_o.shop_id == shop_id, _o.consumer_id == consumer_id)
    total = await conn.scalar(select(func.count()).select_from(t.orders).where(*where))
    rows = await conn.execute(
        select(_o.id, _o.order_no, _o.title, _o.item_count, _o.amount, _o.ordered_at)
        .where(*where)
        .order_by(desc(_o.ordered_at), desc(_o.id))
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    items = [
        OrderRecord(r.id, r.order_no, r.title, r.item_count, r.amount, r.ordered_at) for r in rows
    ]
    return items, int(total or 0)


async def last_ordered_at(conn: AsyncConnection, shop_id: int, consumer_id: int) -> datetime | None:
    found: datetime | None = await conn.scalar(
        select(func.max(_o.ordered_at)).where(_o.shop_id == shop_id, _o.consumer_id == consumer_id)
    )
    return found


async def recent_conversation_ids(
    conn: AsyncConnection, shop_id: int, consumer_id: int, *, limit: int
) -> list[int]:
    """The consumer's latest conversations with the shop, newest first."""
    rows = await conn.execute(
        select(_c.id)
        .where(_c.shop_id == shop_id, _c.consumer_id == consumer_id)
        .order_by(desc(_c.created_at), desc(_c.id))
        .limit(limit)
    )
    return [int(r.id) for r in rows]


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def search_consumers(
    conn: AsyncConnection, shop_id: int, text: str, *, page: int, page_size: int
) -> tuple[list[FoundConsumer], int]:
    """CONV-6: the shop's consumers whose nickname contains `text`, or who placed the order
    numbered `text`; each with their last order time. Newest order first."""
    by_order = select(_o.consumer_id).where(
        _o.shop_id == shop_id, _o.order_no == text, _o.consumer_id.is_not(None)
    )
    where = (
        _cons.shop_id == shop_id,
        or_(_cons.nickname.like(_like(text), escape="\\"), _cons.id.in_(by_order)),
    )
    last = (
        select(func.max(_o.ordered_at))
        .where(_o.shop_id == shop_id, _o.consumer_id == _cons.id)
        .scalar_subquery()
    )
    total = await conn.scalar(select(func.count()).select_from(t.consumers).where(*where))
    rows = await conn.execute(
        select(_cons.id, _cons.uid, _cons.nickname, _cons.is_vip, last.label("last_ordered_at"))
        .where(*where)
        .order_by(desc(last), _cons.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    items = [
        FoundConsumer(r.id, r.uid, r.nickname, bool(r.is_vip), r.last_ordered_at) for r in rows
    ]
    return items, int(total or 0)


async def page_view_count(conn: AsyncConnection, conversation_id: int) -> int:
    found = await conn.scalar(
        select(func.count()).select_from(t.page_views).where(_pv.conversation_id == conversation_id)
    )
    return int(found or 0)


async def add_page_view(
    conn: AsyncConnection, shop_id: int, conversation_id: int, view: PageViewRecord
) -> None:
    await conn.execute(
        insert(t.page_views).values(
            shop_id=shop_id,
            conversation_id=conversation_id,
            url=view.url,
            title=view.title,
            at=view.at,
        )
    )


async def page_views(conn: AsyncConnection, conversation_id: int) -> list[PageViewRecord]:
    rows = await conn.execute(
        select(_pv.url, _pv.title, _pv.at)
        .where(_pv.conversation_id == conversation_id)
        .order_by(_pv.at, _pv.id)
    )
    return [PageViewRecord(r.url, r.title, r.at) for r in rows]
