"""HTTP routes (API-2): authenticate, validate, call a service, shape the answer. No rules here."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from kefu import errors
from kefu.api import models as m
from kefu.api import schemas as s
from kefu.api.deps import (
    SESSION_COOKIE,
    client_ip,
    ctx_of,
    current_staff,
    runtime,
    same_site_write,
    shop_cookie,
    sign_session,
    signed_session_id,
)
from kefu.api.errors import refusals
from kefu.api.responses import JsonOut
from kefu.catalog import service as catalog
from kefu.catalog.domain import CardKind
from kefu.demo import DEMO_BUYER_NICKNAME, DEMO_BUYER_UID, DEMO_SHOP_ID
from kefu.domain.ids import GroupId
from kefu.domain.messages import MessageKind, SenderKind
from kefu.domain.presence import AgentStatus, Role
from kefu.gateway.protocol import MAX_SEQ
from kefu.services import accounts, audit, conversations, messages, presence, shops, transfers
from kefu.services import staff as staff_service
from kefu.services.accounts import NewAccount
from kefu.services.context import Staff
from kefu.services.messages import SendRequest
from kefu.services.permissions import features_of

router = APIRouter(prefix="/api", default_response_class=JsonOut)
StaffDep = Annotated[Staff, Depends(current_staff)]
Id = Annotated[int, Path(ge=1, le=s.MAX_ID)]


@router.post(
    "/auth/login",
    tags=["auth"],
    response_model=m.AccountResultOut,
    responses=refusals(401, 403, 409, 422, 429),
    dependencies=[Depends(same_site_write)],
)
async def login(body: s.LoginIn, request: Request) -> JsonOut:
    ctx = ctx_of(request)
    result = await accounts.login(
        ctx,
        shop_id=body.shop_id,
        username=body.username,
        password=body.password,
        take_over=body.take_over,
        ip=request.client.host if request.client else None,
        own_session_id=signed_session_id(ctx, request.cookies.get(shop_cookie(body.shop_id))),
    )
    response = JsonOut({"account": result.account})
    signed = sign_session(ctx, result.session_id)
    # ACCT-4: the last login's cookie, and one per shop for pages that name their shop.
    for name in (SESSION_COOKIE, shop_cookie(body.shop_id)):
        response.set_cookie(
            name,
            signed,
            httponly=True,
            samesite="lax",
            secure=ctx.settings.cookie_secure,
            max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
        )
    return response


@router.post(
    "/auth/logout",
    tags=["auth"],
    response_model=m.OkOut,
    responses=refusals(401, 403),
)
async def logout(staff: StaffDep, request: Request) -> JsonOut:
    ctx = ctx_of(request)
    await accounts.logout(ctx, staff)
    response = JsonOut({"ok": True})
    response.delete_cookie(shop_cookie(staff.shop_id))
    if signed_session_id(ctx, request.cookies.get(SESSION_COOKIE)) == staff.session_id:
        response.delete_cookie(SESSION_COOKIE)
    return response


@router.get(
    "/auth/session",
    tags=["auth"],
    response_model=m.SessionOut,
    responses=refusals(422),
)
async def session(request: Request) -> JsonOut:
    """ACCT-4: who this page is signed in as, or nulls; a signed-out page asks here without a
    401 (the rate limit of staff calls applies to a signed-in session as on every route)."""
    try:
        staff = await current_staff(request, request.cookies.get(SESSION_COOKIE))
    except errors.Unauthenticated:
        return JsonOut({"account": None, "shop": None, "features": []})
    return await me(staff, request)


@router.get(
    "/me",
    tags=["presence"],
    response_model=m.MeOut,
    responses=refusals(401),
)
async def me(staff: StaffDep, request: Request) -> JsonOut:
    ctx = ctx_of(request)
    account = await presence.me(ctx, staff)
    shop = await shops.public_shop(ctx, staff.shop_id)
    return JsonOut(
        {
            "account": account,
            "shop": {"id": shop["id"], "name": shop["name"]},
            "features": sorted(features_of(staff)),
        }
    )


@router.put(
    "/me/status",
    tags=["presence"],
    response_model=m.AccountResultOut,
    responses=refusals(401, 403, 422),
)
async def set_status(body: s.StatusIn, staff: StaffDep, request: Request) -> JsonOut:
    account = await presence.set_status(ctx_of(request), staff, AgentStatus(body.status))
    return JsonOut({"account": account})


@router.put(
    "/me/reception-limit",
    tags=["presence"],
    response_model=m.AccountResultOut,
    responses=refusals(401, 403, 422),
)
async def set_limit(body: s.LimitIn, staff: StaffDep, request: Request) -> JsonOut:
    account = await presence.set_reception_limit(ctx_of(request), staff, body.limit)
    return JsonOut({"account": account})


@router.get(
    "/me/stats",
    tags=["presence"],
    response_model=m.WorkStatsOut,
    responses=refusals(401),
)
async def stats(staff: StaffDep, request: Request) -> JsonOut:
    return JsonOut(await presence.work_stats(ctx_of(request), staff))


@router.get(
    "/agents",
    tags=["agents"],
    response_model=m.AccountListOut,
    responses=refusals(401),
)
async def list_agents(staff: StaffDep, request: Request) -> JsonOut:
    return JsonOut({"items": await presence.list_accounts(ctx_of(request), staff)})


@router.post(
    "/agents",
    tags=["agents"],
    status_code=201,
    response_model=m.AccountResultOut,
    responses=refusals(401, 403, 404, 409, 422),
)
async def create_agent(body: s.AgentCreateIn, staff: StaffDep, request: Request) -> JsonOut:
    """ACCT-1, ACCT-2 (owner only): a sub-account; audited."""
    account = await staff_service.create_agent(
        ctx_of(request),
        staff,
        NewAccount(
            username=body.username,
            password=body.password,
            display_name=body.display_name,
            role=Role(body.role),
            group_id=GroupId(body.group_id) if body.group_id is not None else None,
            has_im_permission=body.has_im_permission,
            reception_limit=body.reception_limit,
        ),
    )
    return JsonOut({"account": account}, status_code=201)


@router.put(
    "/agents/{agent_id}",
    tags=["agents"],
    response_model=m.AccountResultOut,
    responses=refusals(401, 403, 404, 422),
)
async def update_agent(
    agent_id: Id, body: s.AgentUpdateIn, staff: StaffDep, request: Request
) -> JsonOut:
    """ACCT-1, ACCT-3 (owner only): name, IM permission, disabled; PRES-4: reception limit."""
    account = await staff_service.update_agent(
        ctx_of(request),
        staff,
        agent_id,
        display_name=body.display_name,
        has_im_permission=body.has_im_permission,
        is_disabled=body.is_disabled,
        reception_limit=body.reception_limit,
    )
    return JsonOut({"account": account})


@router.post(
    "/agents/{agent_id}/password",
    tags=["agents"],
    response_model=m.OkOut,
    responses=refusals(401, 403, 404, 422),
)
async def reset_password(
    agent_id: Id, body: s.PasswordIn, staff: StaffDep, request: Request
) -> JsonOut:
    """ACCT-1 (owner only): a new password; the account's sessions end."""
    await staff_service.reset_password(ctx_of(request), staff, agent_id, body.password)
    return JsonOut({"ok": True})


@router.post(
    "/agents/batch",
    tags=["agents"],
    response_model=m.AccountListOut,
    responses=refusals(401, 403, 404, 422),
)
async def batch_agents(body: s.BatchIn, staff: StaffDep, request: Request) -> JsonOut:
    items = await presence.batch_update(
        ctx_of(request), staff, agent_ids=body.agent_ids, action=body.action, group_id=body.group_id
    )
    return JsonOut({"items": items})


@router.get(
    "/groups",
    tags=["agents"],
    response_model=m.GroupListOut,
    responses=refusals(401),
)
async def list_groups(staff: StaffDep, request: Request) -> JsonOut:
    return JsonOut({"items": await shops.list_groups(ctx_of(request), staff)})


@router.post(
    "/groups",
    tags=["agents"],
    status_code=201,
    response_model=m.GroupOut,
    responses=refusals(401, 403, 409, 422),
)
async def create_group(body: s.GroupIn, staff: StaffDep, request: Request) -> JsonOut:
    """ENTRY-1 (owner only): a reception group; audited."""
    group = await staff_service.add_group(ctx_of(request), staff, body.name)
    return JsonOut(group, status_code=201)


@router.put(
    "/groups/{group_id}",
    tags=["agents"],
    response_model=m.GroupOut,
    responses=refusals(401, 403, 404, 409, 422),
)
async def rename_group(group_id: Id, body: s.GroupIn, staff: StaffDep, request: Request) -> JsonOut:
    return JsonOut(await staff_service.rename_group(ctx_of(request), staff, group_id, body.name))


@router.delete(
    "/groups/{group_id}",
    tags=["agents"],
    response_model=m.OkOut,
    responses=refusals(401, 403, 404, 409, 422),
)
async def delete_group(group_id: Id, staff: StaffDep, request: Request) -> JsonOut:
    """Refused with `group.not_empty` while agents or conversations belong to the group."""
    await staff_service.delete_group(ctx_of(request), staff, group_id)
    return JsonOut({"ok": True})


@router.get(
    "/audit",
    tags=["agents"],
    response_model=m.AuditPageOut,
    responses=refusals(401, 403, 422),
)
async def audit_log(
    staff: StaffDep,
    request: Request,
    before: Annotated[int | None, Query(ge=1, le=s.MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JsonOut:
    """ACCT-6, LIVE-3 (owner only): who changed which staff, group or setting, newest first."""
    items, next_before = await audit.audit_page(ctx_of(request), staff, before=before, limit=limit)
    return JsonOut({"items": items, "next_before": next_before})


@router.get(
    "/shop/settings",
    tags=["settings"],
    response_model=m.ShopSettingsOut,
    responses=refusals(401),
)
async def get_settings(staff: StaffDep, request: Request) -> JsonOut:
    return JsonOut(await shops.get_settings(ctx_of(request), staff))


@router.put(
    "/shop/settings",
    tags=["settings"],
    response_model=m.ShopSettingsOut,
    responses=refusals(401, 403, 404, 422),
)
async def put_settings(body: s.SettingsIn, staff: StaffDep, request: Request) -> JsonOut:
    changes = body.model_dump(exclude_none=True)
    return JsonOut(await shops.update_settings(ctx_of(request), staff, changes))


@router.get(
    "/conversations",
    tags=["conversations"],
    response_model=m.ConversationPageOut,
    responses=refusals(401, 403, 422),
)
async def list_conversations(
    staff: StaffDep,
    request: Request,
    scope: Literal["mine", "colleagues", "history", "recent"] = "mine",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JsonOut:
    items, total = await conversations.list_conversations(
        ctx_of(request), staff, scope=scope, page=page, page_size=page_size
    )
    return JsonOut({"items": items, "total": total})


@router.get(
    "/conversations/{conversation_id}",
    tags=["conversations"],
    response_model=m.ConversationOut,
    responses=refusals(401, 403, 404, 422),
)
async def get_conversation(conversation_id: Id, staff: StaffDep, request: Request) -> JsonOut:
    return JsonOut(await conversations.get_conversation(ctx_of(request), staff, conversation_id))


@router.get(
    "/conversations/{conversation_id}/messages",
    tags=["messages"],
    response_model=m.MessagePageOut,
    responses=refusals(401, 403, 404, 422),
)
async def list_messages(
    conversation_id: Id,
    staff: StaffDep,
    request: Request,
    since_seq: Annotated[int | None, Query(ge=0, le=MAX_SEQ)] = None,
    before_seq: Annotated[int | None, Query(ge=1, le=MAX_SEQ)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 200,
) -> JsonOut:
    items, has_more = await messages.history(
        ctx_of(request),
        staff,
        conversation_id,
        since_seq=since_seq,
        before_seq=before_seq,
        limit=limit,
    )
    return JsonOut({"items": items, "has_more": has_more})


@router.post(
    "/conversations/{conversation_id}/messages",
    tags=["messages"],
    response_model=m.AckOut,
    responses=refusals(401, 403, 404, 409, 422, 503),
)
async def send_message(
    conversation_id: Id, body: s.SendHttpIn, staff: StaffDep, request: Request
) -> JsonOut:
    text = body.body
    if body.kind == "product_link":
        text = await catalog.card_body(ctx_of(request), staff, CardKind.PRODUCT_LINK, body.body)
    ack = await runtime(request).writer.send(
        SendRequest(
            staff.shop_id,
            conversation_id,
            SenderKind.AGENT,
            staff.account_id,
            MessageKind(body.kind),
            text,
            body.client_id,
        )
    )
    return JsonOut(
        {
            "conversation_id": ack.conversation_id,
            "seq": ack.seq,
            "client_id": ack.client_id,
            "created_at": ack.created_at,
        }
    )


@router.post(
    "/conversations/{conversation_id}/end",
    tags=["conversations"],
    response_model=m.ConversationOut,
    responses=refusals(401, 403, 404, 422),
)
async def end(conversation_id: Id, staff: StaffDep, request: Request) -> JsonOut:
    return JsonOut(await conversations.end_conversation(ctx_of(request), staff, conversation_id))


@router.post(
    "/conversations/{conversation_id}/transfer",
    tags=["conversations"],
    response_model=m.TransferOut,
    responses=refusals(401, 403, 404, 409, 422, 503),
)
async def transfer(
    conversation_id: Id, body: s.TransferIn, staff: StaffDep, request: Request
) -> JsonOut:
    ctx = ctx_of(request)
    if (body.to_agent_id is None) == (body.to_group_id is None):
        from kefu import errors

        raise errors.BadInput("Name exactly one of to_agent_id and to_group_id.")
    if body.to_agent_id is not None:
        return JsonOut(
            await transfers.transfer_to_agent(
                ctx, staff, conversation_id, to_agent_id=body.to_agent_id
            )
        )
    assert body.to_group_id is not None
    return JsonOut(
        await transfers.transfer_to_group(ctx, staff, conversation_id, to_group_id=body.to_group_id)
    )


@router.post(
    "/transfers/{transfer_id}/accept",
    tags=["conversations"],
    response_model=m.TransferOut,
    responses=refusals(401, 403, 404, 409, 422),
)
async def accept_transfer(transfer_id: Id, staff: StaffDep, request: Request) -> JsonOut:
    return JsonOut(
        await transfers.decide_transfer(ctx_of(request), staff, transfer_id, accept=True)
    )


@router.post(
    "/transfers/{transfer_id}/decline",
    tags=["conversations"],
    response_model=m.TransferOut,
    responses=refusals(401, 403, 404, 409, 422),
)
async def decline_transfer(transfer_id: Id, staff: StaffDep, request: Request) -> JsonOut:
    return JsonOut(
        await transfers.decide_transfer(ctx_of(request), staff, transfer_id, accept=False)
    )


@router.post(
    "/transfers/{transfer_id}/cancel",
    tags=["conversations"],
    response_model=m.TransferOut,
    responses=refusals(401, 403, 404, 409, 422),
)
async def cancel_transfer(transfer_id: Id, staff: StaffDep, request: Request) -> JsonOut:
    return JsonOut(await transfers.cancel_transfer(ctx_of(request), staff, transfer_id))


@router.post(
    "/conversations/{conversation_id}/invite",
    tags=["conversations"],
    response_model=m.ConversationOut,
    responses=refusals(401, 403, 404, 422),
)
async def invite(
    conversation_id: Id, body: s.InviteIn, staff: StaffDep, request: Request
) -> JsonOut:
    return JsonOut(
        await conversations.invite(ctx_of(request), staff, conversation_id, agent_id=body.agent_id)
    )


@router.post(
    "/conversations/{conversation_id}/leave",
    tags=["conversations"],
    response_model=m.ConversationOut,
    responses=refusals(401, 403, 404, 409, 422),
)
async def leave(conversation_id: Id, staff: StaffDep, request: Request) -> JsonOut:
    """CONV-8: an invited agent leaves the conversation."""
    return JsonOut(await conversations.leave_invitation(ctx_of(request), staff, conversation_id))


@router.post(
    "/conversations/{conversation_id}/join",
    tags=["conversations"],
    response_model=m.ConversationOut,
    responses=refusals(401, 403, 404, 422),
)
async def join(conversation_id: Id, staff: StaffDep, request: Request) -> JsonOut:
    return JsonOut(await conversations.join(ctx_of(request), staff, conversation_id))


@router.post(
    "/consumer/session",
    tags=["consumer"],
    response_model=m.ConsumerSessionOut,
    responses=refusals(401, 404, 422, 429),
)
async def consumer_session(body: s.ConsumerSessionIn, request: Request) -> JsonOut:
    await runtime(request).limits.consumer_session(client_ip(request))
    identity = None
    if body.identity is not None:
        i = body.identity
        identity = (i.uid, i.nickname, i.ts, i.sig)
    session = await accounts.start_consumer_session(
        ctx_of(request), shop_id=body.shop_id, identity=identity, token=body.token
    )
    return JsonOut(
        {"token": session.token, "consumer": {"uid": session.uid, "nickname": session.nickname}}
    )


@router.get(
    "/demo/buyer-identity",
    tags=["consumer"],
    response_model=m.SignedIdentityOut,
    responses=refusals(404),
)
async def demo_buyer_identity(request: Request) -> JsonOut:
    """`kefu demo` only: the demo shop's page signs its demo buyer (VIP, with orders) as a
    shop's own site signs its signed-in buyers; `not_found` on any other server."""
    ctx = ctx_of(request)
    if not ctx.settings.demo_buyer:
        raise errors.NotFound(kind="route")
    return JsonOut(
        await accounts.signed_identity(
            ctx, DEMO_SHOP_ID, uid=DEMO_BUYER_UID, nickname=DEMO_BUYER_NICKNAME
        )
    )


@router.get(
    "/public/shops/{shop_id}",
    tags=["consumer"],
    response_model=m.PublicShopOut,
    responses=refusals(404, 422),
)
async def public_shop(shop_id: Id, request: Request) -> JsonOut:
    return JsonOut(await shops.public_shop(ctx_of(request), shop_id))
