"""The demo shop (`kefu demo`): an owner, four agents in two groups, products, orders, a VIP
buyer, the bot switched on with a knowledge base of common e-commerce questions, and shop-wide
quick phrases."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from importlib import resources
from typing import Any

from kefu.bot import kbfile
from kefu.bot import service as bot_service
from kefu.bot.cache import KbCache
from kefu.catalog import service as catalog
from kefu.catalog.importer import Kind
from kefu.demo import DEMO_BUYER_NICKNAME, DEMO_BUYER_UID, DEMO_SHOP_ID, DEMO_SHOP_NAME
from kefu.domain.ids import ShopId
from kefu.domain.presence import Role
from kefu.domain.shop import ShopSettings
from kefu.services.accounts import NewAccount, create_accounts
from kefu.services.context import Context
from kefu.services.shops import create_group, create_shop
from kefu.storage import accounts as account_store
from kefu.storage import phrases as phrase_store
from kefu.storage import shops as shop_store

DEMO_PASSWORD = "demo1234"  # noqa: S105 - printed to the person running the demo

DEMO_ACCOUNTS = [
    # username, display name, role, group index
    ("owner", "林晓", Role.OWNER, None),
    ("agent1", "小美", Role.SUPERVISOR, 0),
    ("agent2", "阿杰", Role.AGENT, 0),
    ("agent3", "小雨", Role.LEADER, 1),
    ("agent4", "大鹏", Role.AGENT, 1),
]

DEMO_PRODUCTS = [
    ("p-1001", "轻薄羽绒服 女款 冬季保暖短款", "399.00"),
    ("p-1002", "无线降噪蓝牙耳机 长续航", "259.00"),
    ("p-1003", "有机高山绿茶 250g 礼盒装", "128.00"),
    ("p-1004", "儿童保温水杯 316不锈钢 500ml", "89.00"),
    ("p-1005", "智能体脂秤 蓝牙连接 家用", "119.00"),
    ("p-1006", "纯棉四件套 1.8m床 简约条纹", "229.00"),
]


async def seed_demo(ctx: Context) -> bool:
    """Create the demo shop unless it exists; True when it was created.

    It is the first shop of the fresh database `kefu demo` makes, hence DEMO_SHOP_ID.
    """
    async with ctx.db.read() as tx:
        if await shop_store.shop(tx.conn, DEMO_SHOP_ID) is not None:
            return False
    shop = await create_shop(
        ctx,
        name=DEMO_SHOP_NAME,
        manager_name="林晓",
        settings=ShopSettings(bot_enabled=True, bot_mode="bot_first"),
    )
    group_ids = [
        await create_group(ctx, shop_id=shop.id, name="售前组", entries=["product"]),
        await create_group(ctx, shop_id=shop.id, name="售后组", entries=["order", "after_sale"]),
    ]
    accounts = [
        NewAccount(
            username,
            DEMO_PASSWORD,
            role,
            display_name=name,
            group_id=group_ids[group] if group is not None else None,
            has_im_permission=role is not Role.OWNER,
            reception_limit=5,
        )
        for username, name, role, group in DEMO_ACCOUNTS
    ]
    await create_accounts(ctx, shop_id=shop.id, accounts=accounts)
    await _add_catalogue(ctx, shop.id)
    await _add_knowledge(ctx, shop.id)
    await _add_phrases(ctx, shop.id)
    return True


DEMO_PHRASES = [
    ("问候", "您好，我是小鹿优选的客服，很高兴为您服务～"),
    ("稍等", "好的，我帮您查一下，请稍等一分钟。"),
    ("发货", "现货订单付款后 48 小时内发货，发货后可以在订单里查看物流。"),
    ("退换", "签收后 7 天内支持无理由退换，在订单里点“申请售后”就可以。"),
    ("感谢", "感谢您的耐心，祝您购物愉快，有问题随时找我们！"),
]


async def _add_knowledge(ctx: Context, shop_id: ShopId) -> None:
    """BOT-2: the demo's questions, imported through the knowledge base's own import."""
    data = resources.files("kefu").joinpath("demo/kb.json").read_bytes()
    parsed = kbfile.parse(data, fmt="json")
    await bot_service.import_rows(ctx, KbCache(), shop_id, parsed)


async def _add_phrases(ctx: Context, shop_id: ShopId) -> None:
    """MSG-4: shop-wide quick phrases (no account: the whole shop's)."""
    async with ctx.db.uow() as tx:
        await phrase_store.add(tx.conn, shop_id, None, DEMO_PHRASES, ctx.clock.now())
        await tx.commit()


async def _add_catalogue(ctx: Context, shop_id: ShopId) -> None:
    """API-1: the products, and a VIP buyer with orders of the first three of them, imported
    through the catalog's own import."""
    now = ctx.clock.now()
    products = [
        {"external_id": external_id, "title": title, "price": price, "stock": 100,
         "url": f"/demo/shop?shop={shop_id}#{external_id}"}
        for external_id, title, price in DEMO_PRODUCTS
    ]  # fmt: skip
    orders = [
        {
            "order_no": f"DD2026{1000 + i}",
            "consumer_uid": DEMO_BUYER_UID,
            "amount": price,
            "ordered_at": (now - timedelta(days=i + 1)).isoformat(),
            "paid_at": (now - timedelta(days=i + 1)).isoformat(),
            "status": "shipped" if i else "paid",
            "items": [{"external_id": external_id, "title": title, "quantity": 1, "price": price}],
        }
        for i, (external_id, title, price) in enumerate(DEMO_PRODUCTS[:3])
    ]
    async with ctx.db.uow() as tx:
        await account_store.add_consumer(
            tx.conn,
            shop_id,
            uid=DEMO_BUYER_UID,
            nickname=DEMO_BUYER_NICKNAME,
            is_vip=True,
            created_at=now,
        )
        await tx.commit()
    batches: list[tuple[Kind, list[dict[str, Any]]]] = [
        ("products", products),
        ("orders", orders),
    ]
    for kind, rows in batches:
        data = json.dumps(rows, ensure_ascii=False).encode()
        await catalog.import_into(
            ctx, shop_id, kind=kind, raw=io.BytesIO(data), size=len(data), fmt="json"
        )
