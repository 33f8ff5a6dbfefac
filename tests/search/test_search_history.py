"""DATA-5 history search on a shop of 100,000 Chinese messages, on SQLite and PostgreSQL: words
found whatever a segmenter makes of them, filters by agent, consumer and time, keyset pages,
each viewer's reach, and another shop's messages never returned."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import jieba
import pytest
from sqlalchemy import insert
from sqlalchemy.dialects import postgresql

from databases import create_pg_database, drop_pg_database, require_pg
from kefu import errors
from kefu.bench import search_corpus as corpus
from kefu.clock import FakeClock
from kefu.domain.presence import Role
from kefu.search.domain import make_query, snippet
from kefu.search.service import SearchPage, search_history
from kefu.services.context import Context, Staff
from kefu.storage import search as search_store
from kefu.storage import tables as t
from kefu.storage.db import Database
from kefu.storage.search import SearchFilters
from support import service_context

MESSAGES = 100_000
T0 = corpus.START + timedelta(days=200)  # after the generated history
COAT = "我想把这件羊绒大衣退掉，可以申请退款吗"  # 羊绒 | 大衣 | 退掉 for jieba
TEA = "请问珍珠奶茶杯还有货吗"


@dataclass(frozen=True)
class World:
    url: str
    shop: corpus.LoadedShop
    other: corpus.LoadedShop
    coat_by_agent0: int  # consumer 雪球团子 (uid needle-1), agent 0, at T0
    coat_by_agent1: int  # consumer 橘子汽水 (uid needle-2), agent 1, at T0 + 10 days
    coat_in_other_shop: int
    tea: list[int]  # 25 conversations, two matching messages each


async def _plant(
    db: Database,
    shop: corpus.LoadedShop,
    *,
    uid: str,
    nickname: str,
    agent: int,
    at: datetime,
    bodies: list[str],
) -> int:
    """One ended conversation written as the message writer writes (the index triggers run)."""
    async with db.uow() as tx:
        conn = tx.conn
        consumer_id = await conn.scalar(
            insert(t.consumers)
            .values(shop_id=shop.shop_id, uid=uid, nickname=nickname, created_at=at)
            .returning(t.consumers.c.id)
        )
        conversation_id = int(
            await conn.scalar(
                insert(t.conversations)
                .values(
                    shop_id=shop.shop_id,
                    consumer_id=consumer_id,
                    state="ended",
                    group_id=shop.group_ids[agent % corpus.GROUPS],
                    agent_id=shop.agent_ids[agent],
                    created_at=at,
                    ended_at=at + timedelta(minutes=5),
                    last_seq=len(bodies),
                    last_message_at=at + timedelta(minutes=1),
                )
                .returning(t.conversations.c.id)
            )
            or 0
        )
        await conn.execute(
            insert(t.participants).values(
                conversation_id=conversation_id,
                account_id=shop.agent_ids[agent],
                shop_id=shop.shop_id,
                role="holder",
                joined_at=at,
            )
        )
        for seq, body in enumerate(bodies, start=1):
            await conn.execute(
                insert(t.messages).values(
                    shop_id=shop.shop_id,
                    conversation_id=conversation_id,
                    seq=seq,
                    sender="consumer" if seq % 2 else "agent",
                    sender_id=None if seq % 2 else shop.agent_ids[agent],
                    kind="text",
                    body=body,
                    created_at=at + timedelta(seconds=seq),
                )
            )
        await tx.commit()
    return conversation_id


async def _build(url: str) -> World:
    db = Database(url)
    try:
        await db.create_all()
        shop = await corpus.load_shop(db, MESSAGES, chunk=10_000)
        other = await corpus.load_shop(db, 2_000, name="Other", seed=7)
        by0 = await _plant(
            db,
            shop,
            uid="needle-1",
            nickname="雪球团子",
            agent=0,
            at=T0,
            bodies=["你好", COAT, "亲，可以的"],
        )
        by1 = await _plant(
            db,
            shop,
            uid="needle-2",
            nickname="橘子汽水",
            agent=1,
            at=T0 + timedelta(days=10),
            bodies=[COAT, "亲，收到"],
        )
        elsewhere = await _plant(
            db, other, uid="needle-1", nickname="雪球团子", agent=0, at=T0, bodies=[COAT]
        )
        tea = [
            await _plant(
                db,
                shop,
                uid=f"tea-{i}",
                nickname=f"奶茶控{i}",
                agent=2 + i % 3,
                at=T0 + timedelta(days=1, minutes=i),
                bodies=[TEA, "亲，有的", TEA + "？"],
            )
            for i in range(25)
        ]
    finally:
        await db.dispose()
    return World(url, shop, other, by0, by1, elsewhere, tea)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The seeded shops, built once per engine for the whole session."""
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("search") / "search.db"
        yield asyncio.run(_build(f"sqlite+aiosqlite:///{path}"))
        return
    require_pg()
    url = asyncio.run(create_pg_database())
    try:
        yield asyncio.run(_build(url))
    finally:
        asyncio.run(drop_pg_database(url))


@pytest.fixture
async def ctx(world: World) -> AsyncIterator[Context]:
    db = Database(world.url)
    try:
        yield service_context(db, FakeClock(T0 + timedelta(days=30)))
    finally:
        await db.dispose()


def _supervisor(shop: corpus.LoadedShop) -> Staff:
    return Staff(
        account_id=shop.agent_ids[-1], shop_id=shop.shop_id, role=Role.SUPERVISOR, group_id=None
    )


async def _search(ctx: Context, staff: Staff, q: str | None, **filters: object) -> SearchPage:
    return await search_history(ctx, staff, make_query(q=q, **filters))  # type: ignore[arg-type]


def _ids(page: SearchPage) -> list[int]:
    return [hit.conversation.id for hit in page.items]


def test_data_5_the_query_words_cross_what_jieba_makes_of_the_message() -> None:
    """The premise of the next test: 绒大衣 and 衣退 are no words of jieba's segmentation."""
    words = jieba.lcut(COAT)
    for query in ("绒大衣", "衣退"):
        assert query not in words
        assert not any(query in w for w in words)


async def test_data_5_finds_words_the_segmenter_splits_differently(
    ctx: Context, world: World
) -> None:
    staff = _supervisor(world.shop)
    for q in ("羊绒大衣", "绒大衣", "衣退", "大衣退掉 申请退款"):
        page = await _search(ctx, staff, q)
        assert set(_ids(page)) == {world.coat_by_agent0, world.coat_by_agent1}, q
    hit = (await _search(ctx, staff, "绒大衣")).items[0]
    (match,) = hit.matches
    assert match.snippet.text == COAT
    ((start, end),) = match.snippet.highlights
    assert COAT[start:end] == "绒大衣"


async def test_data_5_filters_by_agent_consumer_and_time(ctx: Context, world: World) -> None:
    staff = _supervisor(world.shop)
    agent0 = world.shop.agent_ids[0]
    assert _ids(await _search(ctx, staff, "羊绒大衣", agent_id=agent0)) == [world.coat_by_agent0]
    assert _ids(await _search(ctx, staff, "羊绒大衣", consumer="needle-2")) == [
        world.coat_by_agent1
    ]
    assert _ids(await _search(ctx, staff, "大衣", consumer="雪球")) == [world.coat_by_agent0]
    later = T0 + timedelta(days=5)
    assert _ids(await _search(ctx, staff, "羊绒大衣", since=later)) == [world.coat_by_agent1]
    assert _ids(await _search(ctx, staff, "绒大衣", until=later)) == [world.coat_by_agent0]
    # Without words: the consumer's conversations, and a time range's.
    assert _ids(await _search(ctx, staff, None, consumer="needle-1")) == [world.coat_by_agent0]
    window = await _search(
        ctx, staff, None, since=T0 + timedelta(days=9), until=T0 + timedelta(days=11)
    )
    assert _ids(window) == [world.coat_by_agent1]


async def test_data_5_pages_cover_every_conversation_once(ctx: Context, world: World) -> None:
    staff = _supervisor(world.shop)
    seen: list[int] = []
    cursor = None
    for _ in range(10):
        page = await _search(ctx, staff, "珍珠奶茶", cursor=cursor, page_size=10)
        seen += _ids(page)
        assert all(len(hit.matches) == 2 for hit in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 25
    assert seen == sorted(world.tea, reverse=True)  # newest match first


async def test_data_5_common_words_return_a_full_page_from_the_generated_history(
    ctx: Context, world: World
) -> None:
    staff = _supervisor(world.shop)
    for q in ("退款", "申请退款", "顺丰", "乌鲁木齐"):
        page = await _search(ctx, staff, q, until=T0)
        assert len(page.items) == 20 and page.next_cursor is not None, q
        for hit in page.items:
            assert hit.conversation.shop_id == world.shop.shop_id
            assert hit.matches and all(q in m.snippet.text for m in hit.matches), q


async def test_data_5_another_shops_messages_are_never_returned(ctx: Context, world: World) -> None:
    mine = await _search(ctx, _supervisor(world.shop), "羊绒大衣")
    assert world.coat_in_other_shop not in _ids(mine)
    assert _ids(await _search(ctx, _supervisor(world.shop), None, consumer="needle-1")) == [
        world.coat_by_agent0
    ]
    theirs = await _search(ctx, _supervisor(world.other), "羊绒大衣")
    assert _ids(theirs) == [world.coat_in_other_shop]
    with pytest.raises(errors.NotFound):  # naming another shop's agent
        await _search(ctx, _supervisor(world.shop), "羊绒大衣", agent_id=world.other.agent_ids[0])


async def test_data_5_agents_search_their_conversations_and_leaders_their_group(
    ctx: Context, world: World
) -> None:
    shop = world.shop
    agent1 = Staff(shop.agent_ids[1], shop.shop_id, Role.AGENT, shop.group_ids[1])
    assert _ids(await _search(ctx, agent1, "羊绒大衣")) == [world.coat_by_agent1]
    # Agent 0 is in group 0; a leader of group 0 sees its conversations, not group 1's.
    leader = Staff(shop.agent_ids[2], shop.shop_id, Role.LEADER, shop.group_ids[0])
    assert _ids(await _search(ctx, leader, "羊绒大衣")) == [world.coat_by_agent0]


def test_data_5_bad_searches_are_refused() -> None:
    for q in ("退", "好 的", "x" * 101, "a\x00b", "一二 三四 五六 七八 九十 甲乙"):
        with pytest.raises(errors.BadInput):
            make_query(q=q)
    with pytest.raises(errors.BadInput):
        make_query(q="退款", since=T0, until=T0)
    with pytest.raises(errors.BadInput):
        make_query(q="退款", cursor="c12")  # a conversation cursor for a word search


def test_data_5_snippets_cut_long_messages_around_the_word() -> None:
    body = "前" * 100 + "羊绒大衣" + "后" * 100
    cut = snippet(body, ("羊绒大衣",))
    assert cut.cut_before and cut.cut_after and len(cut.text) == 60
    ((start, end),) = cut.highlights
    assert cut.text[start:end] == "羊绒大衣"
    assert snippet("Hello World", ("world",)).highlights == ((6, 11),)


async def test_data_5_every_way_into_the_index_finds_the_same_messages(
    ctx: Context, world: World
) -> None:
    """SQLite reads matches by walking the index, a time range or a few conversations
    (whichever is quicker): all three return the same messages in the same order."""
    shop = world.shop
    cases = [
        SearchFilters(shop.shop_id, ("顺丰",), agent_id=shop.agent_ids[4]),
        SearchFilters(shop.shop_id, ("申请退款",), agent_id=shop.agent_ids[5]),
        SearchFilters(
            shop.shop_id,
            ("发货",),
            since=corpus.START + timedelta(days=30),
            until=corpus.START + timedelta(days=33),
        ),
        SearchFilters(
            shop.shop_id, ("大衣",), viewer_id=shop.agent_ids[2], viewer_group_id=shop.group_ids[0]
        ),
    ]
    async with ctx.db.read() as tx:
        for f in cases:
            found = [
                [
                    m.id
                    for m in await search_store.matches(
                        tx.conn, f, before_id=None, limit=500, path=path
                    )
                ]
                for path in search_store.Path
            ]
            assert found[0] and all(ids == found[0] for ids in found), f


def test_data_5_caseless_words_are_matched_with_like_on_postgresql() -> None:
    """PostgreSQL's ILIKE folds the case of every body it tests: a word with no cased letter
    (Chinese, digits) is tested with LIKE, which finds the same rows about twice as fast."""

    def sql(word: str) -> str:
        return str(
            search_store._contains(word, postgresql=True).compile(dialect=postgresql.dialect())
        )

    assert " LIKE " in sql("退款") and "ILIKE" not in sql("退款")
    assert " LIKE " in sql("1234567") and "ILIKE" not in sql("1234567")
    assert "ILIKE" in sql("XL码") and "ILIKE" in sql("iphone")


async def test_data_5_words_with_letters_still_ignore_case(ctx: Context, world: World) -> None:
    staff = _supervisor(world.shop)
    upper = _ids(await _search(ctx, staff, "XL码"))
    assert upper  # the generated history has sizes like XL码
    assert _ids(await _search(ctx, staff, "xl码")) == upper
