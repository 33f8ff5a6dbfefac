"""New shops and groups (ACCT-1, ENTRY-1), shop settings (SET-1, owner only) and the public
shop page data."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from kefu import errors
from kefu.domain.accounts import MAX_SHOP_NAME_CHARS, check_name, check_secret
from kefu.domain.ids import GroupId, ShopId
from kefu.domain.permissions import Feature
from kefu.domain.shop import ENTRY_SOURCES, ShopSettings
from kefu.services import audit
from kefu.services.access import access_group
from kefu.services.context import Context, Staff
from kefu.services.permissions import require_permission
from kefu.storage import shops as store
from kefu.storage.shops import ShopRecord

DEMO_ORDERS_SHOWN = 5


async def create_shop(
    ctx: Context,
    *,
    name: str,
    manager_name: str,
    settings: ShopSettings | None = None,
    secret: str | None = None,
) -> ShopRecord:
    """ACCT-1: a shop, still without groups and accounts; its main account is made with
    create_account, named after `manager_name` (ACCT-3).

    `secret` signs the shop's consumer identities; a fresh one is drawn unless given. Entry
    groups are mapped as the groups are created (create_group's `entries`). Like
    create_group, this is provisioning and checks no actor.
    """
    check_name(name, field="name", max_chars=MAX_SHOP_NAME_CHARS)
    check_name(manager_name, field="manager_name")
    secret = secrets.token_hex(32) if secret is None else secret
    check_secret(secret)
    settings = settings or ShopSettings()
    if settings.entry_groups:
        raise errors.BadInput("A new shop has no groups to map entries to.", field="settings")
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        shop = await store.add_shop(
            tx.conn,
            name=name,
            manager_name=manager_name,
            secret=secret,
            settings=settings,
            created_at=now,
        )
        await tx.commit()
    return shop


async def create_group(
    ctx: Context,
    *,
    shop_id: ShopId,
    name: str,
    entries: Sequence[str] = (),
    audit_as: Staff | None = None,
) -> GroupId:
    """ENTRY-1: a reception group, its name unique in the shop; the entry sources in `entries`
    are routed to it from now on. With `audit_as` (the owner's route), the audit log keeps it."""
    check_name(name, field="name")
    unknown = sorted(set(entries) - set(ENTRY_SOURCES))
    if unknown:
        raise errors.BadInput(
            "Unknown entry source.", field="entries", unknown=unknown, allowed=list(ENTRY_SOURCES)
        )
    async with ctx.db.uow() as tx:
        await tx.lock_shop(shop_id)  # two creations of one name must not both pass the check
        if await store.shop(tx.conn, shop_id) is None:
            raise errors.NotFound(kind="shop", id=shop_id)
        if any(g.name == name for g in await store.groups(tx.conn, shop_id)):
            raise errors.Conflict(
                "The shop already has a group of this name.",
                code="group.name_taken",
                field="name",
            )
        group_id = await store.add_group(tx.conn, shop_id, name)
        if audit_as is not None:
            await audit.record(
                tx.conn,
                shop_id=shop_id,
                actor=audit_as,
                action="group.create",
                target=("group", group_id),
                at=ctx.clock.now(),
                name=name,
            )
        if entries:
            current = await store.shop_settings(tx.conn, shop_id)
            routed = current.entry_groups | dict.fromkeys(entries, int(group_id))
            await store.save_settings(tx.conn, shop_id, replace(current, entry_groups=routed))
        await tx.commit()
    return group_id


async def get_settings(ctx: Context, staff: Staff) -> ShopSettings:
    async with ctx.db.read() as tx:
        return await store.shop_settings(tx.conn, staff.shop_id)


async def update_settings(ctx: Context, staff: Staff, changes: dict[str, Any]) -> ShopSettings:
    """SET-1: the owner's settings; other roles get `forbidden` (naming the feature) unless
    the owner granted them the settings feature (ACCT-6)."""
    require_permission(staff, Feature.SETTINGS, setting=sorted(changes))
    async with ctx.db.uow() as tx:
        current = await store.shop_settings(tx.conn, staff.shop_id)
        for group_id in (changes.get("entry_groups") or {}).values():
            await access_group(tx.conn, staff, int(group_id))
        updated = current.updated(**changes)
        await store.save_settings(tx.conn, staff.shop_id, updated)
        await audit.record(
            tx.conn,
            shop_id=staff.shop_id,
            actor=staff,
            action="shop.settings",
            target=("shop", staff.shop_id),
            at=ctx.clock.now(),
            **{k: v for k, v in changes.items() if v is not None},
        )
        await tx.commit()
    return updated


async def shop_count(ctx: Context) -> int:
    """How many shops the database holds (`kefu serve` says how to create the first)."""
    async with ctx.db.read() as tx:
        return await store.shop_count(tx.conn)


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
