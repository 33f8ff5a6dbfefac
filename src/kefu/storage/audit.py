"""The audit log (ACCT-6, LIVE-3): who changed which staff, group or setting, and when. Rows
are only ever added; the owner reads them newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.storage import tables as t


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    actor_id: int | None
    action: str
    target_kind: str
    target_id: int | None
    details: dict[str, Any]
    at: datetime


async def add(
    conn: AsyncConnection,
    *,
    shop_id: int,
    actor_id: int | None,
    action: str,
    target_kind: str,
    target_id: int | None,
    details: dict[str, Any],
    at: datetime,
) -> None:
    await conn.execute(
        insert(t.audit_log).values(
            shop_id=shop_id,
            actor_id=actor_id,
            action=action,
            target_kind=target_kind,
            target_id=target_id,
            details=details,
            at=at,
        )
    )


async def page(
    conn: AsyncConnection, shop_id: int, *, before_id: int | None, limit: int
) -> list[AuditRecord]:
    """Up to `limit` rows of the shop older than `before_id`, newest first."""
    a = t.audit_log.c
    query = select(t.audit_log).where(a.shop_id == shop_id).order_by(a.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(a.id < before_id)
    return [
        AuditRecord(r.id, r.actor_id, r.action, r.target_kind, r.target_id, r.details, r.at)
        for r in await conn.execute(query)
    ]
