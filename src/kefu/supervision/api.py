"""HTTP routes of live monitoring and dispatch (LIVE-1, LIVE-3). Thin: validate, call the
service, shape the answer."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import Field, StringConstraints

from kefu.api import models as m
from kefu.api.deps import ctx_of, current_staff
from kefu.api.errors import refusals
from kefu.api.responses import JsonOut
from kefu.api.schemas import DbId, In
from kefu.bot.domain import MAX_FAQ_CHILDREN, MAX_FAQ_TOP, MenuItem
from kefu.services.context import Staff
from kefu.supervision import dispatch, live
from kefu.supervision.models import BotModeOut, FaqMenuOut, LiveViewOut

router = APIRouter(prefix="/api/supervision", default_response_class=JsonOut)
StaffDep = Annotated[Staff, Depends(current_staff)]
Title = Annotated[str, StringConstraints(max_length=100)]
ItemId = Annotated[str, StringConstraints(max_length=30)]
# LIVE-3: a batch names at most this many agents.
MAX_BATCH = 500


class DispatchAgentsIn(In):
    agent_ids: Annotated[list[DbId], Field(min_length=1, max_length=MAX_BATCH)]
    action: Literal["suspend", "unsuspend", "move"]
    group_id: DbId | None = None


class BotModeIn(In):
    mode: Literal["bot_first", "human_first"]


class FaqChildIn(In):
    id: ItemId | None = None
    title: Title
    question_id: DbId


class FaqTopIn(In):
    id: ItemId | None = None
    title: Title
    children: Annotated[list[FaqChildIn], Field(max_length=MAX_FAQ_CHILDREN)]


class FaqMenuIn(In):
    faq_menu: Annotated[list[FaqTopIn], Field(max_length=MAX_FAQ_TOP)]

    def items(self) -> tuple[MenuItem, ...]:
        return tuple(
            MenuItem(
                t.id or "",
                t.title,
                None,
                tuple(MenuItem(c.id or "", c.title, c.question_id) for c in t.children),
            )
            for t in self.faq_menu
        )


@router.get(
    "/live",
    tags=["supervision"],
    response_model=LiveViewOut,
    responses=refusals(401, 403),
)
async def live_view(staff: StaffDep, request: Request) -> JsonOut:
    """LIVE-1: the live view the caller may see (owners and supervisors: the shop; a group
    leader: their group). Pages follow it with `live_watch` on the staff socket."""
    return JsonOut(live.view_json(await live.scoped_view(ctx_of(request), staff)))


@router.post(
    "/dispatch/agents",
    tags=["supervision"],
    response_model=m.AccountListOut,
    responses=refusals(401, 403, 404, 422),
)
async def dispatch_agents(body: DispatchAgentsIn, staff: StaffDep, request: Request) -> JsonOut:
    """LIVE-3: suspend, un-suspend or move agents in batch; audited."""
    items = await dispatch.dispatch_agents(
        ctx_of(request), staff, agent_ids=body.agent_ids, action=body.action, group_id=body.group_id
    )
    return JsonOut({"items": items})


@router.put(
    "/dispatch/bot-mode",
    tags=["supervision"],
    response_model=BotModeOut,
    responses=refusals(401, 403, 422),
)
async def set_bot_mode(body: BotModeIn, staff: StaffDep, request: Request) -> JsonOut:
    """LIVE-3 (owners and supervisors): bot-first or human-first; audited."""
    return JsonOut(await dispatch.set_bot_mode(ctx_of(request), staff, body.mode))


@router.put(
    "/dispatch/faq-menu",
    tags=["supervision"],
    response_model=FaqMenuOut,
    responses=refusals(401, 403, 404, 422),
)
async def set_faq_menu(body: FaqMenuIn, staff: StaffDep, request: Request) -> JsonOut:
    """LIVE-3, ENTRY-2 (owners and supervisors): the FAQ menu; audited."""
    return JsonOut(await dispatch.set_faq_menu(ctx_of(request), staff, body.items()))
