"""`kefu demo`'s shop, made through the use cases: its owner, agents, groups, entry routing,
products and orders, made once however often the demo starts."""

from __future__ import annotations

from kefu.bot.cache import KbCache
from kefu.bot.service import decide
from kefu.demo import DEMO_SHOP_ID
from kefu.domain.ids import ShopId
from kefu.seed import DEMO_ACCOUNTS, DEMO_PASSWORD, seed_demo
from kefu.services import views
from kefu.services.accounts import login
from kefu.services.context import Context, presence_window
from kefu.services.shops import public_shop
from kefu.storage import kb
from kefu.storage import phrases as phrase_store
from kefu.storage import shops as shop_store


async def test_acct_1_demo_shop_is_seeded_once_with_its_staff_and_groups(ctx: Context) -> None:
    assert await seed_demo(ctx) is True
    assert await seed_demo(ctx) is False

    shop_id = ShopId(DEMO_SHOP_ID)
    async with ctx.db.read() as tx:
        groups = {g.id: g.name for g in await shop_store.groups(tx.conn, shop_id)}
        settings = await shop_store.shop_settings(tx.conn, shop_id)
        accounts = await views.account_views(tx.conn, presence_window(ctx), shop_id=shop_id)
    assert sorted(groups.values()) == ["售前组", "售后组"]
    assert {source: groups[g] for source, g in settings.entry_groups.items()} == {
        "product": "售前组",
        "order": "售后组",
        "after_sale": "售后组",
    }
    assert [
        (a.username, a.display_name, a.role, groups.get(a.group_id or 0)) for a in accounts
    ] == [
        (username, name, role, ["售前组", "售后组"][g] if g is not None else None)
        for username, name, role, g in DEMO_ACCOUNTS
    ]
    assert [(a.has_im_permission, a.reception_limit, a.status) for a in accounts] == [
        (a.role != "owner", 5, "offline") for a in accounts
    ]
    for username, *_ in DEMO_ACCOUNTS:
        result = await login(
            ctx, shop_id=shop_id, username=username, password=DEMO_PASSWORD, take_over=False
        )
        assert result.account.username == username


async def test_api_1_demo_shop_page_shows_products_and_orders(ctx: Context) -> None:
    await seed_demo(ctx)
    page = await public_shop(ctx, DEMO_SHOP_ID)
    assert page["name"] == "小鹿优选旗舰店"
    assert [p["id"] for p in page["products"]] == [f"p-100{i}" for i in range(1, 7)]
    assert page["products"][0]["url"] == "/demo/shop?shop=1#p-1001"
    assert [(o["order_no"], o["amount"]) for o in page["orders_demo"]] == [
        ("DD20261000", "399.00"),
        ("DD20261001", "259.00"),
        ("DD20261002", "128.00"),
    ]
    now = ctx.clock.now()
    assert [(now - o["ordered_at"]).days for o in page["orders_demo"]] == [1, 2, 3]


async def test_bot_1_demo_shop_starts_with_the_bot_on_and_a_knowledge_base(ctx: Context) -> None:
    """The demo shows what its landing page promises: the bot answers first (bot_first), from
    a knowledge base of common questions with several phrasings each, imported through the
    knowledge base's own import; agents find shop-wide quick phrases."""
    await seed_demo(ctx)
    shop_id = ShopId(DEMO_SHOP_ID)
    async with ctx.db.read() as tx:
        settings = await shop_store.shop_settings(tx.conn, shop_id)
        questions = await kb.all_questions(tx.conn, shop_id)
        phrases = await phrase_store.visible(tx.conn, shop_id, 0, None)
    assert (settings.bot_enabled, settings.bot_mode) == (True, "bot_first")
    assert len(questions) >= 30
    assert all(len(q.phrasings) >= 2 for q in questions)
    topics = {"快递", "退货", "发票", "尺码", "货", "优惠"}
    assert all(any(t in q.question for q in questions) for t in topics)
    assert len(phrases) >= 5

    matchers = KbCache()
    for question in questions[:10]:
        decision = await decide(ctx, matchers, shop_id, question.phrasings[0])
        assert decision.candidate is not None, question.phrasings[0]
        assert decision.candidate.entry_id == question.id
