"""The bot's storage: knowledge base, its version counter, the entry configuration and the bot's
event rows and statistics (BOT-2, BOT-6, ENTRY-2). Every query is scoped by shop; a row of
another shop is NotFound like a missing one (ACCT-5). No rule is decided here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu import errors
from kefu.storage import tables as t
from kefu.storage.messages import MessageRecord, record_of


@dataclass(frozen=True, slots=True)
class CategoryView:
    id: int
    name: str
    question_count: int


@dataclass(frozen=True, slots=True)
class QuestionView:
    id: int
    category_id: int | None
    question: str
    answer: str
    phrasings: list[str]
    related_ids: list[int]
    hit_count: int
    resolved_count: int
    unresolved_count: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class KbSettings:
    version: int
    synonyms: list[list[str]]
    user_words: list[str]


def question_view(r: Any) -> QuestionView:
    return QuestionView(
        id=r.id,
        category_id=r.category_id,
        question=r.question,
        answer=r.answer,
        phrasings=list(r.phrasings or []),
        related_ids=[int(i) for i in r.related_ids or []],
        hit_count=r.hit_count,
        resolved_count=r.resolved_count,
        unresolved_count=r.unresolved_count,
        updated_at=r.updated_at,
    )


def _upsert(conn: AsyncConnection, table: Any, values: dict[str, Any], keys: list[str]) -> Any:
    """INSERT … ON CONFLICT DO UPDATE on both engines (for one-row-per-shop tables)."""
    make = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = make(table).values(**values)
    changes = {k: v for k, v in values.items() if k not in keys}
    return stmt.on_conflict_do_update(index_elements=keys, set_=changes)


# --- the version counter and synonyms -------------------------------------------------------


async def kb_settings(conn: AsyncConnection, shop_id: int) -> KbSettings:
    row = (await conn.execute(select(t.bot_kb).where(t.bot_kb.c.shop_id == shop_id))).first()
    if row is None:
        return KbSettings(0, [], [])
    return KbSettings(row.version, [list(g) for g in row.synonyms], list(row.user_words))


async def kb_version(conn: AsyncConnection, shop_id: int) -> int:
    found = await conn.scalar(select(t.bot_kb.c.version).where(t.bot_kb.c.shop_id == shop_id))
    return int(found or 0)


async def bump_version(conn: AsyncConnection, shop_id: int) -> int:
    """Every knowledge-base write bumps the shop's version in its own transaction."""
    k = t.bot_kb.c
    version = await conn.scalar(
        update(t.bot_kb)
        .where(k.shop_id == shop_id)
        .values(version=k.version + 1)
        .returning(k.version)
    )
    if version is None:
        await conn.execute(
            insert(t.bot_kb).values(shop_id=shop_id, version=1, synonyms=[], user_words=[])
        )
        version = 1
    return int(version)


async def save_synonyms(
    conn: AsyncConnection, shop_id: int, groups: list[list[str]], user_words: list[str]
) -> int:
    await bump_version(conn, shop_id)
    k = t.bot_kb.c
    await conn.execute(
        update(t.bot_kb).where(k.shop_id == shop_id).values(synonyms=groups, user_words=user_words)
    )
    return await kb_version(conn, shop_id)


# --- categories -----------------------------------------------------------------------------


async def categories(conn: AsyncConnection, shop_id: int) -> list[CategoryView]:
    c, q = t.kb_categories.c, t.kb_questions.c
    counts: dict[int, int] = {
        r[0]: int(r[1])
        for r in await conn.execute(
            select(q.category_id, func.count())
            .where(q.shop_id == shop_id, q.category_id.is_not(None))
            .group_by(q.category_id)
        )
    }
    rows = await conn.execute(select(c.id, c.name).where(c.shop_id == shop_id).order_by(c.id))
    return [CategoryView(r.id, r.name, counts.get(r.id, 0)) for r in rows]


async def shop_category(conn: AsyncConnection, shop_id: int, category_id: int) -> None:
    """The category exists in this shop; another shop's is NotFound like a missing one."""
    c = t.kb_categories.c
    found = await conn.scalar(select(c.id).where(c.id == category_id, c.shop_id == shop_id))
    if found is None:
        raise errors.NotFound(kind="category", id=category_id)


async def add_category(conn: AsyncConnection, shop_id: int, name: str, now: datetime) -> int:
    found = await conn.scalar(
        insert(t.kb_categories)
        .values(shop_id=shop_id, name=name, created_at=now)
        .returning(t.kb_categories.c.id)
    )
    assert found is not None
    return int(found)


async def rename_category(conn: AsyncConnection, category_id: int, name: str) -> None:
    await conn.execute(
        update(t.kb_categories).where(t.kb_categories.c.id == category_id).values(name=name)
    )


async def delete_category(conn: AsyncConnection, category_id: int) -> None:
    """Its questions become uncategorised (BOT-2)."""
    await conn.execute(
        update(t.kb_questions)
        .where(t.kb_questions.c.category_id == category_id)
        .values(category_id=None)
    )
    await conn.execute(delete(t.kb_categories).where(t.kb_categories.c.id == category_id))


async def category_ids_by_name(conn: AsyncConnection, shop_id: int) -> dict[str, int]:
    c = t.kb_categories.c
    rows = await conn.execute(select(c.id, c.name).where(c.shop_id == shop_id).order_by(c.id))
    found: dict[str, int] = {}
    for r in rows:
        found.setdefault(r.name, r.id)
    return found


# --- questions ------------------------------------------------------------------------------


async def list_questions(
    conn: AsyncConnection,
    shop_id: int,
    *,
    category_id: int | None,
    text: str | None,
    page: int,
    page_size: int,
) -> tuple[list[QuestionView], int]:
    q = t.kb_questions.c
    where = [q.shop_id == shop_id]
    if category_id is not None:
        where.append(q.category_id == category_id)
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(
            or_(q.question.like(pattern, escape="\\"), q.answer.like(pattern, escape="\\"))
        )
    total = await conn.scalar(select(func.count()).select_from(t.kb_questions).where(*where))
    rows = await conn.execute(
        select(t.kb_questions)
        .where(*where)
        .order_by(q.id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    return [question_view(r) for r in rows], int(total or 0)


async def shop_question(conn: AsyncConnection, shop_id: int, question_id: int) -> QuestionView:
    q = t.kb_questions.c
    row = (
        await conn.execute(select(t.kb_questions).where(q.id == question_id, q.shop_id == shop_id))
    ).first()
    if row is None:
        raise errors.NotFound(kind="question", id=question_id)
    return question_view(row)


async def existing_question_ids(
    conn: AsyncConnection, shop_id: int, ids: Iterable[int]
) -> set[int]:
    wanted = list(set(ids))
    if not wanted:
        return set()
    q = t.kb_questions.c
    rows = await conn.scalars(select(q.id).where(q.shop_id == shop_id, q.id.in_(wanted)))
    return set(rows.all())


async def questions_by_id(
    conn: AsyncConnection, shop_id: int, ids: Iterable[int]
) -> dict[int, QuestionView]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    q = t.kb_questions.c
    rows = await conn.execute(select(t.kb_questions).where(q.shop_id == shop_id, q.id.in_(wanted)))
    return {r.id: question_view(r) for r in rows}


async def question_ids_by_text(conn: AsyncConnection, shop_id: int) -> dict[str, int]:
    q = t.kb_questions.c
    rows = await conn.execute(select(q.id, q.question).where(q.shop_id == shop_id).order_by(q.id))
    found: dict[str, int] = {}
    for r in rows:
        found.setdefault(r.question, r.id)
    return found


async def insert_question(
    conn: AsyncConnection, shop_id: int, values: dict[str, Any], now: datetime
) -> int:
    found = await conn.scalar(
        insert(t.kb_questions)
        .values(shop_id=shop_id, created_at=now, updated_at=now, **values)
        .returning(t.kb_questions.c.id)
    )
    assert found is not None
    return int(found)


async def update_question(
    conn: AsyncConnection, question_id: int, values: dict[str, Any], now: datetime
) -> None:
    await conn.execute(
        update(t.kb_questions)
        .where(t.kb_questions.c.id == question_id)
        .values(updated_at=now, **values)
    )


async def delete_question(conn: AsyncConnection, question_id: int) -> None:
    await conn.execute(delete(t.kb_questions).where(t.kb_questions.c.id == question_id))


async def all_questions(conn: AsyncConnection, shop_id: int) -> list[QuestionView]:
    q = t.kb_questions.c
    rows = await conn.execute(select(t.kb_questions).where(q.shop_id == shop_id).order_by(q.id))
    return [question_view(r) for r in rows]


async def count_hit(conn: AsyncConnection, question_id: int) -> None:
    q = t.kb_questions.c
    await conn.execute(
        update(t.kb_questions).where(q.id == question_id).values(hit_count=q.hit_count + 1)
    )


async def count_feedback(conn: AsyncConnection, question_id: int, *, resolved: bool) -> None:
    q = t.kb_questions.c
    column = q.resolved_count if resolved else q.unresolved_count
    await conn.execute(
        update(t.kb_questions).where(q.id == question_id).values({column: column + 1})
    )


# --- entry (ENTRY-2) ------------------------------------------------------------------------


async def shop_exists(conn: AsyncConnection, shop_id: int) -> bool:
    return await conn.scalar(select(t.shops.c.id).where(t.shops.c.id == shop_id)) is not None


async def save_shop_settings(conn: AsyncConnection, shop_id: int, settings: dict[str, Any]) -> None:
    await conn.execute(update(t.shops).where(t.shops.c.id == shop_id).values(settings=settings))


async def entry_config(conn: AsyncConnection, shop_id: int) -> dict[str, Any]:
    row = (
        await conn.execute(select(t.shop_entries).where(t.shop_entries.c.shop_id == shop_id))
    ).first()
    if row is None:
        return {"faq_menu": [], "bot_cards": [], "consumer_phrases": []}
    return {
        "faq_menu": list(row.faq_menu),
        "bot_cards": list(row.bot_cards),
        "consumer_phrases": list(row.consumer_phrases),
    }


async def save_entry_config(conn: AsyncConnection, shop_id: int, config: dict[str, Any]) -> None:
    await conn.execute(_upsert(conn, t.shop_entries, {"shop_id": shop_id, **config}, ["shop_id"]))


# --- bot messages and events ----------------------------------------------------------------

BOT_VERDICTS = ("bot_answer", "bot_miss")


async def latest_verdicts(
    conn: AsyncConnection, conversation_id: int, limit: int
) -> list[tuple[str, dict[str, Any]]]:
    """The bot's latest answers and misses in a conversation, newest first (BOT-4)."""
    e = t.conversation_events.c
    rows = await conn.execute(
        select(e.kind, e.data)
        .where(e.conversation_id == conversation_id, e.kind.in_(BOT_VERDICTS))
        .order_by(e.id.desc())
        .limit(limit)
    )
    return [(r.kind, dict(r.data or {})) for r in rows]


async def has_event(conn: AsyncConnection, conversation_id: int, kind: str) -> bool:
    e = t.conversation_events.c
    found = await conn.scalar(
        select(e.id).where(e.conversation_id == conversation_id, e.kind == kind).limit(1)
    )
    return found is not None


async def message_at(conn: AsyncConnection, conversation_id: int, seq: int) -> MessageRecord | None:
    m = t.messages.c
    row = (
        await conn.execute(
            select(t.messages).where(m.conversation_id == conversation_id, m.seq == seq)
        )
    ).first()
    return record_of(row) if row is not None else None


async def set_message_meta(conn: AsyncConnection, message_id: int, meta: dict[str, Any]) -> None:
    await conn.execute(update(t.messages).where(t.messages.c.id == message_id).values(meta=meta))


# --- statistics (BOT-3, BOT-6) --------------------------------------------------------------


async def count_events(
    conn: AsyncConnection, shop_id: int, kinds: Sequence[str], start: datetime, end: datetime
) -> dict[str, int]:
    e = t.conversation_events.c
    rows = await conn.execute(
        select(e.kind, func.count())
        .where(e.shop_id == shop_id, e.kind.in_(list(kinds)), e.at >= start, e.at < end)
        .group_by(e.kind)
    )
    return {kind: int(n) for kind, n in rows}


async def feedback_counts(
    conn: AsyncConnection, shop_id: int, start: datetime, end: datetime
) -> tuple[int, int]:
    e = t.conversation_events.c
    rows = await conn.execute(
        select(e.cause, func.count())
        .where(e.shop_id == shop_id, e.kind == "bot_feedback", e.at >= start, e.at < end)
        .group_by(e.cause)
    )
    counts = {cause: int(n) for cause, n in rows}
    return counts.get("resolved", 0), counts.get("unresolved", 0)


def _day(conn: AsyncConnection, column: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.date(column)


async def consultations_by_day(
    conn: AsyncConnection, shop_id: int, start: datetime, end: datetime
) -> dict[str, int]:
    e = t.conversation_events.c
    day = _day(conn, e.at)
    rows = await conn.execute(
        select(day, func.count())
        .where(e.shop_id == shop_id, e.kind == "bot_consulted", e.at >= start, e.at < end)
        .group_by(day)
    )
    return {str(d): int(n) for d, n in rows}


async def transfers_by_day(
    conn: AsyncConnection, shop_id: int, start: datetime, end: datetime
) -> dict[str, int]:
    """Human requests of conversations that had entered the bot (BOT-6)."""
    e = t.conversation_events.c
    consulted = t.conversation_events.alias("consulted")
    day = _day(conn, e.at)
    rows = await conn.execute(
        select(day, func.count())
        .where(
            e.shop_id == shop_id,
            e.kind == "human_requested",
            e.at >= start,
            e.at < end,
            exists().where(
                and_(
                    consulted.c.conversation_id == e.conversation_id,
                    consulted.c.kind == "bot_consulted",
                    consulted.c.id < e.id,
                )
            ),
        )
        .group_by(day)
    )
    return {str(d): int(n) for d, n in rows}


async def faq_clicks(
    conn: AsyncConnection, shop_id: int, start: datetime, end: datetime
) -> dict[str, int]:
    e = t.conversation_events.c
    rows = await conn.execute(
        select(e.cause, func.count())
        .where(e.shop_id == shop_id, e.kind == "faq_click", e.at >= start, e.at < end)
        .group_by(e.cause)
    )
    return {str(item): int(n) for item, n in rows}


async def shops_with_questions(conn: AsyncConnection) -> list[int]:
    """BOT-5: the shops whose knowledge base has at least one question."""
    q = t.kb_questions.c
    rows = await conn.execute(select(q.shop_id).distinct().order_by(q.shop_id))
    return [int(r.shop_id) for r in rows]
