"""Consultation summaries' use cases (CONV-10, DESK-2, DESK-7): the owner edits the shop's
classification tree; an agent of the conversation writes its summary, picking a leaf. Each use
case: access, load, decide (summaries/domain.py), save, publish after commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from kefu import errors
from kefu.services.access import access_conversation, require_owner
from kefu.services.context import Context, Staff
from kefu.services.routing import announce
from kefu.storage import summaries as summary_store
from kefu.storage.db import Connection, UnitOfWork
from kefu.summaries.domain import (
    DEFAULT_TREE,
    CategoryNode,
    FlatNode,
    NodeDraft,
    build_tree,
    check_note,
    check_tree,
    leaf_path,
    nest,
)


@dataclass(frozen=True, slots=True)
class SummaryView:
    conversation_id: int
    category_id: int
    path: list[str]
    note: str
    agent_id: int
    at: datetime


async def category_tree(ctx: Context, staff: Staff) -> list[CategoryNode]:
    """CONV-10: the shop's classification tree (the default one until the owner edits it)."""
    async with ctx.db.uow() as tx:
        await _seed_default(tx, staff.shop_id)
        found = await summary_store.categories(tx.conn, staff.shop_id)
        await tx.commit()
    return build_tree(found)


async def _seed_default(tx: UnitOfWork, shop_id: int) -> None:
    """CONV-10: a shop starts with 售前/售后/投诉/建议/其他, written on first use."""
    await tx.lock_shop(shop_id)
    if await summary_store.has_any_category(tx.conn, shop_id):
        return
    for position, name in enumerate(DEFAULT_TREE):
        await summary_store.add_category(
            tx.conn, shop_id, parent_id=None, name=name, position=position
        )


async def save_tree(ctx: Context, staff: Staff, nodes: Sequence[FlatNode]) -> list[CategoryNode]:
    """CONV-10: the owner saves the whole tree (up to 5 levels): nodes with an id are kept
    (moved or renamed), new ones added, missing ones removed (earlier summaries keep theirs)."""
    require_owner(staff)
    roots = nest(nodes)
    check_tree(roots)
    async with ctx.db.uow() as tx:
        await _seed_default(tx, staff.shop_id)
        current = {c.id for c in await summary_store.categories(tx.conn, staff.shop_id)}
        kept = await _write_nodes(tx.conn, staff.shop_id, roots, None, current)
        await summary_store.remove_categories(tx.conn, staff.shop_id, sorted(current - kept))
        found = await summary_store.categories(tx.conn, staff.shop_id)
        await tx.commit()
    return build_tree(found)


async def _write_nodes(
    conn: Connection,
    shop_id: int,
    nodes: Sequence[NodeDraft],
    parent_id: int | None,
    current: set[int],
) -> set[int]:
    """Write `nodes` under `parent_id`; returns the ids of the existing nodes kept. An id
    that is not one of the shop's current nodes is not_found (ACCT-5)."""
    kept: set[int] = set()
    for position, node in enumerate(nodes):
        if node.id is None:
            node_id = await summary_store.add_category(
                conn, shop_id, parent_id=parent_id, name=node.name.strip(), position=position
            )
        elif node.id in current:
            node_id = node.id
            kept.add(node_id)
            await summary_store.update_category(
                conn, node_id, parent_id=parent_id, name=node.name.strip(), position=position
            )
        else:
            raise errors.NotFound(kind="summary_category", id=node.id)
        kept |= await _write_nodes(conn, shop_id, node.children, node_id, current)
    return kept


async def get_summary(ctx: Context, staff: Staff, conversation_id: int) -> SummaryView | None:
    """CONV-10: the conversation's summary, if written."""
    async with ctx.db.read() as tx:
        await access_conversation(tx.conn, staff, conversation_id)
        found = await summary_store.summary(tx.conn, conversation_id)
    if found is None:
        return None
    return SummaryView(
        found.conversation_id, found.category_id, found.path, found.note, found.agent_id, found.at
    )


async def write_summary(
    ctx: Context, staff: Staff, conversation_id: int, *, category_id: int, note: str = ""
) -> SummaryView:
    """CONV-10, DESK-7: an agent of the conversation summarises it (open or ended, a human
    served it), picking a leaf; writing again replaces it. The needs-summary flag clears."""
    note = check_note(note)
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        row = await access_conversation(tx.conn, staff, conversation_id, speak=True)
        if row.assigned_at is None:
            raise errors.RuleViolation(
                "Only a conversation an agent served is summarised.", code="summary.no_agent"
            )
        await _seed_default(tx, staff.shop_id)
        path = leaf_path(await summary_store.categories(tx.conn, staff.shop_id), category_id)
        await summary_store.save_summary(
            tx.conn,
            shop_id=staff.shop_id,
            conversation_id=conversation_id,
            category_id=category_id,
            path=path,
            note=note,
            agent_id=staff.account_id,
            at=now,
        )
        await tx.commit()
    await announce(ctx, staff.shop_id, [conversation_id])
    return SummaryView(conversation_id, category_id, path, note, staff.account_id, now)
