"""Transfer offers and their outcomes (CONV-7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.storage import tables as t


@dataclass(frozen=True, slots=True)
class TransferRecord:
    id: int
    shop_id: int
    conversation_id: int
    from_agent_id: int | None
    to_agent_id: int | None
    to_group_id: int | None
    state: str
    created_at: datetime
    decided_at: datetime | None
    expires_at: datetime | None = None


_tr = t.transfers.c


async def get(conn: AsyncConnection, transfer_id: int) -> TransferRecord:
    row = (await conn.execute(select(t.transfers).where(_tr.id == transfer_id))).one()
    return TransferRecord(**row._asdict())


async def find(conn: AsyncConnection, shop_id: int, transfer_id: int) -> TransferRecord | None:
    """The transfer if it is this shop's (ACCT-5)."""
    row = (
        await conn.execute(select(t.transfers).where(_tr.id == transfer_id, _tr.shop_id == shop_id))
    ).first()
    return TransferRecord(**row._asdict()) if row is not None else None


async def offered_to(
    conn: AsyncConnection, shop_id: int, transfer_id: int, agent_id: int
) -> TransferRecord | None:
    """The transfer if it was offered to this agent of this shop; None otherwise (ACCT-5)."""
    row = (
        await conn.execute(
            select(t.transfers).where(
                _tr.id == transfer_id, _tr.shop_id == shop_id, _tr.to_agent_id == agent_id
            )
        )
    ).first()
    return TransferRecord(**row._asdict()) if row is not None else None


async def pending_of(conn: AsyncConnection, conversation_id: int) -> TransferRecord | None:
    """The conversation's pending transfer offer, if any (there is at most one)."""
    row = (
        await conn.execute(
            select(t.transfers).where(
                _tr.conversation_id == conversation_id, _tr.state == "pending"
            )
        )
    ).first()
    return TransferRecord(**row._asdict()) if row is not None else None


async def sent_by(
    conn: AsyncConnection, shop_id: int, transfer_id: int, agent_id: int
) -> TransferRecord | None:
    """The transfer if this agent of this shop sent it; None otherwise (ACCT-5)."""
    row = (
        await conn.execute(
            select(t.transfers).where(
                _tr.id == transfer_id, _tr.shop_id == shop_id, _tr.from_agent_id == agent_id
            )
        )
    ).first()
    return TransferRecord(**row._asdict()) if row is not None else None


async def create(
    conn: AsyncConnection,
    *,
    shop_id: int,
    conversation_id: int,
    from_agent_id: int,
    to_agent_id: int,
    to_group_id: int | None = None,
    state: str,
    now: datetime,
    expires_at: datetime | None = None,
) -> TransferRecord:
    decided_at = None if state == "pending" else now
    transfer_id = await conn.scalar(
        insert(t.transfers)
        .values(
            shop_id=shop_id,
            conversation_id=conversation_id,
            from_agent_id=from_agent_id,
            to_agent_id=to_agent_id,
            to_group_id=to_group_id,
            state=state,
            created_at=now,
            decided_at=decided_at,
            expires_at=expires_at,
        )
        .returning(_tr.id)
    )
    assert transfer_id is not None
    return await get(conn, transfer_id)


async def decide(
    conn: AsyncConnection, transfer_id: int, *, state: str, now: datetime
) -> TransferRecord:
    await conn.execute(
        update(t.transfers).where(_tr.id == transfer_id).values(state=state, decided_at=now)
    )
    return await get(conn, transfer_id)
