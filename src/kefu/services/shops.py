"""Shop settings (SET-1, owner only) and the public shop page data."""

from __future__ import annotations

from typing import Any

from kefu import errors
from kefu.domain.shop import ShopSettings
from kefu.services.access import access_group, require_owner
from kefu.services.context import Context, Staff
from kefu.storage import shops as store

DEMO_ORDERS_SHOWN = 5


async def get_settings(ctx: Context, staff: Staff) -> ShopSettings:
    async with ctx.db.read() as tx:
        return await store.shop_settings(tx.conn, staff.shop_id)


async def update_settings(ctx: Context, staff: Staff, changes: dict[str, Any]) -> ShopSettings:
    """SET-1: owner-only settings; other roles get `forbidden`."""
    require_owner(staff, setting=sorted(changes))
    async with ctx.db.uow() as tx:
        current = await store.shop_settings(tx.conn, staff.shop_id)
        for group_id in (changes.get("entry_groups") or {}).values():
            await access_group(tx.conn, staff, int(group_id))
        updated = current.updated(**changes)
        await store.save_settings(tx.conn, staff.shop_id, updated)
        await tx.commit()
    return updated


async def list_groups(ctx: Context, staff: Staff) -> list[dict[str, Any]]:
    async with ctx.db.read() as tx:
        found = await store.groups(tx.conn, staff.shop_id)
    return [{"id": g.id, "name": g.name} for g in found]


async def public_shop(ctx: Context, shop_id: int) -> dict[str, Any]:
    """The shop's public face: name and products, for its pages and the demo shop (API-1)."""
    async with ctx.db.read() as tx:
        name = await store.shop_name(tx.conn, shop_id)
        if name is None:
            raise errors.NotFound(kind="shop", id=shop_id)
        products = await store.products(tx.conn, shop_id)
        orders = await store.first_orders(tx.conn, shop_id, DEMO_ORDERS_SHOWN)
    return {
        "id": shop_id,
        "name": name,
        "products": [
            {
                "id": p.external_id,
                "title": p.title,
                "price": p.price,
                "url": p.url,
                "image": p.image,
            }
            for p in products
        ],
        "orders_demo": [
            {
                "order_no": o.order_no,
                "title": o.title,
                "item_count": o.item_count,
                "amount": o.amount,
                "ordered_at": o.ordered_at,
            }
            for o in orders
        ],
    }
