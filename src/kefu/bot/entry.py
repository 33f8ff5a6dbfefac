"""The consumer's entry (ENTRY-2, SET-1): welcome message, FAQ menu, bot cards and consumer
phrases. The owner writes it; the widget reads it publicly. Item ids are the server's: an id
sent back that the current menu has is kept, any other item gets a new one, so clicks counted
against an item (BOT-6) stay with it across edits."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

from kefu import errors
from kefu.bot.domain import Entry, MenuItem, check_entry
from kefu.services.access import require_owner
from kefu.services.context import Context, Staff
from kefu.storage import kb
from kefu.storage import shops as shop_store
from kefu.storage.db import Connection


def _item(data: dict[str, Any]) -> MenuItem:
    question_id = data.get("question_id")
    return MenuItem(
        str(data.get("id") or ""),
        str(data.get("title") or ""),
        int(question_id) if question_id is not None else None,
        tuple(_item(c) for c in data.get("children") or ()),
    )


def _json(item: MenuItem, *, top: bool) -> dict[str, Any]:
    if top:
        return {
            "id": item.id,
            "title": item.title,
            "children": [_json(c, top=False) for c in item.children],
        }
    return {"id": item.id, "title": item.title, "question_id": item.question_id}


def entry_json(entry: Entry) -> dict[str, Any]:
    return {
        "welcome_message": entry.welcome_message,
        "faq_menu": [_json(i, top=True) for i in entry.faq_menu],
        "bot_cards": [_json(i, top=False) for i in entry.bot_cards],
        "consumer_phrases": list(entry.consumer_phrases),
    }


async def entry_of(conn: Connection, shop_id: int) -> Entry:
    settings = await shop_store.shop_settings(conn, shop_id)
    config = await kb.entry_config(conn, shop_id)
    return Entry(
        settings.welcome_message,
        tuple(_item(i) for i in config["faq_menu"]),
        tuple(_item(i) for i in config["bot_cards"]),
        tuple(str(p) for p in config["consumer_phrases"]),
    )


async def load_entry(ctx: Context, shop_id: int) -> Entry:
    async with ctx.db.read() as tx:
        return await entry_of(tx.conn, shop_id)


async def get_entry(ctx: Context, staff: Staff) -> dict[str, Any]:
    return entry_json(await load_entry(ctx, staff.shop_id))


async def public_entry(ctx: Context, shop_id: int) -> dict[str, Any]:
    """ENTRY-2 for the widget: the entry, whether the bot is on, and whether it answers first."""
    async with ctx.db.read() as tx:
        if not await kb.shop_exists(tx.conn, shop_id):
            raise errors.NotFound(kind="shop", id=shop_id)
        entry = await entry_of(tx.conn, shop_id)
        settings = await shop_store.shop_settings(tx.conn, shop_id)
    return {
        **entry_json(entry),
        "bot_enabled": settings.bot_enabled,
        "bot_first": settings.bot_first,
    }


async def put_entry(ctx: Context, staff: Staff, entry: Entry) -> dict[str, Any]:
    """ENTRY-2, SET-1: replace the entry (owner only); linked questions must be this shop's."""
    require_owner(staff)
    entry = check_entry(entry)
    async with ctx.db.uow() as tx:
        current = await entry_of(tx.conn, staff.shop_id)
        found = await kb.existing_question_ids(tx.conn, staff.shop_id, entry.question_ids())
        for question_id in sorted(entry.question_ids()):
            if question_id not in found:
                raise errors.NotFound(kind="question", id=question_id)
        entry = _with_ids(entry, {i.id for i in current.items()})
        settings = await shop_store.shop_settings(tx.conn, staff.shop_id)
        updated = settings.updated(welcome_message=entry.welcome_message)
        await kb.save_shop_settings(tx.conn, staff.shop_id, updated.to_json())
        data = entry_json(entry)
        del data["welcome_message"]
        await kb.save_entry_config(tx.conn, staff.shop_id, data)
        await tx.commit()
    return entry_json(entry)


def _with_ids(entry: Entry, known: set[str]) -> Entry:
    used: set[str] = set()

    def assign(item: MenuItem) -> MenuItem:
        item_id = item.id if item.id in known and item.id not in used else _new_id(used | known)
        used.add(item_id)
        return MenuItem(
            item_id, item.title, item.question_id, tuple(assign(c) for c in item.children)
        )

    return Entry(
        entry.welcome_message,
        tuple(assign(i) for i in entry.faq_menu),
        tuple(assign(i) for i in entry.bot_cards),
        entry.consumer_phrases,
    )


def _new_id(taken: set[str]) -> str:
    while True:
        candidate = "i" + secrets.token_hex(4)
        if candidate not in taken:
            return candidate


async def save_faq_menu(conn: Connection, shop_id: int, faq_menu: tuple[MenuItem, ...]) -> Entry:
    """ENTRY-2, LIVE-3: replace only the FAQ menu, in the caller's transaction; the caller
    checks who may and audits. Item ids are kept as put_entry keeps them."""
    current = await entry_of(conn, shop_id)
    entry = check_entry(replace(current, faq_menu=faq_menu))
    found = await kb.existing_question_ids(conn, shop_id, entry.question_ids())
    for question_id in sorted(entry.question_ids()):
        if question_id not in found:
            raise errors.NotFound(kind="question", id=question_id)
    entry = _with_ids(entry, {i.id for i in current.items()})
    data = entry_json(entry)
    del data["welcome_message"]
    await kb.save_entry_config(conn, shop_id, data)
    return entry
