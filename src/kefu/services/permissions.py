"""Permissions per feature area (ACCT-6): the owner grants and revokes workbench, live
monitoring, analytics, quality inspection and settings per sub-account; a sub-account that
lacks one asks for it and the owner approves or declines. Every change is audited.

Other features guard their use cases with `require_permission(staff, Feature.X)`; the owner
always passes, a sub-account passes with its role's defaults plus the owner's grants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kefu import errors
from kefu.domain.permissions import (
    ALL_FEATURES,
    ROLE_DEFAULTS,
    Feature,
    RequestStatus,
    check_may_change,
    check_note,
    check_request,
    effective,
    grants_for,
)
from kefu.domain.presence import Role
from kefu.services import audit
from kefu.services.access import access_account, require_owner
from kefu.services.context import Context, Staff
from kefu.storage import accounts as account_store
from kefu.storage import permissions as store
from kefu.storage.permissions import PermissionRequestRecord


def features_of(staff: Staff) -> frozenset[Feature]:
    if staff.role is Role.OWNER:
        return ALL_FEATURES
    return staff.features if staff.features is not None else ROLE_DEFAULTS[staff.role]


def require_permission(staff: Staff, feature: Feature, **params: Any) -> None:
    """ACCT-6: `forbidden` with the missing `feature` in its params (so a page can offer to
    ask the owner for it) unless the caller has `feature`."""
    if feature not in features_of(staff):
        raise errors.Forbidden(
            "You lack this feature; ask the shop's owner for it.",
            feature=str(feature),
            **params,
        )


@dataclass(frozen=True, slots=True)
class AccountPermissions:
    account_id: int
    role: str
    features: list[str]
    defaults: list[str]


@dataclass(frozen=True, slots=True)
class PermissionRequestView:
    id: int
    account_id: int
    feature: str
    note: str
    status: str
    created_at: datetime
    decided_at: datetime | None
    decided_by: int | None


def _request_view(r: PermissionRequestRecord) -> PermissionRequestView:
    return PermissionRequestView(
        r.id, r.account_id, r.feature, r.note, r.status, r.created_at, r.decided_at, r.decided_by
    )


def _sorted(features: frozenset[Feature]) -> list[str]:
    return [str(f) for f in Feature if f in features]


async def list_permissions(ctx: Context, staff: Staff) -> list[AccountPermissions]:
    """The owner sees every account of the shop; a sub-account sees its own."""
    async with ctx.db.read() as tx:
        loaded = await account_store.loaded_accounts(tx.conn, shop_id=staff.shop_id)
        grants = await store.shop_grants(tx.conn, staff.shop_id)
    accounts = [la.account for la in loaded]
    if staff.role is not Role.OWNER:
        accounts = [a for a in accounts if a.id == staff.account_id]
    return [
        AccountPermissions(
            account_id=a.id,
            role=str(a.role),
            features=_sorted(effective(a.role, grants.get(a.id, {}))),
            defaults=_sorted(ROLE_DEFAULTS[a.role]),
        )
        for a in accounts
    ]


async def set_permissions(
    ctx: Context, staff: Staff, account_id: int, features: frozenset[Feature]
) -> AccountPermissions:
    """The owner sets exactly which features a sub-account has; pending requests for the
    features now granted are approved by it."""
    require_owner(staff, action="set_permissions")
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        target = await access_account(tx.conn, staff, account_id)
        check_may_change(target.role)
        before = effective(target.role, await store.grants_of(tx.conn, account_id))
        await store.replace_grants(
            tx.conn,
            shop_id=staff.shop_id,
            account_id=account_id,
            grants=grants_for(target.role, features),
        )
        await store.close_pending(tx.conn, account_id, features, by=staff.account_id, at=now)
        if before != features:
            await audit.record(
                tx.conn,
                shop_id=staff.shop_id,
                actor=staff,
                action="permission.set",
                target=("account", account_id),
                at=now,
                granted=_sorted(features - before),
                revoked=_sorted(before - features),
            )
        await tx.commit()
    return AccountPermissions(
        account_id, str(target.role), _sorted(features), _sorted(ROLE_DEFAULTS[target.role])
    )


async def request_permission(
    ctx: Context, staff: Staff, feature: Feature, note: str = ""
) -> PermissionRequestView:
    """A sub-account asks the owner for a feature it lacks."""
    note = check_note(note)
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        await tx.lock_shop(staff.shop_id)  # one pending request per account and feature
        me = await access_account(tx.conn, staff, staff.account_id)
        has = effective(me.role, await store.grants_of(tx.conn, me.id))
        pending = await store.pending_of(tx.conn, me.id, feature)
        check_request(has, feature, pending=pending)
        request_id = await store.add_request(
            tx.conn,
            shop_id=staff.shop_id,
            account_id=me.id,
            feature=feature,
            note=note,
            at=now,
        )
        await audit.record(
            tx.conn,
            shop_id=staff.shop_id,
            actor=staff,
            action="permission.request",
            target=("account", me.id),
            at=now,
            feature=str(feature),
            request_id=request_id,
        )
        found = await store.shop_request(tx.conn, staff.shop_id, request_id)
        await tx.commit()
    assert found is not None
    return _request_view(found)


async def list_requests(ctx: Context, staff: Staff) -> list[PermissionRequestView]:
    """The owner sees the shop's requests (pending first); a sub-account its own."""
    mine = None if staff.role is Role.OWNER else staff.account_id
    async with ctx.db.read() as tx:
        rows = await store.requests(tx.conn, staff.shop_id, account_id=mine)
    return [_request_view(r) for r in rows]


async def decide_request(
    ctx: Context, staff: Staff, request_id: int, *, approve: bool
) -> PermissionRequestView:
    """The owner approves (the feature is granted) or declines a pending request."""
    require_owner(staff, action="decide_permission_request")
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        found = await store.shop_request(tx.conn, staff.shop_id, request_id, for_update=True)
        if found is None:
            raise errors.NotFound(kind="permission_request", id=request_id)
        if found.status is not RequestStatus.PENDING:
            raise errors.Conflict(
                "This request was already answered.",
                code="permission.request_decided",
                status=str(found.status),
            )
        status = RequestStatus.APPROVED if approve else RequestStatus.DECLINED
        await store.decide(tx.conn, request_id, status=status, by=staff.account_id, at=now)
        if approve:
            target = await access_account(tx.conn, staff, found.account_id)
            has = effective(target.role, await store.grants_of(tx.conn, target.id))
            await store.replace_grants(
                tx.conn,
                shop_id=staff.shop_id,
                account_id=target.id,
                grants=grants_for(target.role, has | {found.feature}),
            )
        await audit.record(
            tx.conn,
            shop_id=staff.shop_id,
            actor=staff,
            action="permission.approve" if approve else "permission.decline",
            target=("account", found.account_id),
            at=now,
            feature=str(found.feature),
            request_id=request_id,
        )
        decided = await store.shop_request(tx.conn, staff.shop_id, request_id)
        await tx.commit()
    assert decided is not None
    return _request_view(decided)
