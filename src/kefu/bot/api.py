"""HTTP routes of the bot (API-2): knowledge base, synonyms, try-out, import/export, the entry
(ENTRY-2) and bot statistics (BOT-6). Thin: validate, call a service, shape the answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field, StringConstraints
from starlette.responses import Response

from kefu import errors
from kefu.api.deps import ctx_of, current_staff, runtime
from kefu.api.errors import refusals
from kefu.api.models import OkOut
from kefu.api.responses import JsonOut
from kefu.api.schemas import MAX_ID, DbId, In
from kefu.api.uploads import multipart_doc, read_upload
from kefu.bot import entry as entry_service
from kefu.bot import models as b
from kefu.bot import service, stats
from kefu.bot.cache import KbCache
from kefu.bot.domain import MAX_IMPORT_BYTES, Entry, MenuItem, QuestionDraft
from kefu.services.context import Staff


@asynccontextmanager
async def _lifespan(app: Any) -> AsyncIterator[None]:
    """BOT-5: the bot starts with the server that serves its routes (text tables, matchers)."""
    bot = app.state.runtime.bot
    await bot.start()
    try:
        yield
    finally:
        await bot.stop()


router = APIRouter(prefix="/api", default_response_class=JsonOut, lifespan=_lifespan)
StaffDep = Annotated[Staff, Depends(current_staff)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
# Generous caps against huge payloads; the exact limits are the domain's, with named params.
Long = Annotated[str, StringConstraints(max_length=100_000)]
Items: Any = Field(default_factory=list, max_length=1000)


class CategoryIn(In):
    name: Long


class QuestionIn(In):
    category_id: DbId | None = None
    question: Long
    answer: Long
    phrasings: Annotated[list[Long], Items]
    related_ids: Annotated[list[DbId], Items]

    def draft(self) -> QuestionDraft:
        return QuestionDraft(
            self.question,
            self.answer,
            tuple(self.phrasings),
            tuple(self.related_ids),
            self.category_id,
        )


class SynonymsIn(In):
    groups: Annotated[list[Annotated[list[Long], Field(max_length=1000)]], Items]
    user_words: Annotated[list[Long], Items]


class TryIn(In):
    text: Long


class MenuChildIn(In):
    id: Annotated[str, StringConstraints(max_length=30)] | None = None
    title: Long
    question_id: DbId


class MenuTopIn(In):
    id: Annotated[str, StringConstraints(max_length=30)] | None = None
    title: Long
    children: Annotated[list[MenuChildIn], Items]


class EntryIn(In):
    welcome_message: Long
    faq_menu: Annotated[list[MenuTopIn], Items]
    bot_cards: Annotated[list[MenuChildIn], Items]
    consumer_phrases: Annotated[list[Long], Items]

    def entry(self) -> Entry:
        def child(c: MenuChildIn) -> MenuItem:
            return MenuItem(c.id or "", c.title, c.question_id)

        return Entry(
            self.welcome_message,
            tuple(
                MenuItem(t.id or "", t.title, None, tuple(child(c) for c in t.children))
                for t in self.faq_menu
            ),
            tuple(child(c) for c in self.bot_cards),
            tuple(self.consumer_phrases),
        )


def _matchers(request: Request) -> KbCache:
    """This process's matchers: the bot's, so that the bot sees every edit made here."""
    return runtime(request).bot.matchers


@router.get(
    "/kb/categories",
    tags=["bot"],
    response_model=b.CategoryListOut,
    responses=refusals(401),
)
async def list_categories(staff: StaffDep, request: Request) -> JsonOut:
    return JsonOut({"items": await service.list_categories(ctx_of(request), staff)})


@router.post(
    "/kb/categories",
    tags=["bot"],
    response_model=b.CategoryOut,
    responses=refusals(401, 403, 422),
)
async def add_category(body: CategoryIn, staff: StaffDep, request: Request) -> JsonOut:
    return JsonOut(await service.add_category(ctx_of(request), staff, name=body.name))


@router.put(
    "/kb/categories/{category_id}",
    tags=["bot"],
    response_model=b.CategoryOut,
    responses=refusals(401, 403, 404, 422),
)
async def rename_category(
    category_id: Id, body: CategoryIn, staff: StaffDep, request: Request
) -> JsonOut:
    ctx = ctx_of(request)
    return JsonOut(await service.rename_category(ctx, staff, category_id, name=body.name))


@router.delete(
    "/kb/categories/{category_id}",
    tags=["bot"],
    response_model=OkOut,
    responses=refusals(401, 403, 404, 422),
)
async def delete_category(category_id: Id, staff: StaffDep, request: Request) -> JsonOut:
    await service.delete_category(ctx_of(request), staff, category_id)
    return JsonOut({"ok": True})


@router.get(
    "/kb/questions",
    tags=["bot"],
    response_model=b.QuestionPageOut,
    responses=refusals(401, 404, 422),
)
async def list_questions(
    staff: StaffDep,
    request: Request,
    category_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JsonOut:
    if q is not None and "\x00" in q:
        raise errors.BadInput("NUL characters are not allowed.", field="q")
    items, total = await service.list_questions(
        ctx_of(request), staff, category_id=category_id, text=q, page=page, page_size=page_size
    )
    return JsonOut({"items": items, "total": total})


@router.post(
    "/kb/questions",
    tags=["bot"],
    response_model=b.QuestionOut,
    responses=refusals(401, 403, 404, 422),
)
async def add_question(body: QuestionIn, staff: StaffDep, request: Request) -> JsonOut:
    draft = body.draft()
    return JsonOut(await service.add_question(ctx_of(request), _matchers(request), staff, draft))


@router.get(
    "/kb/questions/{question_id}",
    tags=["bot"],
    response_model=b.QuestionOut,
    responses=refusals(401, 404, 422),
)
async def get_question(question_id: Id, staff: StaffDep, request: Request) -> JsonOut:
    return JsonOut(await service.get_question(ctx_of(request), staff, question_id))


@router.put(
    "/kb/questions/{question_id}",
    tags=["bot"],
    response_model=b.QuestionOut,
    responses=refusals(401, 403, 404, 422),
)
async def update_question(
    question_id: Id, body: QuestionIn, staff: StaffDep, request: Request
) -> JsonOut:
    ctx, matchers = ctx_of(request), _matchers(request)
    return JsonOut(await service.update_question(ctx, matchers, staff, question_id, body.draft()))


@router.delete(
    "/kb/questions/{question_id}",
    tags=["bot"],
    response_model=OkOut,
    responses=refusals(401, 403, 404, 422),
)
async def delete_question(question_id: Id, staff: StaffDep, request: Request) -> JsonOut:
    await service.delete_question(ctx_of(request), _matchers(request), staff, question_id)
    return JsonOut({"ok": True})


@router.post(
    "/kb/import",
    tags=["bot"],
    response_model=b.KbImportOut,
    responses=refusals(401, 403, 422),
    openapi_extra=multipart_doc(),
)
async def import_kb(staff: StaffDep, request: Request) -> JsonOut:
    upload = await read_upload(request, max_bytes=MAX_IMPORT_BYTES)
    result = await service.import_file(
        ctx_of(request), _matchers(request), staff, upload.data, filename=upload.filename
    )
    return JsonOut(
        {
            "imported": result.imported,
            "updated": result.updated,
            "rejected": [asdict(r) for r in result.rejected],
        }
    )


@router.get(
    "/kb/export",
    tags=["bot"],
    response_class=Response,
    responses={
        200: {
            "description": "A download: the JSON file, or a CSV file with a UTF-8 BOM.",
            "model": b.KbFileOut,
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "headers": {
                "Content-Disposition": {
                    "description": 'attachment; filename="knowledge-base.json" (or .csv)',
                    "schema": {"type": "string"},
                }
            },
        },
        **refusals(401, 422),
    },
)
async def export_kb(
    staff: StaffDep, request: Request, format: Literal["json", "csv"] = "json"
) -> Response:
    data = await service.export_file(ctx_of(request), staff, format)
    media = "application/json" if format == "json" else "text/csv; charset=utf-8"
    return Response(
        data,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="knowledge-base.{format}"'},
    )


@router.get(
    "/kb/synonyms",
    tags=["bot"],
    response_model=b.SynonymsOut,
    responses=refusals(401),
)
async def get_synonyms(staff: StaffDep, request: Request) -> JsonOut:
    saved = await service.get_synonyms(ctx_of(request), staff)
    return JsonOut({"groups": saved.synonyms, "user_words": saved.user_words})


@router.put(
    "/kb/synonyms",
    tags=["bot"],
    response_model=b.SynonymsOut,
    responses=refusals(401, 403, 422),
)
async def put_synonyms(body: SynonymsIn, staff: StaffDep, request: Request) -> JsonOut:
    saved = await service.put_synonyms(
        ctx_of(request),
        _matchers(request),
        staff,
        groups=body.groups,
        user_words=body.user_words,
    )
    return JsonOut({"groups": saved.synonyms, "user_words": saved.user_words})


@router.post(
    "/kb/try",
    tags=["bot"],
    response_model=b.TryOut,
    responses=refusals(401, 403, 422),
)
async def try_text(body: TryIn, staff: StaffDep, request: Request) -> JsonOut:
    return JsonOut(await service.try_text(ctx_of(request), _matchers(request), staff, body.text))


@router.get(
    "/shop/entry",
    tags=["settings"],
    response_model=b.EntryOut,
    responses=refusals(401),
)
async def get_entry(staff: StaffDep, request: Request) -> JsonOut:
    return JsonOut(await entry_service.get_entry(ctx_of(request), staff))


@router.put(
    "/shop/entry",
    tags=["settings"],
    response_model=b.EntryOut,
    responses=refusals(401, 403, 404, 422),
)
async def put_entry(body: EntryIn, staff: StaffDep, request: Request) -> JsonOut:
    return JsonOut(await entry_service.put_entry(ctx_of(request), staff, body.entry()))


@router.get(
    "/public/shops/{shop_id}/entry",
    tags=["consumer"],
    response_model=b.PublicEntryOut,
    responses=refusals(404, 422),
)
async def public_entry(shop_id: Id, request: Request) -> JsonOut:
    return JsonOut(await entry_service.public_entry(ctx_of(request), shop_id))


@router.get(
    "/bot/stats",
    tags=["bot"],
    response_model=b.BotStatsOut,
    responses=refusals(401, 403, 422),
)
async def bot_stats(
    staff: StaffDep,
    request: Request,
    start: date | None = None,
    end: date | None = None,
) -> JsonOut:
    ctx = ctx_of(request)
    default_start, default_end = stats.default_range(ctx.clock.now().date())
    return JsonOut(
        await stats.bot_stats(ctx, staff, start=start or default_start, end=end or default_end)
    )
