"""The knowledge base's use cases (BOT-2, BOT-5): categories, questions, synonyms, the owner's
try-out, import and export, and each shop's matcher, kept in step with the database through
its version counter. Owner-only writes are checked here; another shop's ids are NotFound.
The matchers are this process's (`KbCache`), passed in by whoever owns them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from kefu import errors
from kefu.bot import kbfile
from kefu.bot.cache import KbCache, KbSnapshot
from kefu.bot.domain import QuestionDraft, check_category_name, check_question, check_synonyms
from kefu.bot.matcher import Decision
from kefu.services.access import require_owner
from kefu.services.context import Context, Staff
from kefu.storage import kb
from kefu.storage.db import Connection
from kefu.storage.kb import CategoryView, QuestionView

# --- the matcher ----------------------------------------------------------------------------


async def decide(ctx: Context, matchers: KbCache, shop_id: int, text: str) -> Decision:
    """BOT-5: the shop's matcher's verdict on `text`, computed off the event loop."""
    async with ctx.db.read() as tx:
        version = await kb.kb_version(tx.conn, shop_id)
    return await matchers.use(shop_id, version, lambda: _snapshot(ctx, shop_id), _answer(text))


def _loader(ctx: Context, shop_id: int) -> Callable[[], Awaitable[KbSnapshot]]:
    return lambda: _snapshot(ctx, shop_id)


async def preload(ctx: Context, matchers: KbCache) -> int:
    """BOT-5: build every shop's matcher ahead of its first question (start-up); returns how
    many shops have a knowledge base."""
    async with ctx.db.read() as tx:
        shops = await kb.shops_with_questions(tx.conn)
    for shop_id in shops:
        await matchers.rebuild(shop_id, _loader(ctx, shop_id))
    return len(shops)


def _answer(text: str) -> Callable[..., Decision]:
    return lambda matcher: matcher.answer(text)


async def _snapshot(ctx: Context, shop_id: int) -> KbSnapshot:
    async with ctx.db.read() as tx:
        settings = await kb.kb_settings(tx.conn, shop_id)
        questions = await kb.all_questions(tx.conn, shop_id)
    return KbSnapshot(
        settings.version,
        settings.synonyms,
        settings.user_words,
        [(q.id, _phrasings(q.question, q.phrasings)) for q in questions],
    )


def _phrasings(question: str, phrasings: Sequence[str]) -> list[str]:
    return [question, *phrasings]


async def warm(ctx: Context, matchers: KbCache, shop_id: int) -> int:
    """Load the shop's matcher now (the CLI's measurement); returns its entry count."""
    async with ctx.db.read() as tx:
        version = await kb.kb_version(tx.conn, shop_id)
    return await matchers.use(shop_id, version, lambda: _snapshot(ctx, shop_id), len)


@dataclass(frozen=True, slots=True)
class TryResult:
    answered: bool
    confidence: float
    candidates: list[dict[str, object]]


async def try_text(ctx: Context, matchers: KbCache, staff: Staff, text: str) -> TryResult:
    """BOT-5: the owner's try-out box: what the bot would answer, and its runners-up."""
    if "\x00" in text or not text.strip() or len(text) > 2000:
        raise errors.BadInput("Type 1–2,000 characters.", field="text", max_chars=2000)
    decision = await decide(ctx, matchers, staff.shop_id, text)
    ranked = [decision.candidate] if decision.candidate else []
    ranked += list(decision.alternatives)
    async with ctx.db.read() as tx:
        found = await kb.questions_by_id(tx.conn, staff.shop_id, [c.entry_id for c in ranked])
    candidates: list[dict[str, object]] = [
        {
            "question_id": c.entry_id,
            "question": found[c.entry_id].question,
            "confidence": c.confidence,
        }
        for c in ranked
        if c.entry_id in found
    ]
    top = ranked[0].confidence if ranked else 0.0
    return TryResult(decision.is_understood, top, candidates)


# --- categories -----------------------------------------------------------------------------


async def list_categories(ctx: Context, staff: Staff) -> list[CategoryView]:
    async with ctx.db.read() as tx:
        return await kb.categories(tx.conn, staff.shop_id)


async def add_category(ctx: Context, staff: Staff, *, name: str) -> CategoryView:
    """BOT-2: add a category (owner only)."""
    require_owner(staff)
    name = check_category_name(name)
    async with ctx.db.uow() as tx:
        category_id = await kb.add_category(tx.conn, staff.shop_id, name, ctx.clock.now())
        await tx.commit()
    return CategoryView(category_id, name, 0)


async def rename_category(
    ctx: Context, staff: Staff, category_id: int, *, name: str
) -> CategoryView:
    """BOT-2: rename a category (owner only)."""
    require_owner(staff)
    name = check_category_name(name)
    async with ctx.db.uow() as tx:
        await kb.shop_category(tx.conn, staff.shop_id, category_id)
        await kb.rename_category(tx.conn, category_id, name)
        views = await kb.categories(tx.conn, staff.shop_id)
        await tx.commit()
    return next(v for v in views if v.id == category_id)


async def delete_category(ctx: Context, staff: Staff, category_id: int) -> None:
    """BOT-2: delete a category; its questions become uncategorised (owner only)."""
    require_owner(staff)
    async with ctx.db.uow() as tx:
        await kb.shop_category(tx.conn, staff.shop_id, category_id)
        await kb.delete_category(tx.conn, category_id)
        await tx.commit()


# --- questions ------------------------------------------------------------------------------


async def list_questions(
    ctx: Context,
    staff: Staff,
    *,
    category_id: int | None,
    text: str | None,
    page: int,
    page_size: int,
) -> tuple[list[QuestionView], int]:
    async with ctx.db.read() as tx:
        if category_id is not None:
            await kb.shop_category(tx.conn, staff.shop_id, category_id)
        return await kb.list_questions(
            tx.conn,
            staff.shop_id,
            category_id=category_id,
            text=text,
            page=page,
            page_size=page_size,
        )


async def get_question(ctx: Context, staff: Staff, question_id: int) -> QuestionView:
    async with ctx.db.read() as tx:
        return await kb.shop_question(tx.conn, staff.shop_id, question_id)


async def add_question(
    ctx: Context, matchers: KbCache, staff: Staff, draft: QuestionDraft
) -> QuestionView:
    """BOT-2: a new question with its answer, phrasings and related questions (owner only)."""
    require_owner(staff)
    draft = check_question(draft)
    async with ctx.db.uow() as tx:
        await _check_refs(tx.conn, staff.shop_id, draft)
        question_id = await kb.insert_question(
            tx.conn, staff.shop_id, _values(draft), ctx.clock.now()
        )
        version = await kb.bump_version(tx.conn, staff.shop_id)
        view = await kb.shop_question(tx.conn, staff.shop_id, question_id)
        await tx.commit()
    await matchers.apply(
        staff.shop_id,
        version,
        _loader(ctx, staff.shop_id),
        upserts=[(question_id, _phrasings(view.question, view.phrasings))],
    )
    return view


async def update_question(
    ctx: Context, matchers: KbCache, staff: Staff, question_id: int, draft: QuestionDraft
) -> QuestionView:
    """BOT-2: replace a question's text, answer, phrasings and links (owner only)."""
    require_owner(staff)
    draft = check_question(draft, own_id=question_id)
    async with ctx.db.uow() as tx:
        await kb.shop_question(tx.conn, staff.shop_id, question_id)
        await _check_refs(tx.conn, staff.shop_id, draft)
        await kb.update_question(tx.conn, question_id, _values(draft), ctx.clock.now())
        version = await kb.bump_version(tx.conn, staff.shop_id)
        view = await kb.shop_question(tx.conn, staff.shop_id, question_id)
        await tx.commit()
    await matchers.apply(
        staff.shop_id,
        version,
        _loader(ctx, staff.shop_id),
        upserts=[(question_id, _phrasings(view.question, view.phrasings))],
    )
    return view


async def delete_question(ctx: Context, matchers: KbCache, staff: Staff, question_id: int) -> None:
    """BOT-2: remove a question; the bot stops answering it at once (owner only)."""
    require_owner(staff)
    async with ctx.db.uow() as tx:
        await kb.shop_question(tx.conn, staff.shop_id, question_id)
        await kb.delete_question(tx.conn, question_id)
        version = await kb.bump_version(tx.conn, staff.shop_id)
        await tx.commit()
    await matchers.apply(
        staff.shop_id, version, _loader(ctx, staff.shop_id), removals=[question_id]
    )


async def _check_refs(conn: Connection, shop_id: int, draft: QuestionDraft) -> None:
    """ACCT-5: the category and related questions must be this shop's."""
    if draft.category_id is not None:
        await kb.shop_category(conn, shop_id, draft.category_id)
    found = await kb.existing_question_ids(conn, shop_id, draft.related_ids)
    for related_id in draft.related_ids:
        if related_id not in found:
            raise errors.NotFound(kind="question", id=related_id)


def _values(draft: QuestionDraft) -> dict[str, object]:
    return {
        "category_id": draft.category_id,
        "question": draft.question,
        "answer": draft.answer,
        "phrasings": list(draft.phrasings),
        "related_ids": list(draft.related_ids),
    }


# --- synonyms -------------------------------------------------------------------------------


async def get_synonyms(ctx: Context, staff: Staff) -> kb.KbSettings:
    async with ctx.db.read() as tx:
        return await kb.kb_settings(tx.conn, staff.shop_id)


async def put_synonyms(
    ctx: Context,
    matchers: KbCache,
    staff: Staff,
    *,
    groups: Sequence[Sequence[str]],
    user_words: Sequence[str],
) -> kb.KbSettings:
    """BOT-5: the shop's own synonym groups and words, added to the defaults (owner only)."""
    require_owner(staff)
    clean_groups, words = check_synonyms(groups, user_words)
    async with ctx.db.uow() as tx:
        await kb.save_synonyms(tx.conn, staff.shop_id, clean_groups, words)
        saved = await kb.kb_settings(tx.conn, staff.shop_id)
        await tx.commit()
    # New synonyms change how every phrasing is cut: the matcher is rebuilt now.
    await matchers.rebuild(staff.shop_id, _loader(ctx, staff.shop_id))
    return saved


# --- import and export ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportResult:
    imported: int
    updated: int
    rejected: list[kbfile.Rejected]


async def import_file(
    ctx: Context, matchers: KbCache, staff: Staff, data: bytes, *, filename: str | None = None
) -> ImportResult:
    """BOT-2: add or update questions from a CSV or JSON file (owner only)."""
    require_owner(staff)
    parsed = kbfile.parse(data, filename=filename)
    return await import_rows(ctx, matchers, staff.shop_id, parsed)


async def import_rows(
    ctx: Context,
    matchers: KbCache,
    shop_id: int,
    parsed: kbfile.ParsedFile,
    on_row: Callable[[], None] | None = None,
) -> ImportResult:
    """BOT-2: in one transaction; a question already in the base (same text) is updated."""
    now = ctx.clock.now()
    imported = updated = 0
    async with ctx.db.uow() as tx:
        categories = await kb.category_ids_by_name(tx.conn, shop_id)
        by_text = await kb.question_ids_by_text(tx.conn, shop_id)
        for row in parsed.rows:
            draft = row.draft
            if row.category is not None:
                if row.category not in categories:
                    categories[row.category] = await kb.add_category(
                        tx.conn, shop_id, row.category, now
                    )
                draft = replace(draft, category_id=categories[row.category])
            existing = by_text.get(draft.question)
            if existing is None:
                by_text[draft.question] = await kb.insert_question(
                    tx.conn, shop_id, _values(draft), now
                )
                imported += 1
            else:
                values = _values(draft)
                if row.category is None:
                    del values["category_id"]
                await kb.update_question(tx.conn, existing, values, now)
                updated += 1
            if on_row is not None:
                on_row()
        await _link_related(tx.conn, parsed.rows, by_text, now)
        if parsed.rows:
            await kb.bump_version(tx.conn, shop_id)
        await tx.commit()
    await matchers.rebuild(shop_id, _loader(ctx, shop_id))
    return ImportResult(imported, updated, sorted(parsed.rejected, key=lambda r: r.line))


async def _link_related(
    conn: Connection, rows: Sequence[kbfile.KbRow], by_text: dict[str, int], now: datetime
) -> None:
    for row in rows:
        if not row.related:
            continue
        own = by_text[row.draft.question]
        related = [by_text[r] for r in row.related if r in by_text and by_text[r] != own]
        await kb.update_question(conn, own, {"related_ids": related[:5]}, now)


async def export_file(ctx: Context, staff: Staff, fmt: str) -> bytes:
    """BOT-2: the knowledge base as CSV or JSON, readable by the import."""
    return await export_shop(ctx, staff.shop_id, fmt)


async def export_shop(ctx: Context, shop_id: int, fmt: str) -> bytes:
    async with ctx.db.read() as tx:
        names = {c.id: c.name for c in await kb.categories(tx.conn, shop_id)}
        questions = await kb.all_questions(tx.conn, shop_id)
    text = {q.id: q.question for q in questions}
    return kbfile.dump(
        (
            kbfile.ExportEntry(
                names.get(q.category_id) if q.category_id is not None else None,
                q.question,
                q.answer,
                q.phrasings,
                [text[r] for r in q.related_ids if r in text],
            )
            for q in questions
        ),
        fmt,
    )
