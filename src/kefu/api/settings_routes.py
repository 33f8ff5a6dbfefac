"""HTTP routes for quick phrases (MSG-4, SET-3) and greetings (SET-2). Thin: validate, call a
service, shape the answer."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field, StringConstraints

from kefu import errors
from kefu.api import models as m
from kefu.api.deps import ctx_of, current_staff
from kefu.api.errors import refusals
from kefu.api.responses import JsonOut
from kefu.api.schemas import MAX_ID, DbId, In
from kefu.api.uploads import multipart_doc, read_upload
from kefu.services import greetings, phrases
from kefu.services.context import Staff
from kefu.storage.greetings import Greeting

router = APIRouter(prefix="/api", default_response_class=JsonOut)
StaffDep = Annotated[Staff, Depends(current_staff)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Long = Annotated[str, StringConstraints(max_length=10_000)]
MAX_PHRASE_FILE_BYTES = 2 * 1024 * 1024


class PhraseIn(In):
    scope: Literal["personal", "shop"] = "personal"
    title: Long = ""
    body: Long


class PhraseUpdateIn(In):
    title: Long = ""
    body: Long


class GroupGreetingIn(In):
    group_id: DbId
    welcome: Long | None = None
    closing: Long | None = None


class AgentGreetingIn(In):
    agent_id: DbId
    welcome: Long | None = None
    closing: Long | None = None


class GreetingsIn(In):
    groups: Annotated[list[GroupGreetingIn], Field(default_factory=list, max_length=1000)]
    agents: Annotated[list[AgentGreetingIn], Field(default_factory=list, max_length=5000)]


@router.get(
    "/quick-phrases",
    tags=["settings"],
    response_model=m.PhraseListOut,
    responses=refusals(401, 422),
)
async def list_phrases(
    staff: StaffDep, request: Request, q: Annotated[str | None, Query(max_length=100)] = None
) -> JsonOut:
    return JsonOut({"items": await phrases.list_phrases(ctx_of(request), staff, text=q)})


@router.post(
    "/quick-phrases",
    tags=["settings"],
    response_model=m.PhraseOut,
    responses=refusals(401, 403, 422),
)
async def add_phrase(body: PhraseIn, staff: StaffDep, request: Request) -> JsonOut:
    return JsonOut(
        await phrases.add_phrase(
            ctx_of(request), staff, scope=body.scope, title=body.title, body=body.body
        )
    )


@router.put(
    "/quick-phrases/{phrase_id}",
    tags=["settings"],
    response_model=m.PhraseOut,
    responses=refusals(401, 403, 404, 422),
)
async def update_phrase(
    phrase_id: Id, body: PhraseUpdateIn, staff: StaffDep, request: Request
) -> JsonOut:
    return JsonOut(
        await phrases.update_phrase(
            ctx_of(request), staff, phrase_id, title=body.title, body=body.body
        )
    )


@router.delete(
    "/quick-phrases/{phrase_id}",
    tags=["settings"],
    response_model=m.OkOut,
    responses=refusals(401, 403, 404, 422),
)
async def delete_phrase(phrase_id: Id, staff: StaffDep, request: Request) -> JsonOut:
    await phrases.delete_phrase(ctx_of(request), staff, phrase_id)
    return JsonOut({"ok": True})


@router.post(
    "/quick-phrases/import",
    tags=["settings"],
    response_model=m.PhraseImportOut,
    responses=refusals(401, 403, 422),
    openapi_extra=multipart_doc({"scope": {"type": "string", "enum": ["personal", "shop"]}}),
)
async def import_phrases(staff: StaffDep, request: Request) -> JsonOut:
    upload = await read_upload(request, max_bytes=MAX_PHRASE_FILE_BYTES)
    scope = upload.fields.get("scope", "personal")
    if scope not in ("personal", "shop"):
        raise errors.BadInput("scope is personal or shop.", field="scope")
    result = await phrases.import_phrases(ctx_of(request), staff, scope=scope, data=upload.data)
    return JsonOut({"imported": result.imported, "rejected": result.rejected})


@router.get(
    "/greetings",
    tags=["settings"],
    response_model=m.GreetingsOut,
    responses=refusals(401),
)
async def get_greetings(staff: StaffDep, request: Request) -> JsonOut:
    return JsonOut(await greetings.get_greetings(ctx_of(request), staff))


@router.put(
    "/greetings",
    tags=["settings"],
    response_model=m.GreetingsOut,
    responses=refusals(401, 403, 404, 422),
)
async def put_greetings(body: GreetingsIn, staff: StaffDep, request: Request) -> JsonOut:
    items = [Greeting("group", g.group_id, g.welcome, g.closing) for g in body.groups]
    items += [Greeting("agent", a.agent_id, a.welcome, a.closing) for a in body.agents]
    return JsonOut(await greetings.put_greetings(ctx_of(request), staff, items))
