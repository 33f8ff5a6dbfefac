"""Consultation summaries' rows (CONV-10): each shop's classification tree and each
conversation's summary. The tree's rules are summaries/domain.py's; this module only stores."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.storage import tables as t
from kefu.summaries.domain import Category

_k = t.summary_categories.c
_s = t.conversation_summaries.c


@dataclass(frozen=True, slots=True)
class SummaryRecord:
    conversation_id: int
    category_id: int
    path: list[str]
    note: str
    agent_id: int
    at: datetime


async def has_any_category(conn: AsyncConnection, shop_id: int) -> bool:
    """Whether the shop's tree was ever written (removed nodes count)."""
    found = await conn.scalar(select(func.count()).where(_k.shop_id == shop_id))
    return bool(found)


async def categories(conn: AsyncConnection, shop_id: int) -> list[Category]:
    """The shop's current (not removed) nodes."""
    rows = await conn.execute(
        select(_k.id, _k.parent_id, _k.name, _k.position).where(
            _k.shop_id == shop_id, _k.is_removed.is_(False)
        )
    )
    return [Category(r.id, r.parent_id, r.name, r.position) for r in rows]


async def add_category(
    conn: AsyncConnection, shop_id: int, *, parent_id: int | None, name: str, position: int
) -> int:
    new_id = await conn.scalar(
        insert(t.summary_categories)
        .values(shop_id=shop_id, parent_id=parent_id, name=name, position=position)
        .returning(_k.id)
    )
    assert new_id is not None
    return int(new_id)


async def update_category(
    conn: AsyncConnection, category_id: int, *, parent_id: int | None, name: str, position: int
) -> None:
    await conn.execute(
        update(t.summary_categories)
        .where(_k.id == category_id)
        .values(parent_id=parent_id, name=name, position=position)
    )


async def remove_categories(conn: AsyncConnection, shop_id: int, ids: Sequence[int]) -> None:
    if ids:
        await conn.execute(
            update(t.summary_categories)
            .where(_k.shop_id == shop_id, _k.id.in_(list(ids)))
            .values(is_removed=True)
        )


async def summary(conn: AsyncConnection, conversation_id: int) -> SummaryRecord | None:
    row = (
        await conn.execute(
            select(_s.conversation_id, _s.category_id, _s.path, _s.note, _s.agent_id, _s.at).where(
                _s.conversation_id == conversation_id
            )
        )
    ).first()
    if row is None:
        return None
    return SummaryRecord(
        row.conversation_id, row.category_id, list(row.path), row.note, row.agent_id, row.at
    )


async def save_summary(
    conn: AsyncConnection,
    *,
    shop_id: int,
    conversation_id: int,
    category_id: int,
    path: list[str],
    note: str,
    agent_id: int,
    at: datetime,
) -> None:
    """One summary per conversation: a later one replaces it."""
    values = {
        "category_id": category_id,
        "path": path,
        "note": note,
        "agent_id": agent_id,
        "at": at,
    }
    changed = await conn.execute(
        update(t.conversation_summaries).where(_s.conversation_id == conversation_id).values(values)
    )
    if changed.rowcount == 0:
        await conn.execute(
            insert(t.conversation_summaries).values(
                conversation_id=conversation_id, shop_id=shop_id, **values
            )
        )


async def summarised(conn: AsyncConnection, ids: Sequence[int]) -> set[int]:
    """Which of these conversations have their summary."""
    if not ids:
        return set()
    rows = await conn.scalars(select(_s.conversation_id).where(_s.conversation_id.in_(list(ids))))
    return set(rows)
