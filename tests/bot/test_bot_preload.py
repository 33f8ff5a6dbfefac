"""BOT-5 (issue 11): the bot's matchers are built off the event loop at start-up and on every
knowledge-base change, never on a consumer's question; the loop keeps ticking meanwhile."""

from __future__ import annotations

import httpx

from kefu.domain.shop import ShopSettings
from kefu.storage import kb
from support import AgentSpec, LagProbe, bot_answer, eventually, make_shop, running_server

BOT_ON = ShopSettings(bot_enabled=True, bot_mode="bot_first")
TOPICS = ("发货", "退货", "退款", "发票", "尺码", "优惠券", "快递", "运费", "地址", "颜色")
GOODS = ("衣服", "鞋子", "帽子")
ASKS = ("多久", "怎么弄", "可以吗", "在哪里看", "有问题", "规则", "费用", "流程", "时间", "条件")
# Loop ticks every 10 ms; a stall this long would be felt by every other client.
MAX_LAG_S = 0.25


async def test_bot_5_matchers_are_built_at_start_up_not_on_the_first_question(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(
            srv.db, agents=[AgentSpec("alice")], settings=BOT_ON, clock=srv.clock
        )
        # 300 questions written before this process's next start.
        now = srv.clock.now()
        async with srv.db.uow() as tx:
            for topic in TOPICS:
                for ask in ASKS:
                    for thing in GOODS:
                        values = {
                            "category_id": None,
                            "question": f"{thing}{topic}{ask}",
                            "answer": f"{thing}{topic}{ask}的回答",
                            "phrasings": [],
                            "related_ids": [],
                        }
                        await kb.insert_question(tx.conn, shop.shop_id, values, now)
            await kb.bump_version(tx.conn, shop.shop_id)
            await tx.commit()
        async with running_server(db_url, create_schema=False, clock=srv.clock) as fresh:
            matchers = fresh.runtime.bot.matchers
            # Nobody asked anything yet: the start-up built the shop's matcher by itself.
            await eventually(lambda: matchers.cached_version(shop.shop_id) is not None)
            assert matchers.builds_ahead == 1
            consumer = await fresh.consumer(shop.shop_id)
            with LagProbe() as lag:
                answer = (await bot_answer(consumer, "鞋子发票多久呀", "q1"))["message"]
            assert answer["body"] == "鞋子发票多久的回答"
            assert matchers.builds_on_use == 0
            assert lag.worst < MAX_LAG_S, lag.worst


async def test_bot_5_knowledge_base_changes_rebuild_ahead_of_questions(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(
            srv.db, agents=[AgentSpec("alice")], settings=BOT_ON, clock=srv.clock
        )
        owner = await srv.staff(shop.shop_id, "owner")
        matchers = srv.runtime.bot.matchers
        made = await owner.post(
            "/api/kb/questions",
            json={"question": "多久发货", "answer": "48小时内发货。", "phrasings": []},
        )
        assert made.status_code == 200, made.text
        # The first question of a new base built its matcher in the request, off the loop.
        assert matchers.cached_version(shop.shop_id) is not None
        csv = "question,answer\n可以开发票吗,可以。\n怎么退货,订单页申请。\n".encode()
        imported = await owner.post("/api/kb/import", files={"file": ("kb.csv", csv, "text/csv")})
        assert imported.status_code == 200, imported.text
        synonyms = await owner.put(
            "/api/kb/synonyms", json={"groups": [["退货", "退件"]], "user_words": []}
        )
        assert synonyms.status_code == 200, synonyms.text
        consumer = await srv.consumer(shop.shop_id)
        with LagProbe() as lag:
            answer = (await bot_answer(consumer, "怎么退件呢", "q1"))["message"]
        assert answer["body"] == "订单页申请。"
        assert matchers.builds_on_use == 0
        assert matchers.builds_ahead >= 3  # the first question, the import, the synonyms
        assert lag.worst < MAX_LAG_S, lag.worst
        async with httpx.AsyncClient(base_url=srv.base_url) as client:
            assert (await client.get("/healthz")).status_code == 200
