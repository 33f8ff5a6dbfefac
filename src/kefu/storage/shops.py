"""Shops, their settings and their groups (SET-1, ENTRY-1). Queries only; who may change what is
decided in services/shops.py."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain.shop import ShopSettings
from kefu.storage import tables as t


async def shop_settings(conn: AsyncConnection, shop_id: int) -> ShopSettings:
    data = await conn.scalar(select(t.shops.c.settings).where(t.shops.c.id == shop_id))
    return ShopSettings.from_json(data)


async def default_group_id(conn: AsyncConnection, shop_id: int) -> int | None:
    found = await conn.scalar(select(func.min(t.groups.c.id)).where(t.groups.c.shop_id == shop_id))
    return int(found) if found is not None else None
