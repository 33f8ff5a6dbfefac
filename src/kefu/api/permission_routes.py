"""HTTP routes for permissions per feature area (ACCT-6). Thin: validate, call a service,
shape the answer."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import Field, StringConstraints

from kefu.api.deps import ctx_of, current_staff
from kefu.api.errors import refusals
from kefu.api.models import (
    AccountPermissionsOut,
    PermissionListOut,
    PermissionRequestListOut,
    PermissionRequestOut,
)
from kefu.api.responses import JsonOut
from kefu.api.schemas import MAX_ID, In
from kefu.domain.permissions import MAX_NOTE, Feature
from kefu.services import permissions
from kefu.services.context import Staff

router = APIRouter(prefix="/api", default_response_class=JsonOut)
StaffDep = Annotated[Staff, Depends(current_staff)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
FeatureCode = Literal["workbench", "monitoring", "analytics", "quality", "settings"]


class PermissionsIn(In):
    features: Annotated[list[FeatureCode], Field(max_length=len(Feature))]


class PermissionRequestIn(In):
    feature: FeatureCode
    note: Annotated[str, StringConstraints(max_length=MAX_NOTE)] = ""


@router.get(
    "/permissions",
    tags=["agents"],
    response_model=PermissionListOut,
    responses=refusals(401),
)
async def list_permissions(staff: StaffDep, request: Request) -> JsonOut:
    """ACCT-6: the owner sees every account's features; a sub-account its own."""
    items = await permissions.list_permissions(ctx_of(request), staff)
    return JsonOut({"features": list(Feature), "items": items})


@router.put(
    "/agents/{agent_id}/permissions",
    tags=["agents"],
    response_model=AccountPermissionsOut,
    responses=refusals(401, 403, 404, 422),
)
async def set_permissions(
    agent_id: Id, body: PermissionsIn, staff: StaffDep, request: Request
) -> JsonOut:
    """ACCT-6 (owner only): exactly these features for the sub-account; audited."""
    features = frozenset(Feature(f) for f in body.features)
    return JsonOut(await permissions.set_permissions(ctx_of(request), staff, agent_id, features))


@router.get(
    "/permission-requests",
    tags=["agents"],
    response_model=PermissionRequestListOut,
    responses=refusals(401),
)
async def list_requests(staff: StaffDep, request: Request) -> JsonOut:
    """ACCT-6: pending requests first, then the latest answered (own ones for sub-accounts)."""
    return JsonOut({"items": await permissions.list_requests(ctx_of(request), staff)})


@router.post(
    "/permission-requests",
    tags=["agents"],
    status_code=201,
    response_model=PermissionRequestOut,
    responses=refusals(401, 403, 409, 422),
)
async def request_permission(
    body: PermissionRequestIn, staff: StaffDep, request: Request
) -> JsonOut:
    """ACCT-6: a sub-account asks the owner for a feature it lacks; audited."""
    found = await permissions.request_permission(
        ctx_of(request), staff, Feature(body.feature), body.note
    )
    return JsonOut(found, status_code=201)


@router.post(
    "/permission-requests/{request_id}/approve",
    tags=["agents"],
    response_model=PermissionRequestOut,
    responses=refusals(401, 403, 404, 409, 422),
)
async def approve_request(request_id: Id, staff: StaffDep, request: Request) -> JsonOut:
    """ACCT-6 (owner only): the feature is granted; audited."""
    decided = await permissions.decide_request(ctx_of(request), staff, request_id, approve=True)
    return JsonOut(decided)


@router.post(
    "/permission-requests/{request_id}/decline",
    tags=["agents"],
    response_model=PermissionRequestOut,
    responses=refusals(401, 403, 404, 409, 422),
)
async def decline_request(request_id: Id, staff: StaffDep, request: Request) -> JsonOut:
    """ACCT-6 (owner only): the request is declined; audited."""
    decided = await permissions.decide_request(ctx_of(request), staff, request_id, approve=False)
    return JsonOut(decided)
