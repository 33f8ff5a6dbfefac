"""Queries shared by several services. Nothing outside storage/ speaks SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu import errors
from kefu.storage import tables as t

# Moved to storage/shops.py; kept here for the services that still import them from repos.
from kefu.storage.shops import default_group_id as default_group_id
from kefu.storage.shops import shop_settings as shop_settings


async def record_event(
    conn: AsyncConnection,
    *,
    shop_id: int,
    conversation_id: int,
    kind: str,
    at: datetime,
    cause: str | None = None,
    agent_id: int | None = None,
    group_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """CONV-1: every transition is an append-only row with its time and cause."""
    await conn.execute(
        insert(t.conversation_events).values(
            shop_id=shop_id,
            conversation_id=conversation_id,
            kind=kind,
            cause=cause,
            agent_id=agent_id,
            group_id=group_id,
            at=at,
            data=data or {},
        )
    )


async def shop_account(conn: AsyncConnection, shop_id: int, account_id: int) -> Row[Any]:
    row = (
        await conn.execute(
            select(t.accounts).where(t.accounts.c.id == account_id, t.accounts.c.shop_id == shop_id)
        )
    ).first()
    if row is None:
        raise errors.NotFound(kind="account", id=account_id)
    return row


async def shop_group(conn: AsyncConnection, shop_id: int, group_id: int) -> Row[Any]:
    row = (
        await conn.execute(
            select(t.groups).where(t.groups.c.id == group_id, t.groups.c.shop_id == shop_id)
        )
    ).first()
    if row is None:
        raise errors.NotFound(kind="group", id=group_id)
    return row
