"""The catalog's rows: products and orders (API-1), integration tokens (API-2). Queries only;
who may read or import what is decided in catalog/service.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.catalog.domain import Order, OrderItem, OrderStatus, Product
from kefu.storage import tables as t


def _upsert(conn: AsyncConnection, table: Any, keys: list[str], columns: list[str]) -> Any:
    make = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = make(table)
    changes = {c: stmt.excluded[c] for c in columns if c not in keys}
    return stmt.on_conflict_do_update(index_elements=keys, set_=changes)


# --- products -------------------------------------------------------------------------------


async def upsert_products(
    conn: AsyncConnection, shop_id: int, products: Sequence[Product]
) -> tuple[int, int]:
    """API-1: insert or replace by external id; (inserted, updated)."""
    if not products:
        return 0, 0
    p = t.products.c
    keys = [x.external_id for x in products]
    existing = set(
        await conn.scalars(
            select(p.external_id).where(p.shop_id == shop_id, p.external_id.in_(keys))
        )
    )
    values = [
        {
            "shop_id": shop_id,
            "external_id": x.external_id,
            "title": x.title,
            "price": x.price,
            "url": x.url,
            "image": x.image,
            "stock": x.stock,
            "on_sale": x.on_sale,
        }
        for x in products
    ]
    await conn.execute(
        _upsert(conn, t.products, ["shop_id", "external_id"], list(values[0])), values
    )
    return len(products) - len(existing), len(existing)


def _product(row: Row[Any]) -> Product:
    return Product(
        row.external_id, row.title, row.price, row.image, row.url, row.stock, row.on_sale, row.id
    )


async def product(conn: AsyncConnection, shop_id: int, external_id: str) -> Product | None:
    p = t.products.c
    row = (
        await conn.execute(
            select(t.products).where(p.shop_id == shop_id, p.external_id == external_id)
        )
    ).first()
    return None if row is None else _product(row)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search_products(
    conn: AsyncConnection, shop_id: int, query: str, *, offset: int, limit: int
) -> tuple[list[Product], int]:
    """The shop's products whose title contains `query` or whose external id is it, by id."""
    p = t.products.c
    where = [p.shop_id == shop_id]
    if query:
        pattern = f"%{_escape_like(query)}%"
        where.append(or_(p.title.ilike(pattern, escape="\\"), p.external_id == query))
    total = await conn.scalar(select(func.count()).select_from(t.products).where(*where))
    rows = await conn.execute(
        select(t.products).where(*where).order_by(p.id).offset(offset).limit(limit)
    )
    return [_product(r) for r in rows], int(total or 0)


# --- orders ---------------------------------------------------------------------------------


async def consumer_ids(
    conn: AsyncConnection, shop_id: int, uids: Sequence[str], now: datetime
) -> dict[str, int]:
    """API-1: the shop's consumers by uid, creating those an order names for the first time."""
    c = t.consumers.c
    wanted = sorted(set(uids))
    query = select(c.uid, c.id).where(c.shop_id == shop_id, c.uid.in_(wanted))
    found = {uid: cid for uid, cid in await conn.execute(query)}
    missing = [u for u in wanted if u not in found]
    if missing:
        make = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        new_rows = [
            {"shop_id": shop_id, "uid": u, "nickname": u[:50], "is_vip": False, "created_at": now}
            for u in missing
        ]
        # A consumer who opened the widget meanwhile keeps the row they have.
        await conn.execute(make(t.consumers).on_conflict_do_nothing(), new_rows)
        rows = await conn.execute(
            select(c.uid, c.id).where(c.shop_id == shop_id, c.uid.in_(missing))
        )
        found |= {uid: cid for uid, cid in rows}
    return found


async def upsert_orders(
    conn: AsyncConnection, shop_id: int, orders: Sequence[Order], consumers: dict[str, int]
) -> tuple[int, int]:
    """API-1: insert or replace by order number; (inserted, updated)."""
    if not orders:
        return 0, 0
    o = t.orders.c
    keys = [x.order_no for x in orders]
    existing = set(
        await conn.scalars(select(o.order_no).where(o.shop_id == shop_id, o.order_no.in_(keys)))
    )
    values = [
        {
            "shop_id": shop_id,
            "consumer_id": consumers[x.consumer_uid],
            "order_no": x.order_no,
            "item_count": x.item_count,
            "amount": x.amount,
            "title": x.display_title[:200],
            "ordered_at": x.ordered_at,
            "items": [
                {"external_id": i.external_id, "title": i.title, "quantity": i.quantity,
                 "price": i.price}
                for i in x.items
            ],
            "status": x.status.value,
            "paid_at": x.paid_at,
            "shipped_at": x.shipped_at,
            "received_at": x.received_at,
        }
        for x in orders
    ]  # fmt: skip
    await conn.execute(_upsert(conn, t.orders, ["shop_id", "order_no"], list(values[0])), values)
    return len(orders) - len(existing), len(existing)


def _order(row: Row[Any]) -> Order:
    items = tuple(
        OrderItem(
            str(i.get("external_id", "")), str(i["title"]), int(i["quantity"]), str(i["price"])
        )
        for i in row.items or []
    )
    if not items and row.item_count:  # a row from before the import knew lines
        items = (OrderItem("", row.title, row.item_count, row.amount),)
    return Order(
        row.order_no, row.uid or "", row.amount, row.ordered_at, items, OrderStatus(row.status),
        row.paid_at, row.shipped_at, row.received_at, row.title, row.id,
    )  # fmt: skip


def _orders_query() -> Any:
    return select(t.orders, t.consumers.c.uid).outerjoin(
        t.consumers, t.consumers.c.id == t.orders.c.consumer_id
    )


async def order(
    conn: AsyncConnection, shop_id: int, order_no: str, *, consumer_id: int | None = None
) -> Order | None:
    """The shop's order by number; with `consumer_id`, only if it is that consumer's."""
    o = t.orders.c
    query = _orders_query().where(o.shop_id == shop_id, o.order_no == order_no)
    if consumer_id is not None:
        query = query.where(o.consumer_id == consumer_id)
    row = (await conn.execute(query)).first()
    return None if row is None else _order(row)


async def orders(
    conn: AsyncConnection,
    shop_id: int,
    *,
    consumer_id: int | None = None,
    consumer_uid: str | None = None,
    offset: int = 0,
    limit: int = 20,
) -> tuple[list[Order], int]:
    """The shop's orders, newest first, optionally one consumer's."""
    o = t.orders.c
    where = [o.shop_id == shop_id]
    if consumer_id is not None:
        where.append(o.consumer_id == consumer_id)
    if consumer_uid is not None:
        where.append(t.consumers.c.uid == consumer_uid)
    joined = t.orders.outerjoin(t.consumers, t.consumers.c.id == o.consumer_id)
    total = await conn.scalar(select(func.count()).select_from(joined).where(*where))
    rows = await conn.execute(
        _orders_query().where(*where).order_by(o.ordered_at.desc(), o.id.desc())
        .offset(offset).limit(limit)
    )  # fmt: skip
    return [_order(r) for r in rows], int(total or 0)


# --- integration tokens (API-2) -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: int
    shop_id: int
    name: str
    hint: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _token(row: Row[Any]) -> TokenRecord:
    return TokenRecord(
        row.id, row.shop_id, row.name, row.hint, row.created_at, row.last_used_at, row.revoked_at
    )


async def add_token(
    conn: AsyncConnection,
    shop_id: int,
    *,
    name: str,
    token_hash: str,
    hint: str,
    created_by: int | None,
    now: datetime,
) -> TokenRecord:
    row = (
        await conn.execute(
            t.api_tokens.insert()
            .values(
                shop_id=shop_id, name=name, token_hash=token_hash, hint=hint,
                created_by=created_by, created_at=now,
            )
            .returning(*t.api_tokens.c)
        )
    ).one()  # fmt: skip
    return _token(row)


async def tokens(conn: AsyncConnection, shop_id: int) -> list[TokenRecord]:
    k = t.api_tokens.c
    rows = await conn.execute(select(t.api_tokens).where(k.shop_id == shop_id).order_by(k.id))
    return [_token(r) for r in rows]


async def active_token_count(conn: AsyncConnection, shop_id: int) -> int:
    k = t.api_tokens.c
    query = select(func.count()).where(k.shop_id == shop_id, k.revoked_at.is_(None))
    return int(await conn.scalar(query) or 0)


async def revoke_token(conn: AsyncConnection, shop_id: int, token_id: int, now: datetime) -> bool:
    """False when the shop has no such token (another shop's is the same: ACCT-5)."""
    k = t.api_tokens.c
    found = await conn.scalar(
        select(k.id).where(k.id == token_id, k.shop_id == shop_id).with_for_update()
    )
    if found is None:
        return False
    await conn.execute(
        update(t.api_tokens).where(k.id == token_id, k.revoked_at.is_(None)).values(revoked_at=now)
    )
    return True


async def token_by_hash(conn: AsyncConnection, token_hash: str) -> TokenRecord | None:
    k = t.api_tokens.c
    row = (await conn.execute(select(t.api_tokens).where(k.token_hash == token_hash))).first()
    return None if row is None else _token(row)


async def touch_token(conn: AsyncConnection, token_id: int, now: datetime) -> None:
    k = t.api_tokens.c
    await conn.execute(update(t.api_tokens).where(k.id == token_id).values(last_used_at=now))
