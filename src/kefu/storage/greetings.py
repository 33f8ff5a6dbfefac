"""Welcome and closing messages per group and per agent (SET-2). Queries only; which one wins
is decided in services/greetings.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain.shop import ShopSettings
from kefu.storage import tables as t


@dataclass(frozen=True, slots=True)
class Greeting:
    target: str
    target_id: int
    welcome: str | None
    closing: str | None


async def for_shop(conn: AsyncConnection, shop_id: int) -> list[Greeting]:
    g = t.greetings.c
    rows = await conn.execute(
        select(t.greetings).where(g.shop_id == shop_id).order_by(g.target, g.target_id)
    )
    return [Greeting(r.target, r.target_id, r.welcome, r.closing) for r in rows]


def with_settings_query(shop_id: int) -> Select[Any]:
    """The shop's settings and its greetings, one row per greeting (`settings_of` reads them)."""
    g = t.greetings.c
    return (
        select(t.shops.c.settings, g.target, g.target_id, g.welcome, g.closing)
        .outerjoin(t.greetings, g.shop_id == t.shops.c.id)
        .where(t.shops.c.id == shop_id)
        .order_by(g.target, g.target_id)
    )


def settings_of(rows: Sequence[Any]) -> tuple[ShopSettings, list[Greeting]]:
    settings = ShopSettings.from_json(rows[0].settings if rows else None)
    items = [Greeting(r.target, r.target_id, r.welcome, r.closing) for r in rows if r.target]
    return settings, items


async def replace_all(conn: AsyncConnection, shop_id: int, items: list[Greeting]) -> None:
    await conn.execute(delete(t.greetings).where(t.greetings.c.shop_id == shop_id))
    if items:
        await conn.execute(
            insert(t.greetings),
            [
                {
                    "shop_id": shop_id,
                    "target": i.target,
                    "target_id": i.target_id,
                    "welcome": i.welcome,
                    "closing": i.closing,
                }
                for i in items
            ],
        )


async def agent_groups(conn: AsyncConnection, agent_ids: list[int]) -> dict[int, int | None]:
    a = t.accounts.c
    rows = await conn.execute(select(a.id, a.group_id).where(a.id.in_(agent_ids)))
    return {r.id: r.group_id for r in rows}
