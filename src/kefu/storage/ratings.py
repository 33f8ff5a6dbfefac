"""Ratings' rows (RATE-1, RATE-2): one per rating, read back per conversation. Decisions about
who may rate are the ratings service's; this module only stores."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.ratings.domain import RatingRecord, RatingSource
from kefu.storage import rollups as rollup_store
from kefu.storage import tables as t

_r = t.ratings.c


async def add(
    conn: AsyncConnection,
    *,
    shop_id: int,
    conversation_id: int,
    agent_id: int,
    stars: int,
    source: RatingSource,
    card_seq: int | None,
    at: datetime,
) -> None:
    await conn.execute(
        insert(t.ratings).values(
            shop_id=shop_id,
            conversation_id=conversation_id,
            agent_id=agent_id,
            stars=stars,
            source=source.value,
            card_seq=card_seq,
            at=at,
        )
    )
    await rollup_store.mark_dirty(conn, shop_id, [conversation_id])  # DATA-1, RATE-3


async def of_conversation(conn: AsyncConnection, conversation_id: int) -> list[RatingRecord]:
    """The conversation's ratings, oldest first."""
    rows = await conn.execute(
        select(_r.conversation_id, _r.agent_id, _r.stars, _r.source, _r.at, _r.card_seq)
        .where(_r.conversation_id == conversation_id)
        .order_by(_r.id)
    )
    return [
        RatingRecord(
            r.conversation_id, r.agent_id, r.stars, RatingSource(r.source), r.at, r.card_seq
        )
        for r in rows
    ]


async def best_of(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, int]:
    """RATE-2: each rated conversation's best rating."""
    if not ids:
        return {}
    rows = await conn.execute(
        select(_r.conversation_id, func.max(_r.stars))
        .where(_r.conversation_id.in_(list(ids)))
        .group_by(_r.conversation_id)
    )
    return {cid: int(stars) for cid, stars in rows}


async def message_times(conn: AsyncConnection, conversation_id: int) -> list[tuple[str, datetime]]:
    """DESK-4: each message's sender kind and time, in seq order."""
    m = t.messages.c
    rows = await conn.execute(
        select(m.sender, m.created_at).where(m.conversation_id == conversation_id).order_by(m.seq)
    )
    return [(r.sender, r.created_at) for r in rows]
