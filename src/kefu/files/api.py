"""HTTP routes of pictures and files in chats (MSG-1): uploads (multipart, bounded while
reading) by staff and by the widget's consumer, and downloads for the people of the
conversation. Thin: read, call the service, shape the answer."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Path, Request
from starlette.responses import Response

from kefu import errors
from kefu.api.deps import ctx_of, current_staff, runtime
from kefu.api.errors import refusals
from kefu.api.responses import JsonOut
from kefu.api.schemas import MAX_ID
from kefu.api.uploads import Upload, multipart_doc, read_upload
from kefu.domain.messages import MAX_CLIENT_ID_CHARS
from kefu.files import models as f
from kefu.files import service
from kefu.files.store import store_for
from kefu.services import accounts
from kefu.services.context import ConsumerActor, Staff

router = APIRouter(prefix="/api", default_response_class=JsonOut)
StaffDep = Annotated[Staff, Depends(current_staff)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]

STAFF_UPLOAD = "/api/conversations/{conversation_id}/attachments"
CONSUMER_UPLOAD = "/api/consumer/conversations/{conversation_id}/attachments"
# Read their own bodies, bounded by the larger file limit (app.py, SELF_BOUNDED_PATHS).
UPLOAD_PATHS = frozenset({STAFF_UPLOAD, CONSUMER_UPLOAD})
MAX_TOKEN_CHARS = 500


async def current_consumer(
    shop: Annotated[
        int, Header(alias="X-Kefu-Shop", ge=1, le=MAX_ID, description="The widget's shop id.")
    ],
    token: Annotated[
        str,
        Header(
            alias="X-Kefu-Consumer-Token",
            max_length=MAX_TOKEN_CHARS,
            description="The consumer token of POST /api/consumer/session.",
        ),
    ],
    request: Request,
) -> ConsumerActor:
    """The widget's consumer, by the token its session got (a header: no cookie, no CSRF)."""
    return accounts.consumer_from_token(ctx_of(request), shop, token)


ConsumerDep = Annotated[ConsumerActor, Depends(current_consumer)]

_UPLOAD_DOC = multipart_doc(
    {
        "client_id": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_CLIENT_ID_CHARS,
            "description": "The message's client id (MSG-2): a resend gets the same answer.",
        }
    }
)
_FILE_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, as a download (`Content-Disposition: attachment`, "
        "`X-Content-Type-Options: nosniff`), in the type its content was found to be.",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        "headers": {
            "Content-Disposition": {
                "description": "attachment; filename=...; filename*=UTF-8''... (RFC 5987)",
                "schema": {"type": "string"},
            }
        },
    }
}
_THUMBNAIL_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A picture's thumbnail (JPEG or PNG, re-encoded by the server), inline.",
        "content": {
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


async def _read(request: Request) -> tuple[Upload, str]:
    settings = ctx_of(request).settings
    largest = max(settings.max_image_bytes, settings.max_file_bytes)
    try:
        upload = await read_upload(request, max_bytes=largest)
    except errors.BadInput as exc:
        if "max_bytes" in exc.params:
            raise errors.FileTooLarge(max_bytes=largest) from exc
        raise
    client_id = upload.fields.get("client_id", "")
    if not 1 <= len(client_id) <= MAX_CLIENT_ID_CHARS or "\x00" in client_id:
        raise errors.BadInput(
            "The form needs a client_id.", field="client_id", max_chars=MAX_CLIENT_ID_CHARS
        )
    return upload, client_id


def _sent(sent: service.Sent) -> JsonOut:
    ack = sent.ack
    return JsonOut(
        {
            "conversation_id": ack.conversation_id,
            "seq": ack.seq,
            "client_id": ack.client_id,
            "created_at": ack.created_at,
            "attachment": sent.attachment,
        }
    )


@router.post(
    "/conversations/{conversation_id}/attachments",
    tags=["files"],
    response_model=f.AttachmentSentOut,
    responses=refusals(401, 403, 404, 409, 413, 422, 503),
    openapi_extra=_UPLOAD_DOC,
)
async def staff_upload(conversation_id: Id, staff: StaffDep, request: Request) -> JsonOut:
    rt = runtime(request)
    await service.check_may_upload(rt.ctx, staff, conversation_id)
    upload, client_id = await _read(request)
    sent = await service.upload(
        rt.ctx,
        rt.writer,
        store_for(rt.ctx.settings),
        staff,
        conversation_id,
        data=upload.data,
        filename=upload.filename,
        client_id=client_id,
    )
    return _sent(sent)


@router.post(
    "/consumer/conversations/{conversation_id}/attachments",
    tags=["consumer"],
    response_model=f.AttachmentSentOut,
    responses=refusals(401, 404, 409, 413, 422, 429, 503),
    openapi_extra=_UPLOAD_DOC,
)
async def consumer_upload(conversation_id: Id, consumer: ConsumerDep, request: Request) -> JsonOut:
    rt = runtime(request)
    await rt.limits.consumer_message(conversation_id)
    await service.check_may_upload(rt.ctx, consumer, conversation_id)
    upload, client_id = await _read(request)
    sent = await service.upload(
        rt.ctx,
        rt.writer,
        store_for(rt.ctx.settings),
        consumer,
        conversation_id,
        data=upload.data,
        filename=upload.filename,
        client_id=client_id,
    )
    return _sent(sent)


def content_disposition(name: str) -> str:
    """RFC 6266 with RFC 5987's UTF-8 name, and an ASCII fallback for old clients."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


_SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, max-age=3600",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


def _file(found: service.Download) -> Response:
    headers = {**_SAFE_HEADERS, "Content-Disposition": content_disposition(found.name)}
    return Response(found.data, media_type=found.mime, headers=headers)


def _thumbnail(found: service.Download) -> Response:
    return Response(found.data, media_type=found.mime, headers=_SAFE_HEADERS)


@router.get(
    "/attachments/{attachment_id}",
    tags=["files"],
    response_class=Response,
    responses={**_FILE_ANSWER, **refusals(401, 404, 422)},
)
async def staff_download(attachment_id: Id, staff: StaffDep, request: Request) -> Response:
    ctx = ctx_of(request)
    return _file(await service.download(ctx, store_for(ctx.settings), staff, attachment_id))


@router.get(
    "/attachments/{attachment_id}/thumbnail",
    tags=["files"],
    response_class=Response,
    responses={**_THUMBNAIL_ANSWER, **refusals(401, 404, 422)},
)
async def staff_thumbnail(attachment_id: Id, staff: StaffDep, request: Request) -> Response:
    ctx = ctx_of(request)
    store = store_for(ctx.settings)
    return _thumbnail(await service.download(ctx, store, staff, attachment_id, thumbnail=True))


@router.get(
    "/consumer/attachments/{attachment_id}",
    tags=["consumer"],
    response_class=Response,
    responses={**_FILE_ANSWER, **refusals(401, 404, 422)},
)
async def consumer_download(attachment_id: Id, consumer: ConsumerDep, request: Request) -> Response:
    ctx = ctx_of(request)
    return _file(await service.download(ctx, store_for(ctx.settings), consumer, attachment_id))


@router.get(
    "/consumer/attachments/{attachment_id}/thumbnail",
    tags=["consumer"],
    response_class=Response,
    responses={**_THUMBNAIL_ANSWER, **refusals(401, 404, 422)},
)
async def consumer_thumbnail(
    attachment_id: Id, consumer: ConsumerDep, request: Request
) -> Response:
    ctx = ctx_of(request)
    store = store_for(ctx.settings)
    return _thumbnail(await service.download(ctx, store, consumer, attachment_id, thumbnail=True))
