"""HTTP routes of signed webhooks (API-2), owner only. Thin: validate, call a service, shape
the answer; a secret is in the answers of creation and rotation only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field, Strict, StringConstraints

from kefu.api.deps import ctx_of, current_staff
from kefu.api.errors import refusals
from kefu.api.models import OkOut
from kefu.api.responses import JsonOut
from kefu.api.schemas import MAX_ID, In
from kefu.services.context import Staff
from kefu.webhooks import models as m
from kefu.webhooks import service
from kefu.webhooks.domain import MAX_URL_CHARS, WebhookEvent

router = APIRouter(prefix="/api", default_response_class=JsonOut)
StaffDep = Annotated[Staff, Depends(current_staff)]
EndpointId = Annotated[int, Path(ge=1, le=MAX_ID)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=MAX_URL_CHARS)]
# In's strict mode takes no string for an enum: this field opts out (a string of the enum).
Event = Annotated[WebhookEvent, Strict(False)]
Events = Annotated[list[Event], Field(min_length=1, max_length=len(WebhookEvent))]


class WebhookEndpointIn(In):
    url: Url
    events: Events
    is_enabled: bool = True


class WebhookEndpointPatchIn(In):
    url: Url | None = None
    events: Events | None = None
    is_enabled: bool | None = None


@router.get(
    "/webhooks",
    tags=["webhooks"],
    response_model=m.WebhookEndpointListOut,
    responses=refusals(401, 403),
)
async def list_endpoints(staff: StaffDep, request: Request) -> JsonOut:
    """API-2: the shop's endpoints, without their secrets."""
    ctx = ctx_of(request)
    records = await service.list_endpoints(ctx, staff)
    return JsonOut(
        {
            "items": [m.endpoint_out(r) for r in records],
            "max_endpoints": ctx.settings.webhook_max_endpoints,
        }
    )


@router.post(
    "/webhooks",
    tags=["webhooks"],
    status_code=201,
    response_model=m.WebhookSecretOut,
    responses=refusals(401, 403, 409, 422),
)
async def create_endpoint(body: WebhookEndpointIn, staff: StaffDep, request: Request) -> JsonOut:
    """API-2: a new endpoint; its secret is in this answer only."""
    record, secret = await service.create_endpoint(
        ctx_of(request), staff, url=body.url, events=body.events, is_enabled=body.is_enabled
    )
    return JsonOut({**m.endpoint_out(record), "secret": secret}, status_code=201)


@router.patch(
    "/webhooks/{endpoint_id}",
    tags=["webhooks"],
    response_model=m.WebhookEndpointOut,
    responses=refusals(401, 403, 404, 422),
)
async def update_endpoint(
    endpoint_id: EndpointId, body: WebhookEndpointPatchIn, staff: StaffDep, request: Request
) -> JsonOut:
    """API-2: change the URL (checked again), the events or whether it is enabled."""
    record = await service.update_endpoint(
        ctx_of(request),
        staff,
        endpoint_id,
        url=body.url,
        events=body.events,
        is_enabled=body.is_enabled,
    )
    return JsonOut(m.endpoint_out(record))


@router.delete(
    "/webhooks/{endpoint_id}",
    tags=["webhooks"],
    response_model=OkOut,
    responses=refusals(401, 403, 404, 422),
)
async def delete_endpoint(endpoint_id: EndpointId, staff: StaffDep, request: Request) -> JsonOut:
    """API-2: the endpoint, its log and its undelivered events go."""
    await service.delete_endpoint(ctx_of(request), staff, endpoint_id)
    return JsonOut({"ok": True})


@router.post(
    "/webhooks/{endpoint_id}/rotate-secret",
    tags=["webhooks"],
    response_model=m.WebhookSecretOut,
    responses=refusals(401, 403, 404, 422),
)
async def rotate_secret(endpoint_id: EndpointId, staff: StaffDep, request: Request) -> JsonOut:
    """API-2: a new secret, in this answer only; the old one signs beside it for 24 hours."""
    record, secret = await service.rotate_secret(ctx_of(request), staff, endpoint_id)
    return JsonOut({**m.endpoint_out(record), "secret": secret})


@router.get(
    "/webhooks/{endpoint_id}/deliveries",
    tags=["webhooks"],
    response_model=m.WebhookDeliveryPageOut,
    responses=refusals(401, 403, 404, 422),
)
async def delivery_log(
    endpoint_id: EndpointId,
    staff: StaffDep,
    request: Request,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> JsonOut:
    """API-2: the endpoint's deliveries, latest first, each with its attempts."""
    found = await service.delivery_log(
        ctx_of(request), staff, endpoint_id, page=page, page_size=page_size
    )
    return JsonOut({"items": [m.delivery_out(d) for d in found.items], "total": found.total})
