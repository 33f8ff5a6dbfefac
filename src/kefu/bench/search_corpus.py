"""A synthetic shop history for the search benchmark and tests (DATA-5): Chinese e-commerce chat
made from word lists (deterministic for a seed), loaded in bulk into a fresh schema."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, text

from kefu.storage import tables as t
from kefu.storage.db import Database, DbTimeouts

PRODUCTS = (
    "连衣裙", "牛仔裤", "羽绒服", "运动鞋", "双肩包", "蓝牙耳机", "保温杯", "电动牙刷", "面膜",
    "洗面奶", "口红", "手机壳", "充电宝", "数据线", "机械键盘", "无线鼠标", "台灯", "空气炸锅",
    "电饭煲", "破壁机", "床单四件套", "乳胶枕", "羊毛衫", "卫衣", "雪地靴", "行李箱", "儿童书包",
    "奶粉", "纸尿裤", "猫粮", "狗绳", "坚果礼盒", "牛肉干", "普洱茶", "咖啡豆", "蜂蜜", "瑜伽垫",
    "跑步机", "登山杖", "帐篷",
)  # fmt: skip
COLORS = ("黑色", "白色", "红色", "藏青色", "米白色", "卡其色", "粉色", "浅灰色", "酒红色")
SIZES = ("S码", "M码", "L码", "XL码", "均码", "36码", "38码", "40码", "42码")
CITIES = (
    "北京", "上海", "广州", "深圳", "杭州", "成都", "重庆", "武汉", "西安", "南京", "苏州", "天津",
    "长沙", "郑州", "青岛", "沈阳", "昆明", "哈尔滨", "乌鲁木齐", "拉萨", "厦门", "福州", "合肥",
    "南宁", "贵阳", "兰州", "海口", "呼和浩特", "银川", "西宁",
)  # fmt: skip
COURIERS = ("顺丰", "中通", "圆通", "韵达", "申通", "邮政", "京东物流", "极兔")
CONSUMER_LINES = (
    "你好，{p}还有货吗",
    "在吗？想问一下{p}有{c}的吗",
    "{p}{s}还有吗，我平时穿{s}",
    "我的订单什么时候发货啊，单号{o}",
    "快递到{city}大概要几天",
    "能发{k}吗？别的快递我们这不送",
    "收到的{p}有点问题，颜色和图片不一样",
    "我想申请退款可以吗",
    "七天无理由退换货怎么操作",
    "{p}尺码偏大还是偏小",
    "能便宜一点吗，我买两件",
    "有没有优惠券可以领",
    "发票怎么开，要开公司抬头",
    "地址填错了，能帮我改成{city}吗",
    "物流三天没更新了，帮我查一下{o}",
    "{p}是正品吗，有没有质检报告",
    "包装破损了，{p}也摔坏了",
    "我要换货，换成{c}的",
    "赠品没收到，说好的送{gift}",
    "好的谢谢",
    "嗯嗯，那我再看看",
    "客服怎么不回复",
    "这个{p}可以机洗吗",
    "保修多久，坏了怎么办",
    "会员有折扣吗",
    "退货运费谁出",
    "我已经寄回了，{k}单号{o}",
    "什么时候能退款到账",
)
AGENT_LINES = (
    "亲，您好，很高兴为您服务",
    "亲，{p}有现货的哦，今天下单明天发货",
    "亲，{p}{c}的目前缺货，预计下周到货呢",
    "亲，建议您拍{s}哦，版型是正常尺码",
    "亲，我们默认发{k}，到{city}一般两到三天",
    "亲，已经帮您催促仓库了，请耐心等待",
    "亲，帮您查询了，订单{o}已经发出，{k}在途中",
    "亲，可以申请退款的，在订单页面点击申请售后即可",
    "亲，七天无理由退换货，商品不影响二次销售就可以",
    "亲，很抱歉给您带来不便，麻烦拍一下照片给我们看看",
    "亲，运费险会补贴退货运费的哦",
    "亲，退款会在审核通过后一到三个工作日原路返回",
    "亲，店铺首页可以领取满减优惠券",
    "亲，发票在确认收货后联系客服开具，电子发票哦",
    "亲，地址已经帮您修改为{city}了",
    "亲，我们是品牌授权店，保证正品，支持专柜验货",
    "亲，赠品{gift}会随包裹一起发出的",
    "亲，{p}保修一年，有问题随时联系我们",
    "亲，换货的话请先寄回，收到后给您发{c}的",
    "不客气哦，祝您生活愉快",
    "亲，还有其他可以帮您的吗",
)
GIFTS = ("小样", "钥匙扣", "收纳袋", "试用装", "贴纸", "手提袋")
NICK_PARTS = (
    ("小", "大", "阿", "老", "甜", "酷", "快乐的", "安静的", "爱吃", "晴天"),
    ("猫", "鱼", "熊", "兔", "橙子", "柚子", "星星", "月亮", "豆豆", "米粒", "糖糖", "可乐"),
)
AGENTS_PER_GROUP = 10
GROUPS = 2
MESSAGES_PER_CONVERSATION = 20  # on average; each one has between 6 and 34
CONVERSATIONS_PER_CONSUMER = 2
HISTORY_DAYS = 180
START = datetime(2026, 1, 1, tzinfo=UTC)


def line(rng: random.Random, templates: tuple[str, ...]) -> str:
    return rng.choice(templates).format(
        p=rng.choice(PRODUCTS),
        c=rng.choice(COLORS),
        s=rng.choice(SIZES),
        city=rng.choice(CITIES),
        k=rng.choice(COURIERS),
        gift=rng.choice(GIFTS),
        o=str(rng.randrange(10**15, 10**16)),
    )


@dataclass(frozen=True, slots=True)
class Conversation:
    """One generated conversation: its consumer (index), agent (index) and lines."""

    consumer: int
    agent: int
    started_at: datetime
    lines: list[tuple[str, str]] = field(default_factory=list)  # (sender, body)


def conversations(messages: int, *, seed: int = 13, consumers: int = 0) -> Iterator[Conversation]:
    """Conversations holding `messages` messages in all, in time order over HISTORY_DAYS."""
    rng = random.Random(seed)
    agents = AGENTS_PER_GROUP * GROUPS
    consumers = consumers or max(1, messages // (MESSAGES_PER_CONVERSATION * 2))
    step = timedelta(days=HISTORY_DAYS) / max(1, messages // MESSAGES_PER_CONVERSATION)
    at, left = START, messages
    while left > 0:
        size = min(left, rng.randint(6, 2 * MESSAGES_PER_CONVERSATION - 6))
        convo = Conversation(rng.randrange(consumers), rng.randrange(agents), at)
        for i in range(size):
            sender = "consumer" if i % 2 == 0 else "agent"
            convo.lines.append(
                (sender, line(rng, CONSUMER_LINES if sender == "consumer" else AGENT_LINES))
            )
        yield convo
        left -= size
        at += step


def nickname(index: int) -> str:
    first, second = NICK_PARTS
    return f"{first[index % len(first)]}{second[index // len(first) % len(second)]}{index}"


@dataclass(frozen=True, slots=True)
class LoadedShop:
    shop_id: int
    group_ids: list[int]
    agent_ids: list[int]  # agent k is in group k % GROUPS
    consumer_ids: list[int]
    messages: int


Progress = Callable[[int], None]


async def load_shop(
    db: Database,
    messages: int,
    *,
    seed: int = 13,
    name: str = "Search bench",
    consumers: int = 0,
    progress: Progress | None = None,
    chunk: int = 5000,
) -> LoadedShop:
    """A shop with groups, agents, consumers and ended conversations holding `messages`
    messages (the schema must exist). The search indexes are dropped during the load and
    rebuilt after, as a bulk import would do."""
    now = START
    consumers = consumers or max(1, messages // (MESSAGES_PER_CONVERSATION * 2))
    async with db.uow() as tx:
        conn = tx.conn
        shop_id = int(
            await conn.scalar(
                insert(t.shops)
                .values(
                    name=name, manager_name="bench", secret="x" * 32, settings={}, created_at=now
                )
                .returning(t.shops.c.id)
            )
            or 0
        )
        group_ids = [
            int(
                await conn.scalar(
                    insert(t.groups)
                    .values(shop_id=shop_id, name=f"组{g + 1}")
                    .returning(t.groups.c.id)
                )
                or 0
            )
            for g in range(GROUPS)
        ]
        agent_ids = [
            int(
                await conn.scalar(
                    insert(t.accounts)
                    .values(
                        shop_id=shop_id,
                        username=f"agent{k}",
                        password_hash="-",  # noqa: S106 (no password: bench agents never sign in)
                        display_name=f"客服{k}",
                        role="agent",
                        group_id=group_ids[k % GROUPS],
                        created_at=now,
                    )
                    .returning(t.accounts.c.id)
                )
                or 0
            )
            for k in range(AGENTS_PER_GROUP * GROUPS)
        ]
        consumer_ids: list[int] = []
        for start in range(0, consumers, chunk):
            rows = [
                {
                    "shop_id": shop_id,
                    "uid": f"u{shop_id}-{i}",
                    "nickname": nickname(i),
                    "is_vip": False,
                    "created_at": now,
                }
                for i in range(start, min(consumers, start + chunk))
            ]
            consumer_ids += list(
                await conn.scalars(insert(t.consumers).returning(t.consumers.c.id), rows)
            )
        await tx.commit()
    await _without_search_index(db)
    done = 0
    batch: list[Conversation] = []
    for convo in conversations(messages, seed=seed, consumers=consumers):
        batch.append(convo)
        if sum(len(c.lines) for c in batch) >= chunk:
            done += await _insert(db, shop_id, group_ids, agent_ids, consumer_ids, batch)
            batch = []
            if progress:
                progress(done)
    if batch:
        done += await _insert(db, shop_id, group_ids, agent_ids, consumer_ids, batch)
        if progress:
            progress(done)
    await ensure_search_index(db)
    return LoadedShop(shop_id, group_ids, agent_ids, consumer_ids, done)


async def _insert(
    db: Database,
    shop_id: int,
    group_ids: list[int],
    agent_ids: list[int],
    consumer_ids: list[int],
    batch: list[Conversation],
) -> int:
    async with db.uow() as tx:
        conn = tx.conn
        rows = []
        for c in batch:
            end = c.started_at + timedelta(seconds=30 * len(c.lines))
            rows.append(
                {
                    "shop_id": shop_id,
                    "consumer_id": consumer_ids[c.consumer],
                    "state": "ended",
                    "group_id": group_ids[c.agent % GROUPS],
                    "agent_id": agent_ids[c.agent],
                    "entry": {},
                    "created_at": c.started_at,
                    "assigned_at": c.started_at,
                    "ended_at": end,
                    "end_cause": "agent",
                    "last_seq": len(c.lines),
                    "last_message_at": end - timedelta(seconds=30),
                    "is_transferred": False,
                }
            )
        ids = list(
            await conn.scalars(insert(t.conversations).returning(t.conversations.c.id), rows)
        )
        await conn.execute(
            insert(t.participants),
            [
                {
                    "conversation_id": cid,
                    "account_id": agent_ids[c.agent],
                    "shop_id": shop_id,
                    "role": "holder",
                    "joined_at": c.started_at,
                }
                for cid, c in zip(ids, batch, strict=True)
            ],
        )
        messages = [
            {
                "shop_id": shop_id,
                "conversation_id": cid,
                "seq": seq,
                "sender": sender,
                "sender_id": agent_ids[c.agent] if sender == "agent" else None,
                "kind": "text",
                "body": body,
                "client_id": None,
                "created_at": c.started_at + timedelta(seconds=30 * (seq - 1)),
                "meta": None,
            }
            for cid, c in zip(ids, batch, strict=True)
            for seq, (sender, body) in enumerate(c.lines, start=1)
        ]
        await conn.execute(insert(t.messages), messages)
        await tx.commit()
    return len(messages)


async def _without_search_index(db: Database) -> None:
    async with db.uow() as tx:
        if db.is_sqlite:
            for statement in t.SQLITE_SEARCH_DROP:
                await tx.conn.execute(text(statement))
        else:
            await tx.conn.execute(text("DROP INDEX IF EXISTS ix_messages_body_trgm"))
        await tx.commit()


async def ensure_search_index(db: Database) -> None:
    """The search index made over every message if it is missing (after a bulk load, or a
    load cut short), on a connection allowed to take as long as that takes."""
    slow = Database(db.url, pool_size=1, timeouts=DbTimeouts(statement_s=3600.0, lock_s=600.0))
    try:
        async with slow.uow() as tx:
            conn = tx.conn
            if db.is_sqlite:
                present = await conn.scalar(
                    text("SELECT count(*) FROM sqlite_master WHERE name = 'message_search'")
                )
                if not present:
                    for statement in t.SQLITE_SEARCH_DDL:
                        await conn.execute(text(statement))
                    await conn.execute(
                        text("INSERT INTO message_search(message_search) VALUES ('rebuild')")
                    )
            else:
                await conn.execute(
                    text(
                        "CREATE INDEX IF NOT EXISTS ix_messages_body_trgm "
                        "ON messages USING gin (body gin_trgm_ops)"
                    )
                )
            await tx.commit()
        if not db.is_sqlite:
            # What autovacuum does to a table that has settled: statistics, and the visibility
            # map that lets index scans skip the heap. Searching a table still being loaded is
            # not what a shop with a million messages does.
            autocommit = slow.engine.execution_options(isolation_level="AUTOCOMMIT")
            async with autocommit.connect() as conn:
                await conn.execute(text("VACUUM ANALYZE"))
    finally:
        await slow.dispose()
