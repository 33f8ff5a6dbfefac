"""The demo shop (`kefu demo`): an owner, four agents in two groups, products, orders, consumers."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import insert, select

from kefu.domain.presence import Role
from kefu.domain.shop import ShopSettings
from kefu.services.context import Context
from kefu.storage import tables as t

DEMO_PASSWORD = "demo1234"  # noqa: S105 - printed to the person running the demo
DEMO_SHOP_ID = 1

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
    """Create the demo shop unless it exists; True when it was created."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        if await tx.conn.scalar(select(t.shops.c.id).where(t.shops.c.id == DEMO_SHOP_ID)):
            return False
        await tx.conn.execute(
            insert(t.shops).values(
                id=DEMO_SHOP_ID,
                name="小鹿优选旗舰店",
                manager_name="林晓",
                secret=secrets.token_hex(32),
                settings={},
                created_at=now,
            )
        )
        group_ids = []
        for name in ("售前组", "售后组"):
            group_ids.append(
                await tx.conn.scalar(
                    insert(t.groups)
                    .values(shop_id=DEMO_SHOP_ID, name=name)
                    .returning(t.groups.c.id)
                )
            )
        settings = ShopSettings(
            entry_groups={
                "product": group_ids[0],
                "order": group_ids[1],
                "after_sale": group_ids[1],
            }
        )
        await tx.conn.execute(
            t.shops.update().where(t.shops.c.id == DEMO_SHOP_ID).values(settings=settings.to_json())
        )
        password_hash = ctx.hasher.hash(DEMO_PASSWORD)
        for username, name, role, group in DEMO_ACCOUNTS:
            await tx.conn.execute(
                insert(t.accounts).values(
                    shop_id=DEMO_SHOP_ID,
                    username=username,
                    password_hash=password_hash,
                    display_name=name,
                    role=role,
                    group_id=group_ids[group] if group is not None else None,
                    has_im_permission=role is not Role.OWNER,
                    status="offline",
                    is_suspended=False,
                    reception_limit=5,
                    created_at=now,
                )
            )
        for external_id, title, price in DEMO_PRODUCTS:
            await tx.conn.execute(
                insert(t.products).values(
                    shop_id=DEMO_SHOP_ID,
                    external_id=external_id,
                    title=title,
                    price=price,
                    url=f"/demo/shop?shop=1#{external_id}",
                    image="",
                )
            )
        consumer_id = await tx.conn.scalar(
            insert(t.consumers)
            .values(
                shop_id=DEMO_SHOP_ID,
                uid="demo-buyer",
                nickname="买家小王",
                is_vip=True,
                created_at=now,
            )
            .returning(t.consumers.c.id)
        )
        for i, (_, title, price) in enumerate(DEMO_PRODUCTS[:3]):
            await tx.conn.execute(
                insert(t.orders).values(
                    shop_id=DEMO_SHOP_ID,
                    consumer_id=consumer_id,
                    order_no=f"DD2026{1000 + i}",
                    item_count=1,
                    amount=price,
                    title=title,
                    ordered_at=now - timedelta(days=i + 1),
                )
            )
        await tx.commit()
    return True
