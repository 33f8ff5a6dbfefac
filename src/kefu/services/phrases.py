"""Quick phrases (MSG-4, SET-3): every account's own and the shop's (owner-managed), search for
smart input, and bulk import from CSV. Limits: title ≤ 30 characters, body 1–500, at most 500
phrases per account and 2,000 shop-wide."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from kefu import errors
from kefu.services.access import require_owner
from kefu.services.context import Context, Staff
from kefu.storage import phrases as store
from kefu.storage.phrases import PhraseView

MAX_TITLE_CHARS = 30
MAX_BODY_CHARS = 500
MAX_PER_ACCOUNT = 500
MAX_PER_SHOP = 2000
MAX_SEARCH_CHARS = 100


def check_phrase(title: str, body: str) -> tuple[str, str]:
    """MSG-4: title ≤ 30 characters (may be empty), body 1–500, no NUL."""
    if "\x00" in title or "\x00" in body:
        raise errors.BadInput("Text may not contain NUL characters.", field="body", problem="nul")
    title, body = title.strip(), body.strip()
    if len(title) > MAX_TITLE_CHARS:
        raise errors.BadInput(
            "The title is too long.", field="title", problem="too_long", max_chars=MAX_TITLE_CHARS
        )
    if not body:
        raise errors.BadInput("The phrase cannot be empty.", field="body", problem="empty")
    if len(body) > MAX_BODY_CHARS:
        raise errors.BadInput(
            "The phrase is too long.", field="body", problem="too_long", max_chars=MAX_BODY_CHARS
        )
    return title, body


def _owner_of(staff: Staff, scope: str) -> int | None:
    """The account a new phrase belongs to: the caller's own, or the shop's (owner only)."""
    if scope == "personal":
        return staff.account_id
    if scope != "shop":
        raise errors.BadInput("scope is personal or shop.", field="scope")
    require_owner(staff)
    return None


def _limit(account_id: int | None) -> int:
    return MAX_PER_SHOP if account_id is None else MAX_PER_ACCOUNT


async def list_phrases(ctx: Context, staff: Staff, *, text: str | None) -> list[PhraseView]:
    """MSG-4: the caller's phrases and the shop's; `text` filters them for smart input."""
    if text is not None and ("\x00" in text or len(text) > MAX_SEARCH_CHARS):
        raise errors.BadInput("Search text too long or invalid.", max_chars=MAX_SEARCH_CHARS)
    async with ctx.db.read() as tx:
        return await store.visible(tx.conn, staff.shop_id, staff.account_id, text)


async def add_phrase(
    ctx: Context, staff: Staff, *, scope: str, title: str, body: str
) -> PhraseView:
    """MSG-4: a personal phrase, or a shop one (owner only)."""
    owner = _owner_of(staff, scope)
    title, body = check_phrase(title, body)
    async with ctx.db.uow() as tx:
        if await store.count(tx.conn, staff.shop_id, owner) >= _limit(owner):
            raise errors.BadInput(
                "Too many phrases.", field="scope", problem="too_many", max_items=_limit(owner)
            )
        (phrase_id,) = await store.add(
            tx.conn, staff.shop_id, owner, [(title, body)], ctx.clock.now()
        )
        await tx.commit()
    return PhraseView(phrase_id, scope, title, body)


async def update_phrase(
    ctx: Context, staff: Staff, phrase_id: int, *, title: str, body: str
) -> PhraseView:
    """MSG-4: change one's own phrase, or a shop one as owner."""
    title, body = check_phrase(title, body)
    async with ctx.db.uow() as tx:
        row = await store.shop_phrase(tx.conn, staff.shop_id, phrase_id)
        _check_may_write(staff, row.account_id, phrase_id)
        view = await store.change(tx.conn, phrase_id, title, body)
        await tx.commit()
    return view


async def delete_phrase(ctx: Context, staff: Staff, phrase_id: int) -> None:
    """MSG-4: delete one's own phrase, or a shop one as owner."""
    async with ctx.db.uow() as tx:
        row = await store.shop_phrase(tx.conn, staff.shop_id, phrase_id)
        _check_may_write(staff, row.account_id, phrase_id)
        await store.remove(tx.conn, phrase_id)
        await tx.commit()


def _check_may_write(staff: Staff, account_id: int | None, phrase_id: int) -> None:
    if account_id is None:
        require_owner(staff)
    elif account_id != staff.account_id:
        # Someone else's personal phrase is as invisible as another shop's (ACCT-5).
        raise errors.NotFound(kind="quick_phrase", id=phrase_id)


@dataclass(frozen=True, slots=True)
class PhraseImport:
    imported: int
    rejected: list[dict[str, object]]


async def import_phrases(ctx: Context, staff: Staff, *, scope: str, data: bytes) -> PhraseImport:
    """MSG-4: bulk import from CSV `title,body` (a header row is optional)."""
    owner = _owner_of(staff, scope)
    rows, rejected = _parse_csv(data)
    async with ctx.db.uow() as tx:
        room = _limit(owner) - await store.count(tx.conn, staff.shop_id, owner)
        accepted = rows[: max(room, 0)]
        rejected += [{"line": line, "reason": "limit"} for line, _ in rows[max(room, 0) :]]
        await store.add(tx.conn, staff.shop_id, owner, [p for _, p in accepted], ctx.clock.now())
        await tx.commit()
    return PhraseImport(len(accepted), sorted(rejected, key=lambda r: int(str(r["line"]))))


def _parse_csv(data: bytes) -> tuple[list[tuple[int, tuple[str, str]]], list[dict[str, object]]]:
    text = _decode(data)
    rows: list[tuple[int, tuple[str, str]]] = []
    rejected: list[dict[str, object]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error:
            rejected.append({"line": line, "reason": "row.unreadable"})
            line = reader.line_num + 1
            continue
        start, line = line, reader.line_num + 1
        if not any(c.strip() for c in cells) or (start == 1 and _is_header(cells)):
            continue
        title, body = (cells[0], cells[1]) if len(cells) > 1 else ("", cells[0])
        try:
            rows.append((start, check_phrase(title, body)))
        except errors.BadInput as exc:
            reason = f"{exc.params.get('field')}.{exc.params.get('problem')}"
            rejected.append({"line": start, "reason": reason})
    return rows, rejected


def _is_header(cells: list[str]) -> bool:
    return [c.strip().lower() for c in cells[:2]] in (["title", "body"], ["标题", "内容"])


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise errors.BadInput("The file is neither UTF-8 nor GB18030 text.", field="file")
