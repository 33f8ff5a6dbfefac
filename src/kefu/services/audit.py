"""The audit log (ACCT-6, LIVE-3): every change to staff, groups or settings made by a person is
recorded in the same transaction as the change; only the owner reads it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kefu.services.access import require_owner
from kefu.services.context import Context, Staff
from kefu.storage import audit as store
from kefu.storage.audit import AuditRecord
from kefu.storage.db import Connection

MAX_PAGE = 200


async def record(
    conn: Connection,
    *,
    shop_id: int,
    actor: Staff | None,
    action: str,
    target: tuple[str, int | None],
    at: datetime,
    **details: Any,
) -> None:
    """One row: `actor` None is the command line (`kefu shop create`)."""
    kind, target_id = target
    await store.add(
        conn,
        shop_id=shop_id,
        actor_id=actor.account_id if actor is not None else None,
        action=action,
        target_kind=kind,
        target_id=target_id,
        details=details,
        at=at,
    )


async def audit_page(
    ctx: Context, staff: Staff, *, before: int | None, limit: int
) -> tuple[list[AuditRecord], int | None]:
    """Newest first, older than the row `before`; the second value is the `before` of the
    next page, None at the end."""
    require_owner(staff)
    limit = max(1, min(limit, MAX_PAGE))
    async with ctx.db.read() as tx:
        rows = await store.page(tx.conn, staff.shop_id, before_id=before, limit=limit + 1)
    items = rows[:limit]
    return items, (items[-1].id if len(rows) > limit else None)
