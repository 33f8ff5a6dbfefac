"""HTTP routes of the catalog: imports (API-1), integration tokens (API-2), product search and
order lists, and the consumer's own orders for the widget (ENTRY-3). Thin: authenticate,
validate, call a service, shape the answer.

The import and read routes take the owner's session or an integration token
(`Authorization: Bearer kefu_…`); a token is no cookie, so its requests need no origin check."""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from typing import IO, Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, StringConstraints

from kefu import errors
from kefu.api.deps import SESSION_SCHEME, ctx_of, current_staff
from kefu.api.errors import refusals
from kefu.api.models import OkOut
from kefu.api.responses import JsonOut
from kefu.api.schemas import MAX_ID, In
from kefu.catalog import importer, service
from kefu.catalog import models as m
from kefu.catalog.domain import MAX_QUERY_CHARS, MAX_TOKEN_NAME_CHARS, SEARCH_PAGE_MAX
from kefu.services.accounts import consumer_from_token
from kefu.services.context import ConsumerActor, Staff

router = APIRouter(prefix="/api", default_response_class=JsonOut)

TOKEN_SCHEME = HTTPBearer(
    scheme_name="integration_token",
    description="An integration token the owner made under 设置 (API-2).",
    auto_error=False,
)
CONSUMER_SCHEME = APIKeyHeader(
    name="X-Consumer-Token",
    scheme_name="consumer_token",
    description="The token POST /api/consumer/session returned.",
    auto_error=False,
)
_SPOOL_IN_MEMORY_BYTES = 1024 * 1024
_CHUNK_BYTES = 64 * 1024


async def catalog_actor(
    request: Request,
    cookie: Annotated[str | None, Security(SESSION_SCHEME)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(TOKEN_SCHEME)],
) -> service.Actor:
    """API-2: an integration token when one is presented, else the staff session."""
    if bearer is not None:
        return await service.authenticate_token(ctx_of(request), bearer.credentials)
    if request.headers.get("authorization"):
        raise errors.Unauthenticated("Invalid API token.")
    return await current_staff(request, cookie)


ActorDep = Annotated[service.Actor, Depends(catalog_actor)]
StaffDep = Annotated[Staff, Depends(current_staff)]
Page = Annotated[int, Query(ge=1, le=100_000)]
PageSize = Annotated[int, Query(ge=1, le=SEARCH_PAGE_MAX)]


def _no_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    return value


Search = Annotated[str, Query(max_length=MAX_QUERY_CHARS), AfterValidator(_no_nul)]
Uid = Annotated[str | None, Query(max_length=64), AfterValidator(_no_nul)]
Format = Annotated[Literal["csv", "json"] | None, Query(alias="format")]


def _import_doc() -> dict[str, object]:
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {
        "requestBody": {
            "required": True,
            "description": "The file itself as the body (CSV or JSON; UTF-8 or GBK).",
            "content": {"text/csv": binary, "application/json": binary},
        }
    }


async def _spool(request: Request, max_bytes: int) -> tuple[IO[bytes], int]:
    """The body in a temporary file (on disk past 1 MB), read only up to `max_bytes`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise errors.PayloadTooLarge(
            "The file is too large.", max_bytes=max_bytes, bytes=int(declared)
        )
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > max_bytes:
            spool.close()
            raise errors.PayloadTooLarge("The file is too large.", max_bytes=max_bytes)
        spool.write(chunk)
    spool.seek(0)
    return spool, total


def _format(declared: str | None, request: Request) -> importer.FileFormat:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    by_media = {"text/csv": "csv", "application/json": "json"}.get(media)
    return importer.file_format(declared or by_media, None)


async def _import(
    kind: importer.Kind, actor: service.Actor, request: Request, declared: str | None
) -> JsonOut:
    ctx = ctx_of(request)
    service.may_import(actor)
    fmt = _format(declared, request)
    raw, size = await _spool(request, ctx.settings.import_max_bytes)
    with raw:
        result = await service.import_file(ctx, actor, kind=kind, raw=raw, size=size, fmt=fmt)
    return JsonOut(
        {
            "imported": result.imported,
            "updated": result.updated,
            "rejected_count": result.rejected_count,
            "rejected": [asdict(r) for r in result.rejected],
        }
    )


@router.post(
    "/catalog/products/import",
    tags=["catalog"],
    response_model=m.CatalogImportOut,
    responses=refusals(401, 403, 413, 422),
    openapi_extra=_import_doc(),
)
async def import_products(actor: ActorDep, request: Request, fmt: Format = None) -> JsonOut:
    return await _import("products", actor, request, fmt)


@router.post(
    "/catalog/orders/import",
    tags=["catalog"],
    response_model=m.CatalogImportOut,
    responses=refusals(401, 403, 413, 422),
    openapi_extra=_import_doc(),
)
async def import_orders(actor: ActorDep, request: Request, fmt: Format = None) -> JsonOut:
    return await _import("orders", actor, request, fmt)


@router.get(
    "/catalog/products",
    tags=["catalog"],
    response_model=m.ProductPageOut,
    responses=refusals(401, 422),
)
async def search_products(
    actor: ActorDep, request: Request, q: Search = "", page: Page = 1, page_size: PageSize = 20
) -> JsonOut:
    items, total = await service.search_products(
        ctx_of(request), actor, query=q, page=page, page_size=page_size
    )
    return JsonOut({"items": [m.product_out(p) for p in items], "total": total})


@router.get(
    "/catalog/orders",
    tags=["catalog"],
    response_model=m.OrderPageOut,
    responses=refusals(401, 422),
)
async def list_orders(
    actor: ActorDep,
    request: Request,
    consumer_uid: Uid = None,
    page: Page = 1,
    page_size: PageSize = 20,
) -> JsonOut:
    items, total = await service.list_orders(
        ctx_of(request), actor, consumer_uid=consumer_uid, page=page, page_size=page_size
    )
    return JsonOut({"items": [m.order_out(o) for o in items], "total": total})


@router.get(
    "/consumer/orders",
    tags=["consumer"],
    response_model=m.OrderPageOut,
    responses=refusals(401, 422),
)
async def consumer_orders(
    request: Request,
    shop_id: Annotated[int, Query(ge=1, le=MAX_ID)],
    token: Annotated[str | None, Security(CONSUMER_SCHEME)],
    page: Page = 1,
    page_size: PageSize = 20,
) -> JsonOut:
    """ENTRY-3: the consumer's own orders in the shop, for the widget's "+" panel."""
    if not token or len(token) > 512:
        raise errors.Unauthenticated("Invalid consumer token.")
    ctx = ctx_of(request)
    consumer: ConsumerActor = consumer_from_token(ctx, shop_id, token)
    items, total = await service.consumer_orders(ctx, consumer, page=page, page_size=page_size)
    return JsonOut({"items": [m.order_out(o) for o in items], "total": total})


class TokenIn(In):
    name: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TOKEN_NAME_CHARS)]


@router.get(
    "/catalog/tokens",
    tags=["catalog"],
    response_model=m.ApiTokenListOut,
    responses=refusals(401, 403),
)
async def list_tokens(staff: StaffDep, request: Request) -> JsonOut:
    records = await service.list_tokens(ctx_of(request), staff)
    return JsonOut({"items": [m.token_out(r) for r in records]})


@router.post(
    "/catalog/tokens",
    tags=["catalog"],
    response_model=m.NewApiTokenOut,
    responses=refusals(401, 403, 409, 422),
)
async def create_token(body: TokenIn, staff: StaffDep, request: Request) -> JsonOut:
    record, token = await service.create_token(ctx_of(request), staff, name=body.name)
    return JsonOut({**m.token_out(record), "token": token})


@router.delete(
    "/catalog/tokens/{token_id}",
    tags=["catalog"],
    response_model=OkOut,
    responses=refusals(401, 403, 404, 422),
)
async def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=MAX_ID)], staff: StaffDep, request: Request
) -> JsonOut:
    await service.revoke_token(ctx_of(request), staff, token_id)
    return JsonOut({"ok": True})
