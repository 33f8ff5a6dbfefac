"""DESK-5 (the customer's side panel) and CONV-6, LIMIT-2 (proactive conversations), on a real
database: profiles, orders, the last conversations, the page trail, search and the 30-day rule,
each scoped to the shop (ACCT-5)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, select

from kefu import errors
from kefu.clock import FakeClock
from kefu.customers import domain
from kefu.customers import service as customers
from kefu.domain.presence import Role
from kefu.services import conversations
from kefu.services.context import ConsumerActor, Context, Staff
from kefu.storage import conversations as conversation_store
from kefu.storage import tables as t
from support import AgentSpec, ShopIds, make_shop


def _clock(ctx: Context) -> FakeClock:
    assert isinstance(ctx.clock, FakeClock)
    return ctx.clock


async def _shop(ctx: Context, name: str = "Shop", limit: int = 5) -> ShopIds:
    return await make_shop(
        ctx.db, name=name, agents=[AgentSpec("alice", limit=limit)], clock=_clock(ctx)
    )


def _staff(shop: ShopIds, username: str = "alice") -> Staff:
    role = Role.OWNER if username == "owner" else Role.AGENT
    group = None if username == "owner" else shop.group_ids[0]
    return Staff(shop.accounts[username], shop.shop_id, role, group)


async def _consumer(ctx: Context, shop: ShopIds, uid: str, nickname: str) -> ConsumerActor:
    async with ctx.db.uow() as tx:
        consumer_id = await tx.conn.scalar(
            insert(t.consumers)
            .values(
                shop_id=shop.shop_id,
                uid=uid,
                nickname=nickname,
                is_vip=False,
                created_at=ctx.clock.now(),
            )
            .returning(t.consumers.c.id)
        )
        await tx.commit()
    assert consumer_id is not None
    return ConsumerActor(int(consumer_id), shop.shop_id)


async def _order(
    ctx: Context, consumer: ConsumerActor, order_no: str, at: datetime, amount: str = "9.90"
) -> None:
    async with ctx.db.uow() as tx:
        await tx.conn.execute(
            insert(t.orders).values(
                shop_id=consumer.shop_id,
                consumer_id=consumer.consumer_id,
                order_no=order_no,
                item_count=1,
                amount=amount,
                title="茶叶 " + order_no,
                ordered_at=at,
            )
        )
        await tx.commit()


async def _ended_conversation(ctx: Context, consumer: ConsumerActor) -> int:
    async with ctx.db.uow() as tx:
        conversation_id = await conversation_store.create(
            tx.conn,
            shop_id=consumer.shop_id,
            consumer_id=consumer.consumer_id,
            group_id=None,
            entry={"source": "direct"},
            now=ctx.clock.now(),
        )
        await conversation_store.update_conversation(
            tx.conn, conversation_id, state="ended", ended_at=ctx.clock.now()
        )
        await tx.commit()
    _clock(ctx).advance(timedelta(minutes=1))
    return conversation_id


async def test_desk_5_profile_is_saved_loaded_and_validated(ctx: Context) -> None:
    shop = await _shop(ctx)
    buyer = await _consumer(ctx, shop, "u1", "小王")
    view = await conversations.open_conversation(ctx, buyer, entry={"source": "direct"})
    owner = _staff(shop, "owner")

    empty = await customers.load_panel(ctx, owner, view.id)
    assert (empty.profile.notes, empty.profile.tags, empty.profile.updated_at) == ("", [], None)

    saved = await customers.save_profile(
        ctx,
        _staff(shop),
        buyer.consumer_id,
        notes="  喜欢绿茶 ",
        tags=["回头客", "VIP", "回头客"],
        phone="+86 138-0013-8000",
    )
    assert (saved.notes, saved.tags, saved.phone) == (
        "喜欢绿茶",
        ["回头客", "VIP"],
        "+86 138-0013-8000",
    )
    again = await customers.save_profile(
        ctx, owner, buyer.consumer_id, notes="改过", tags=[], phone=""
    )
    assert (again.notes, again.tags, again.updated_by) == ("改过", [], shop.accounts["owner"])
    loaded = await customers.load_panel(ctx, owner, view.id)
    assert loaded.profile == again and loaded.consumer.nickname == "小王"

    bad = [
        ({"notes": "x" * 501}, ("notes", "too_long")),
        ({"tags": [f"t{i}" for i in range(11)]}, ("tags", "too_many")),
        ({"tags": ["x" * 21]}, ("tags", "too_long")),
        ({"tags": [" "]}, ("tags", "empty")),
        ({"phone": "call me"}, ("phone", "invalid")),
        ({"phone": "123"}, ("phone", "invalid")),
    ]
    for change, (field, problem) in bad:
        values = {"notes": "", "tags": [], "phone": "", **change}
        with pytest.raises(errors.BadInput) as refused:
            await customers.save_profile(ctx, owner, buyer.consumer_id, **values)  # type: ignore[arg-type]
        assert (refused.value.params["field"], refused.value.params["problem"]) == (field, problem)
    assert (await customers.load_panel(ctx, owner, view.id)).profile == again

    other = await _shop(ctx, "Other")
    with pytest.raises(errors.NotFound):
        await customers.save_profile(
            ctx, _staff(other), buyer.consumer_id, notes="x", tags=[], phone=""
        )
    with pytest.raises(errors.NotFound):
        await customers.load_panel(ctx, _staff(other, "owner"), view.id)


async def test_desk_5_orders_newest_first_paginated_and_scoped_to_the_shop(ctx: Context) -> None:
    shop = await _shop(ctx)
    other = await _shop(ctx, "Other")
    buyer = await _consumer(ctx, shop, "u1", "小王")
    someone = await _consumer(ctx, shop, "u2", "小李")
    elsewhere = await _consumer(ctx, other, "u1", "小王")
    start = ctx.clock.now()
    for i in range(5):
        await _order(ctx, buyer, f"A{i}", start + timedelta(days=i))
    await _order(ctx, someone, "B0", start + timedelta(days=9))
    await _order(ctx, elsewhere, "A9", start + timedelta(days=9))

    first, total = await customers.consumer_orders(
        ctx, _staff(shop), buyer.consumer_id, page=1, page_size=2
    )
    last, _ = await customers.consumer_orders(
        ctx, _staff(shop), buyer.consumer_id, page=3, page_size=2
    )
    assert total == 5
    assert [o.order_no for o in first] == ["A4", "A3"] and [o.order_no for o in last] == ["A0"]
    with pytest.raises(errors.NotFound):
        await customers.consumer_orders(ctx, _staff(other), buyer.consumer_id, page=1, page_size=10)
    with pytest.raises(errors.BadInput):
        await customers.consumer_orders(ctx, _staff(shop), buyer.consumer_id, page=1, page_size=101)


async def test_desk_5_last_five_conversations_read_only_and_scoped(ctx: Context) -> None:
    shop = await _shop(ctx)
    buyer = await _consumer(ctx, shop, "u1", "小王")
    someone = await _consumer(ctx, shop, "u2", "小李")
    past = [await _ended_conversation(ctx, buyer) for _ in range(7)]
    theirs = await _ended_conversation(ctx, someone)
    current = await conversations.open_conversation(ctx, buyer, entry={"source": "product"})
    owner = _staff(shop, "owner")

    panel = await customers.load_panel(ctx, owner, current.id)
    assert [c.id for c in panel.recent_conversations] == past[::-1][:5]

    view, messages, has_more = await customers.past_conversation(
        ctx, _staff(shop), buyer.consumer_id, current.id, since_seq=0, limit=200
    )
    assert view.id == current.id and not has_more
    assert [m.seq for m in messages] == list(range(1, current.last_seq + 1))
    with pytest.raises(errors.NotFound):  # another consumer's conversation
        await customers.past_conversation(
            ctx, owner, buyer.consumer_id, theirs, since_seq=0, limit=10
        )
    other = await _shop(ctx, "Other")
    with pytest.raises(errors.NotFound):
        await customers.past_conversation(
            ctx, _staff(other, "owner"), buyer.consumer_id, past[0], since_seq=0, limit=10
        )


async def test_desk_5_page_view_trail_with_time_on_page_and_a_cap(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await _shop(ctx)
    buyer = await _consumer(ctx, shop, "u1", "小王")
    entry = {
        "source": "product",
        "ip": "203.0.113.9",
        "region": "浙江",
        "page_url": "https://s.example/p1",
    }
    view = await conversations.open_conversation(ctx, buyer, entry=entry)
    clock = _clock(ctx)
    for url, seconds in (
        ("https://s.example/p1", 30),
        ("https://s.example/p2", 90),
        ("https://s.example/cart", 0),
    ):
        assert await customers.record_page_view(ctx, buyer, view.id, url=url, title=url[-2:])
        clock.advance(timedelta(seconds=seconds))

    trail = (await customers.load_panel(ctx, _staff(shop, "owner"), view.id)).trail
    assert (trail.source, trail.ip, trail.region, trail.page_url) == (
        "product",
        "203.0.113.9",
        "浙江",
        "https://s.example/p1",
    )
    assert [(p.url, p.seconds_on_page) for p in trail.pages] == [
        ("https://s.example/p1", 30),
        ("https://s.example/p2", 90),
        ("https://s.example/cart", None),
    ]

    monkeypatch.setattr(domain, "MAX_PAGE_VIEWS", 3)
    assert not await customers.record_page_view(
        ctx, buyer, view.id, url="https://s.example/x", title=""
    )
    someone = await _consumer(ctx, shop, "u2", "小李")
    with pytest.raises(errors.NotFound):
        await customers.record_page_view(ctx, someone, view.id, url="https://s.example/x", title="")
    async with ctx.db.read() as tx:
        stored = (await tx.conn.execute(select(t.page_views.c.url))).all()
    assert len(stored) == 3


async def test_conv_6_limit_2_proactive_at_29_days_allowed_and_at_31_refused(ctx: Context) -> None:
    shop = await _shop(ctx)
    recent = await _consumer(ctx, shop, "u1", "小王")
    lapsed = await _consumer(ctx, shop, "u2", "小李")
    never = await _consumer(ctx, shop, "u3", "小张")
    clock = _clock(ctx)
    await _order(ctx, recent, "A1", clock.now() - timedelta(days=29))
    await _order(ctx, lapsed, "A2", clock.now() - timedelta(days=31))
    alice = _staff(shop)

    view = await customers.start_proactive(ctx, alice, recent.consumer_id)
    assert (view.state, view.agent_id, view.consumer.id) == (
        "assigned",
        alice.account_id,
        recent.consumer_id,
    )
    assert view.entry == {"source": "proactive"}
    assert view.last_message is not None and view.last_message.notice is not None
    assert view.last_message.notice.code == "conversation.proactive_started"
    assert view.last_message.notice.params == {"agent": "Alice"}
    # The consumer's widget finds it when they next open it.
    opened = await conversations.current_conversation(ctx, recent)
    assert opened is not None and opened.id == view.id
    for consumer in (lapsed, never):
        with pytest.raises(errors.ProactiveNotAllowed) as refused:
            await customers.start_proactive(ctx, alice, consumer.consumer_id)
        assert refused.value.code == "proactive_not_allowed"
        assert await conversations.current_conversation(ctx, consumer) is None


async def test_limit_2_a_proactive_conversation_counts_and_a_full_agent_is_refused(
    ctx: Context,
) -> None:
    shop = await _shop(ctx, limit=1)
    first = await _consumer(ctx, shop, "u1", "小王")
    second = await _consumer(ctx, shop, "u2", "小李")
    for buyer in (first, second):
        await _order(ctx, buyer, f"O{buyer.consumer_id}", ctx.clock.now())
    alice = _staff(shop)
    await customers.start_proactive(ctx, alice, first.consumer_id)
    with pytest.raises(errors.AgentUnavailable) as refused:
        await customers.start_proactive(ctx, alice, second.consumer_id)
    assert refused.value.params["reason"] == "full"
    assert await conversations.current_conversation(ctx, second) is None


async def test_conv_6_an_open_conversation_is_answered_or_refused_with_a_conflict(
    ctx: Context,
) -> None:
    shop = await _shop(ctx)
    mine = await _consumer(ctx, shop, "u1", "小王")
    busy = await _consumer(ctx, shop, "u2", "小李")
    for buyer in (mine, busy):
        await _order(ctx, buyer, f"O{buyer.consumer_id}", ctx.clock.now())
    alice = _staff(shop)
    started = await customers.start_proactive(ctx, alice, mine.consumer_id)
    assert (await customers.start_proactive(ctx, alice, mine.consumer_id)).id == started.id
    with_bot = await conversations.open_conversation(ctx, busy, entry={})
    with pytest.raises(errors.ConsumerHasOpenConversation) as refused:
        await customers.start_proactive(ctx, alice, busy.consumer_id)
    assert refused.value.params == {"conversation_id": with_bot.id, "state": "bot"}
    other = await _shop(ctx, "Other")
    with pytest.raises(errors.NotFound):
        await customers.start_proactive(ctx, _staff(other), mine.consumer_id)


async def test_conv_6_search_by_nickname_and_order_number_scoped_to_the_shop(ctx: Context) -> None:
    shop = await _shop(ctx)
    other = await _shop(ctx, "Other")
    wang = await _consumer(ctx, shop, "u1", "王小明")
    await _consumer(ctx, shop, "u2", "李%雷")
    old = await _consumer(ctx, shop, "u3", "小王子")
    elsewhere = await _consumer(ctx, other, "u1", "王小明")
    clock = _clock(ctx)
    await _order(ctx, wang, "SO-1001", clock.now() - timedelta(days=2))
    await _order(ctx, old, "SO-1002", clock.now() - timedelta(days=40))
    await _order(ctx, elsewhere, "SO-9999", clock.now())
    alice = _staff(shop)

    found, total = await customers.search_consumers(ctx, alice, text="王", page=1, page_size=20)
    assert total == 2
    assert [(f.id, f.may_start) for f in found] == [
        (wang.consumer_id, True),
        (old.consumer_id, False),
    ]
    page2, _ = await customers.search_consumers(ctx, alice, text="王", page=2, page_size=1)
    assert [f.id for f in page2] == [old.consumer_id]
    by_order, _ = await customers.search_consumers(ctx, alice, text="SO-1002", page=1, page_size=20)
    assert [f.id for f in by_order] == [old.consumer_id]
    assert await customers.search_consumers(ctx, alice, text="SO-9999", page=1, page_size=20) == (
        [],
        0,
    )
    percent, _ = await customers.search_consumers(ctx, alice, text="%", page=1, page_size=20)
    assert [f.nickname for f in percent] == ["李%雷"]
    with pytest.raises(errors.BadInput):
        await customers.search_consumers(ctx, alice, text=" ", page=1, page_size=20)
