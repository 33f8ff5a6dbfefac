"""HTTP routes of offline messages (OFFL-2, OFFL-3) and the blacklist (ROUTE-5, DESK-7). Thin:
validate, call a service, shape the answer. The offline settings (OFFL-1, OFFL-4, ROUTE-6) are
shop settings (`PUT /api/shop/settings`, owner only)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field, StringConstraints

from kefu.api.deps import ctx_of, current_staff
from kefu.api.errors import refusals
from kefu.api.models import OkOut
from kefu.api.responses import JsonOut
from kefu.api.schemas import MAX_ID, DbId, In
from kefu.offline import blacklist, service
from kefu.offline.domain import MAX_BATCH, MAX_REASON_CHARS
from kefu.offline.models import (
    BlacklistOut,
    BlacklistPageOut,
    OfflineEntryPageOut,
    OfflineHistoryOut,
    ProcessedOut,
    StartedOut,
)
from kefu.services.context import Staff
from kefu.storage.offline import BlacklistRecord, EntryRecord

router = APIRouter(prefix="/api", default_response_class=JsonOut)
StaffDep = Annotated[Staff, Depends(current_staff)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Page = Annotated[int, Query(ge=1, le=100_000)]
PageSize = Annotated[int, Query(ge=1, le=100)]


class OfflineEntryIdsIn(In):
    entry_ids: Annotated[list[DbId], Field(min_length=1, max_length=MAX_BATCH)]


class BlacklistIn(In):
    # The domain trims and checks MAX_REASON_CHARS (`bad_input` naming `reason`).
    reason: Annotated[str, StringConstraints(max_length=MAX_REASON_CHARS * 4)] = ""


@router.get(
    "/offline/entries",
    tags=["offline"],
    response_model=OfflineEntryPageOut,
    responses=refusals(401, 422),
)
async def list_entries(
    staff: StaffDep,
    request: Request,
    status: Literal["unprocessed", "processed", "all"] = "unprocessed",
    page: Page = 1,
    page_size: PageSize = 20,
) -> JsonOut:
    """OFFL-2: the offline tab, latest first, with its 7-day count."""
    found = await service.list_entries(
        ctx_of(request), staff, status=status, page=page, page_size=page_size
    )
    return JsonOut(
        {
            "items": [_entry(e) for e in found.items],
            "total": found.total,
            "unprocessed_7d": found.unprocessed_7d,
        }
    )


@router.get(
    "/offline/entries/{entry_id}/messages",
    tags=["offline"],
    response_model=OfflineHistoryOut,
    responses=refusals(401, 404, 422),
)
async def entry_history(
    entry_id: Id,
    staff: StaffDep,
    request: Request,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JsonOut:
    """OFFL-2: the consumer's whole history with the shop, a page at a time."""
    found = await service.entry_history(
        ctx_of(request), staff, entry_id, before=before, limit=limit
    )
    return JsonOut(
        {"entry": _entry(found.entry), "items": found.items, "next_before": found.next_before}
    )


@router.post(
    "/offline/entries/processed",
    tags=["offline"],
    response_model=ProcessedOut,
    responses=refusals(401, 403, 404, 422),
)
async def mark_processed(body: OfflineEntryIdsIn, staff: StaffDep, request: Request) -> JsonOut:
    """OFFL-3: mark one or many entries processed."""
    changed = await service.mark_processed(ctx_of(request), staff, body.entry_ids)
    return JsonOut({"processed": changed})


@router.post(
    "/offline/entries/start",
    tags=["offline"],
    response_model=StartedOut,
    responses=refusals(401, 403, 404, 422),
)
async def start_conversations(
    body: OfflineEntryIdsIn, staff: StaffDep, request: Request
) -> JsonOut:
    """OFFL-3: start a conversation with each entry's consumer, held by the caller."""
    held = await service.start_conversations(ctx_of(request), staff, body.entry_ids)
    return JsonOut({"conversation_ids": held})


@router.post(
    "/conversations/{conversation_id}/blacklist",
    tags=["offline"],
    response_model=BlacklistOut,
    responses=refusals(401, 403, 404, 422),
)
async def add_to_blacklist(
    conversation_id: Id, body: BlacklistIn, staff: StaffDep, request: Request
) -> JsonOut:
    """ROUTE-5, DESK-7: blacklist the conversation's consumer, with a reason."""
    found = await blacklist.add_from_conversation(
        ctx_of(request), staff, conversation_id, reason=body.reason
    )
    return JsonOut(_listed(found))


@router.get(
    "/blacklist",
    tags=["offline"],
    response_model=BlacklistPageOut,
    responses=refusals(401, 403, 422),
)
async def list_blacklist(
    staff: StaffDep, request: Request, page: Page = 1, page_size: PageSize = 50
) -> JsonOut:
    """ROUTE-5 (owner and supervisors): the shop's blacklist, latest first."""
    found = await blacklist.list_entries(ctx_of(request), staff, page=page, page_size=page_size)
    return JsonOut({"items": [_listed(b) for b in found.items], "total": found.total})


@router.delete(
    "/blacklist/{blacklist_id}",
    tags=["offline"],
    response_model=OkOut,
    responses=refusals(401, 403, 404, 422),
)
async def remove_from_blacklist(blacklist_id: Id, staff: StaffDep, request: Request) -> JsonOut:
    """ROUTE-5 (owner and supervisors): the consumer is routed again."""
    await blacklist.remove(ctx_of(request), staff, blacklist_id)
    return JsonOut({"ok": True})


def _entry(e: EntryRecord) -> dict[str, object]:
    return {
        "id": e.id,
        "consumer_id": e.consumer_id,
        "nickname": e.nickname,
        "cause": e.cause,
        "first_at": e.first_at,
        "last_at": e.last_at,
        "processed_at": e.processed_at,
        "processed_by": e.processed_by,
        "processed_cause": e.processed_cause,
    }


def _listed(b: BlacklistRecord) -> dict[str, object]:
    return {
        "id": b.id,
        "consumer_id": b.consumer_id,
        "nickname": b.nickname,
        "reason": b.reason,
        "added_by": b.added_by,
        "added_at": b.added_at,
    }
