"""Quick phrases (MSG-4): personal ones (account_id set) and the shop's (account_id NULL).
Queries only; who may write which is decided in services/phrases.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu import errors
from kefu.storage import tables as t


@dataclass(frozen=True, slots=True)
class PhraseView:
    id: int
    scope: str
    title: str
    body: str


def _view(r: Any) -> PhraseView:
    return PhraseView(r.id, "shop" if r.account_id is None else "personal", r.title, r.body)


async def visible(
    conn: AsyncConnection, shop_id: int, account_id: int, text: str | None
) -> list[PhraseView]:
    """The account's personal phrases, then the shop's, optionally filtered by `text`."""
    p = t.quick_phrases.c
    query = select(t.quick_phrases).where(
        p.shop_id == shop_id, or_(p.account_id == account_id, p.account_id.is_(None))
    )
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(p.title.like(pattern, escape="\\"), p.body.like(pattern, escape="\\"))
        )
    rows = await conn.execute(query.order_by(p.account_id.is_(None), p.id))
    return [_view(r) for r in rows]


async def shop_phrase(conn: AsyncConnection, shop_id: int, phrase_id: int) -> Any:
    p = t.quick_phrases.c
    row = (
        await conn.execute(select(t.quick_phrases).where(p.id == phrase_id, p.shop_id == shop_id))
    ).first()
    if row is None:
        raise errors.NotFound(kind="quick_phrase", id=phrase_id)
    return row


async def count(conn: AsyncConnection, shop_id: int, account_id: int | None) -> int:
    p = t.quick_phrases.c
    owner = p.account_id.is_(None) if account_id is None else p.account_id == account_id
    found = await conn.scalar(select(func.count()).where(p.shop_id == shop_id, owner))
    return int(found or 0)


async def add(
    conn: AsyncConnection,
    shop_id: int,
    account_id: int | None,
    items: list[tuple[str, str]],
    now: datetime,
) -> list[int]:
    ids = []
    for title, body in items:
        found = await conn.scalar(
            insert(t.quick_phrases)
            .values(shop_id=shop_id, account_id=account_id, title=title, body=body, created_at=now)
            .returning(t.quick_phrases.c.id)
        )
        assert found is not None
        ids.append(int(found))
    return ids


async def change(conn: AsyncConnection, phrase_id: int, title: str, body: str) -> PhraseView:
    p = t.quick_phrases.c
    await conn.execute(
        update(t.quick_phrases).where(p.id == phrase_id).values(title=title, body=body)
    )
    row = (await conn.execute(select(t.quick_phrases).where(p.id == phrase_id))).one()
    return _view(row)


async def remove(conn: AsyncConnection, phrase_id: int) -> None:
    await conn.execute(delete(t.quick_phrases).where(t.quick_phrases.c.id == phrase_id))


def view(row: Any) -> PhraseView:
    return _view(row)
