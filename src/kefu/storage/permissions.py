"""Permissions per feature area (ACCT-6): the owner's grants and revocations per account, and
sub-accounts' requests. Queries only; the rules are in domain/permissions.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain.permissions import Feature, RequestStatus
from kefu.storage import tables as t

RECENT_DECIDED = 50


@dataclass(frozen=True, slots=True)
class PermissionRequestRecord:
    id: int
    account_id: int
    feature: Feature
    note: str
    status: RequestStatus
    created_at: datetime
    decided_at: datetime | None
    decided_by: int | None


def _request(r: Any) -> PermissionRequestRecord:
    return PermissionRequestRecord(
        r.id,
        r.account_id,
        Feature(r.feature),
        r.note,
        RequestStatus(r.status),
        r.created_at,
        r.decided_at,
        r.decided_by,
    )


def _known(feature: str) -> bool:
    return feature in Feature.__members__.values()


async def grants_of(conn: AsyncConnection, account_id: int) -> dict[Feature, bool]:
    g = t.permission_grants.c
    rows = await conn.execute(select(g.feature, g.is_granted).where(g.account_id == account_id))
    return {Feature(r.feature): r.is_granted for r in rows if _known(r.feature)}


async def shop_grants(conn: AsyncConnection, shop_id: int) -> dict[int, dict[Feature, bool]]:
    g = t.permission_grants.c
    found: dict[int, dict[Feature, bool]] = {}
    rows = await conn.execute(
        select(g.account_id, g.feature, g.is_granted).where(g.shop_id == shop_id)
    )
    for r in rows:
        if _known(r.feature):
            found.setdefault(r.account_id, {})[Feature(r.feature)] = r.is_granted
    return found


async def replace_grants(
    conn: AsyncConnection, *, shop_id: int, account_id: int, grants: Mapping[Feature, bool]
) -> None:
    await conn.execute(
        delete(t.permission_grants).where(t.permission_grants.c.account_id == account_id)
    )
    if grants:
        await conn.execute(
            insert(t.permission_grants),
            [
                {"shop_id": shop_id, "account_id": account_id, "feature": f, "is_granted": on}
                for f, on in grants.items()
            ],
        )


async def add_request(
    conn: AsyncConnection,
    *,
    shop_id: int,
    account_id: int,
    feature: Feature,
    note: str,
    at: datetime,
) -> int:
    new_id = await conn.scalar(
        insert(t.permission_requests)
        .values(
            shop_id=shop_id,
            account_id=account_id,
            feature=feature,
            note=note,
            status=RequestStatus.PENDING,
            created_at=at,
        )
        .returning(t.permission_requests.c.id)
    )
    return int(new_id)


async def pending_of(conn: AsyncConnection, account_id: int, feature: Feature) -> bool:
    r = t.permission_requests.c
    found = await conn.scalar(
        select(r.id).where(
            r.account_id == account_id,
            r.feature == feature,
            r.status == RequestStatus.PENDING,
        )
    )
    return found is not None


async def shop_request(
    conn: AsyncConnection, shop_id: int, request_id: int, *, for_update: bool = False
) -> PermissionRequestRecord | None:
    r = t.permission_requests.c
    query = select(t.permission_requests).where(r.shop_id == shop_id, r.id == request_id)
    if for_update:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return _request(row) if row is not None else None


async def requests(
    conn: AsyncConnection, shop_id: int, *, account_id: int | None
) -> list[PermissionRequestRecord]:
    """Every pending request, then the most recently decided ones; of one account if given."""
    r = t.permission_requests.c
    base = select(t.permission_requests).where(r.shop_id == shop_id)
    if account_id is not None:
        base = base.where(r.account_id == account_id)
    pending = await conn.execute(base.where(r.status == RequestStatus.PENDING).order_by(r.id.asc()))
    decided = await conn.execute(
        base.where(r.status != RequestStatus.PENDING).order_by(r.id.desc()).limit(RECENT_DECIDED)
    )
    return [_request(row) for row in pending] + [_request(row) for row in decided]


async def decide(
    conn: AsyncConnection,
    request_id: int,
    *,
    status: RequestStatus,
    by: int,
    at: datetime,
) -> None:
    await conn.execute(
        update(t.permission_requests)
        .where(t.permission_requests.c.id == request_id)
        .values(status=status, decided_by=by, decided_at=at)
    )


async def close_pending(
    conn: AsyncConnection, account_id: int, features: frozenset[Feature], *, by: int, at: datetime
) -> None:
    """Requests for features the account now has are approved by the grant itself."""
    if not features:
        return
    r = t.permission_requests.c
    await conn.execute(
        update(t.permission_requests)
        .where(
            r.account_id == account_id,
            r.status == RequestStatus.PENDING,
            r.feature.in_([str(f) for f in features]),
        )
        .values(status=RequestStatus.APPROVED, decided_by=by, decided_at=at)
    )
