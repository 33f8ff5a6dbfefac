"""HTTP routes of consultation summaries (API-2): the shop's classification tree (CONV-10,
owner-edited) and each conversation's summary (DESK-7). Thin: validate, call a service, shape
the answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import Field, StringConstraints

from kefu.api.deps import ctx_of, current_staff
from kefu.api.errors import refusals
from kefu.api.models import Out
from kefu.api.responses import JsonOut
from kefu.api.schemas import MAX_ID, DbId, In
from kefu.services.context import Staff
from kefu.summaries import service
from kefu.summaries.domain import MAX_NODES, FlatNode

router = APIRouter(prefix="/api", default_response_class=JsonOut)
StaffDep = Annotated[Staff, Depends(current_staff)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
# Generous caps against huge payloads; the exact limits are the domain's, with named params.
Long = Annotated[str, StringConstraints(max_length=10_000)]


Key = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class NodeIn(In):
    """One node, flat: the tree is told by `parent_key`; siblings keep the list's order."""

    key: Key = Field(description="The client's own name for the node within this request.")
    parent_key: Key | None = Field(default=None, description="Its parent's key; null: top.")
    id: DbId | None = Field(default=None, description="A kept node's id; null for a new one.")
    name: Long

    def flat(self) -> FlatNode:
        return FlatNode(self.key, self.parent_key, self.name, self.id)


class TreeIn(In):
    nodes: Annotated[list[NodeIn], Field(max_length=MAX_NODES)]


class SummaryIn(In):
    category_id: DbId = Field(description="A leaf of the shop's classification tree.")
    note: Long = ""


class NodeOut(Out):
    id: int
    name: str
    children: list[NodeOut]


class TreeOut(Out):
    nodes: list[NodeOut]
    max_depth: int = Field(description="CONV-10: the deepest level allowed (5).")


class SummaryOut(Out):
    conversation_id: int
    category_id: int
    path: list[str] = Field(description="The category's names from the top, as picked.")
    note: str
    agent_id: int
    at: datetime


class SummaryAnswerOut(Out):
    summary: SummaryOut | None


@router.get(
    "/summary-categories",
    tags=["summaries"],
    response_model=TreeOut,
    responses=refusals(401),
)
async def get_tree(staff: StaffDep, request: Request) -> JsonOut:
    """CONV-10: the shop's classification tree (the default until the owner edits it)."""
    nodes = await service.category_tree(ctx_of(request), staff)
    return JsonOut({"nodes": nodes, "max_depth": 5})


@router.put(
    "/summary-categories",
    tags=["summaries"],
    response_model=TreeOut,
    responses=refusals(401, 403, 404, 422),
)
async def put_tree(body: TreeIn, staff: StaffDep, request: Request) -> JsonOut:
    """CONV-10, SET-1: the owner saves the whole tree; a 6th level is `summary.too_deep`."""
    nodes = await service.save_tree(ctx_of(request), staff, [n.flat() for n in body.nodes])
    return JsonOut({"nodes": nodes, "max_depth": 5})


@router.get(
    "/conversations/{conversation_id}/summary",
    tags=["summaries"],
    response_model=SummaryAnswerOut,
    responses=refusals(401, 403, 404, 422),
)
async def get_summary(conversation_id: Id, staff: StaffDep, request: Request) -> JsonOut:
    summary = await service.get_summary(ctx_of(request), staff, conversation_id)
    return JsonOut({"summary": summary})


@router.put(
    "/conversations/{conversation_id}/summary",
    tags=["summaries"],
    response_model=SummaryAnswerOut,
    responses=refusals(401, 403, 404, 422),
)
async def put_summary(
    conversation_id: Id, body: SummaryIn, staff: StaffDep, request: Request
) -> JsonOut:
    """CONV-10, DESK-7: write the conversation's summary, picking a leaf of the tree."""
    summary = await service.write_summary(
        ctx_of(request), staff, conversation_id, category_id=body.category_id, note=body.note
    )
    return JsonOut({"summary": summary})
