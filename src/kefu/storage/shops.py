"""Shops, their settings and groups, and what a shop's public page shows (SET-1, ENTRY-1,
API-1). Queries only; who may change what is decided in services/shops.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain.ids import GroupId, ShopId
from kefu.domain.shop import ShopSettings
from kefu.storage import tables as t


@dataclass(frozen=True, slots=True)
class ShopRecord:
    id: ShopId
    name: str
    manager_name: str
    secret: str


@dataclass(frozen=True, slots=True)
class GroupRecord:
    id: GroupId
    name: str


@dataclass(frozen=True, slots=True)
class ProductRecord:
    external_id: str
    title: str
    price: str
    url: str
    image: str


@dataclass(frozen=True, slots=True)
class OrderRecord:
    order_no: str
    title: str
    item_count: int
    amount: str
    ordered_at: datetime


# --- shops ----------------------------------------------------------------------------------


async def add_shop(
    conn: AsyncConnection,
    *,
    name: str,
    manager_name: str,
    secret: str,
    settings: ShopSettings,
    created_at: datetime,
) -> ShopRecord:
    found = await conn.scalar(
        insert(t.shops)
        .values(
            name=name,
            manager_name=manager_name,
            secret=secret,
            settings=settings.to_json(),
            created_at=created_at,
        )
        .returning(t.shops.c.id)
    )
    assert found is not None
    return ShopRecord(ShopId(found), name, manager_name, secret)


async def shop(conn: AsyncConnection, shop_id: int) -> ShopRecord | None:
    s = t.shops.c
    row = (
        await conn.execute(select(s.id, s.name, s.manager_name, s.secret).where(s.id == shop_id))
    ).first()
    return ShopRecord(ShopId(row.id), row.name, row.manager_name, row.secret) if row else None


async def shop_name(conn: AsyncConnection, shop_id: int) -> str | None:
    return await conn.scalar(select(t.shops.c.name).where(t.shops.c.id == shop_id))


async def shop_secret(conn: AsyncConnection, shop_id: int) -> str | None:
    """The key the shop's own site signs consumer identities with; None for no such shop."""
    return await conn.scalar(select(t.shops.c.secret).where(t.shops.c.id == shop_id))


async def shop_settings(conn: AsyncConnection, shop_id: int) -> ShopSettings:
    data = await conn.scalar(select(t.shops.c.settings).where(t.shops.c.id == shop_id))
    return ShopSettings.from_json(data)


async def save_settings(conn: AsyncConnection, shop_id: int, settings: ShopSettings) -> None:
    await conn.execute(
        update(t.shops).where(t.shops.c.id == shop_id).values(settings=settings.to_json())
    )


# --- groups ---------------------------------------------------------------------------------


async def default_group_id(conn: AsyncConnection, shop_id: int) -> int | None:
    found = await conn.scalar(select(func.min(t.groups.c.id)).where(t.groups.c.shop_id == shop_id))
    return int(found) if found is not None else None


async def groups(conn: AsyncConnection, shop_id: int) -> list[GroupRecord]:
    g = t.groups.c
    rows = await conn.execute(select(g.id, g.name).where(g.shop_id == shop_id).order_by(g.id))
    return [GroupRecord(GroupId(r.id), r.name) for r in rows]


async def shop_group(conn: AsyncConnection, shop_id: int, group_id: int) -> GroupRecord | None:
    """The group if it belongs to this shop (ACCT-5)."""
    g = t.groups.c
    row = (
        await conn.execute(select(g.id, g.name).where(g.id == group_id, g.shop_id == shop_id))
    ).first()
    return GroupRecord(GroupId(row.id), row.name) if row is not None else None


async def add_group(conn: AsyncConnection, shop_id: int, name: str) -> GroupId:
    found = await conn.scalar(
        insert(t.groups).values(shop_id=shop_id, name=name).returning(t.groups.c.id)
    )
    assert found is not None
    return GroupId(found)


async def rename_group(conn: AsyncConnection, group_id: int, name: str) -> None:
    await conn.execute(update(t.groups).where(t.groups.c.id == group_id).values(name=name))


async def delete_group(conn: AsyncConnection, shop_id: int, group_id: int) -> None:
    """The group and its greetings (SET-2); callers check first that nothing refers to it."""
    w = t.greetings.c
    await conn.execute(
        delete(t.greetings).where(
            w.shop_id == shop_id, w.target == "group", w.target_id == group_id
        )
    )
    await conn.execute(delete(t.groups).where(t.groups.c.id == group_id))


async def group_conversation_count(conn: AsyncConnection, group_id: int) -> int:
    """Conversations routed or transferred to the group, whatever their state: they keep it."""
    c, x = t.conversations.c, t.transfers.c
    routed = await conn.scalar(select(func.count()).where(c.group_id == group_id))
    transferred = await conn.scalar(select(func.count()).where(x.to_group_id == group_id))
    return int(routed or 0) + int(transferred or 0)


async def shop_count(conn: AsyncConnection) -> int:
    return int(await conn.scalar(select(func.count()).select_from(t.shops)) or 0)


# --- products and orders, as the public page shows them (API-1) -----------------------------


async def add_products(
    conn: AsyncConnection, shop_id: int, products: Sequence[ProductRecord]
) -> None:
    await conn.execute(
        insert(t.products),
        [
            {
                "shop_id": shop_id,
                "external_id": p.external_id,
                "title": p.title,
                "price": p.price,
                "url": p.url,
                "image": p.image,
            }
            for p in products
        ],
    )


async def add_orders(
    conn: AsyncConnection, shop_id: int, consumer_id: int, orders: Sequence[OrderRecord]
) -> None:
    await conn.execute(
        insert(t.orders),
        [
            {
                "shop_id": shop_id,
                "consumer_id": consumer_id,
                "order_no": o.order_no,
                "title": o.title,
                "item_count": o.item_count,
                "amount": o.amount,
                "ordered_at": o.ordered_at,
            }
            for o in orders
        ],
    )


async def products(conn: AsyncConnection, shop_id: int) -> list[ProductRecord]:
    p = t.products.c
    rows = await conn.execute(
        select(p.external_id, p.title, p.price, p.url, p.image)
        .where(p.shop_id == shop_id)
        .order_by(p.id)
    )
    return [ProductRecord(r.external_id, r.title, r.price, r.url, r.image) for r in rows]


async def first_orders(conn: AsyncConnection, shop_id: int, limit: int) -> list[OrderRecord]:
    o = t.orders.c
    rows = await conn.execute(
        select(o.order_no, o.title, o.item_count, o.amount, o.ordered_at)
        .where(o.shop_id == shop_id)
        .order_by(o.id)
        .limit(limit)
    )
    return [OrderRecord(r.order_no, r.title, r.item_count, r.amount, r.ordered_at) for r in rows]
