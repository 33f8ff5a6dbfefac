"""Shop settings (SET-1, owner only) and the public shop page data."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from kefu import errors
from kefu.domain.shop import ShopSettings
from kefu.services.access import access_group, require_owner
from kefu.services.context import Context, Staff
from kefu.storage import repos
from kefu.storage import tables as t


async def get_settings(ctx: Context, staff: Staff) -> ShopSettings:
    async with ctx.db.read() as tx:
        return await repos.shop_settings(tx.conn, staff.shop_id)


async def update_settings(ctx: Context, staff: Staff, changes: dict[str, Any]) -> ShopSettings:
    """SET-1: owner-only settings; other roles get `forbidden`."""
    require_owner(staff, setting=sorted(changes))
    async with ctx.db.uow() as tx:
        current = await repos.shop_settings(tx.conn, staff.shop_id)
        for group_id in (changes.get("entry_groups") or {}).values():
            await access_group(tx.conn, staff, int(group_id))
        updated = current.updated(**changes)
        await tx.conn.execute(
            update(t.shops).where(t.shops.c.id == staff.shop_id).values(settings=updated.to_json())
        )
        await tx.commit()
    return updated


async def list_groups(ctx: Context, staff: Staff) -> list[dict[str, Any]]:
    async with ctx.db.read() as tx:
        rows = await tx.conn.execute(
            select(t.groups.c.id, t.groups.c.name)
            .where(t.groups.c.shop_id == staff.shop_id)
            .order_by(t.groups.c.id)
        )
        return [{"id": r.id, "name": r.name} for r in rows]


async def public_shop(ctx: Context, shop_id: int) -> dict[str, Any]:
    """The shop's public face: name and products, for its pages and the demo shop (API-1)."""
    async with ctx.db.read() as tx:
        shop = (
            await tx.conn.execute(
                select(t.shops.c.id, t.shops.c.name).where(t.shops.c.id == shop_id)
            )
        ).first()
        if shop is None:
            raise errors.NotFound(kind="shop", id=shop_id)
        p = t.products.c
        products = await tx.conn.execute(
            select(p.external_id, p.title, p.price, p.url, p.image)
            .where(p.shop_id == shop_id)
            .order_by(p.id)
        )
        o = t.orders.c
        orders = await tx.conn.execute(
            select(o.order_no, o.title, o.item_count, o.amount, o.ordered_at)
            .where(o.shop_id == shop_id)
            .order_by(o.id)
            .limit(5)
        )
        return {
            "id": shop.id,
            "name": shop.name,
            "products": [
                {
                    "id": r.external_id,
                    "title": r.title,
                    "price": r.price,
                    "url": r.url,
                    "image": r.image,
                }
                for r in products
            ],
            "orders_demo": [
                {
                    "order_no": r.order_no,
                    "title": r.title,
                    "item_count": r.item_count,
                    "amount": r.amount,
                    "ordered_at": r.ordered_at,
                }
                for r in orders
            ],
        }
