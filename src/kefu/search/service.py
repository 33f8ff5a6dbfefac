"""History search use case (DATA-5): staff search the shop's conversations by words, agent,
consumer and time; each hit is a conversation with snippets of its matching messages.

Who sees what follows what a staff member may open (services/access.py): owners and
supervisors the whole shop, a group leader their group's conversations and their own, an
agent the conversations they took part in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from kefu.domain.presence import Role
from kefu.search.domain import (
    MATCHES_PER_CONVERSATION,
    SearchQuery,
    Snippet,
    encode_cursor,
    snippet,
)
from kefu.services.access import access_account
from kefu.services.context import Context, Staff
from kefu.services.views import ConversationView, conversation_views
from kefu.storage import search as search_store
from kefu.storage.db import Connection
from kefu.storage.search import MatchRecord, SearchFilters

FIRST_BATCH = 50  # a page's 21 conversations seldom need more matches than this
MAX_BATCH = 2000


@dataclass(frozen=True, slots=True)
class MatchView:
    id: int
    seq: int
    sender: str
    created_at: datetime
    snippet: Snippet


@dataclass(frozen=True, slots=True)
class SearchHit:
    conversation: ConversationView
    matches: list[MatchView] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SearchPage:
    items: list[SearchHit]
    next_cursor: str | None


def filters_for(staff: Staff, query: SearchQuery) -> SearchFilters:
    """The search's conditions within what `staff` may open (access_conversation)."""
    viewer_id = viewer_group_id = None
    if staff.role is Role.AGENT:
        viewer_id = staff.account_id
    elif staff.role is Role.LEADER:
        viewer_id, viewer_group_id = staff.account_id, staff.group_id
    return SearchFilters(
        shop_id=staff.shop_id,
        words=query.words,
        agent_id=query.agent_id,
        consumer=query.consumer,
        since=query.since,
        until=query.until,
        viewer_id=viewer_id,
        viewer_group_id=viewer_group_id,
    )


async def search_history(ctx: Context, staff: Staff, query: SearchQuery) -> SearchPage:
    """DATA-5: one page of conversations, newest match first (without words: newest
    conversation first), and the cursor of the next page (None: this is the last)."""
    f = filters_for(staff, query)
    async with ctx.db.read() as tx:
        await search_store.begin_search(tx.conn)
        if query.agent_id is not None:
            await access_account(tx.conn, staff, query.agent_id)
        if f.words:
            order, hits, last_ids = await _matching_conversations(tx.conn, f, query)
        else:
            order = await search_store.conversation_ids(
                tx.conn, f, before_id=query.cursor, limit=query.page_size + 1
            )
            hits, last_ids = {}, {c: c for c in order}
        shown = order[: query.page_size]
        views = await conversation_views(tx.conn, shown, now=ctx.clock.now())
    next_cursor = (
        encode_cursor(last_ids[shown[-1]], f.words) if len(order) > query.page_size else None
    )
    items = [
        SearchHit(
            view,
            [
                MatchView(r.id, r.seq, r.sender, r.created_at, snippet(r.body, f.words))
                for r in hits.get(view.id, [])
            ],
        )
        for view in views
    ]
    return SearchPage(items, next_cursor)


async def _matching_conversations(
    conn: Connection, f: SearchFilters, query: SearchQuery
) -> tuple[list[int], dict[int, list[MatchRecord]], dict[int, int]]:
    """Walk the matching messages newest first until page_size + 1 conversations are found.
    A conversation with a match at or above the cursor was on an earlier page: skipped."""
    order: list[int] = []
    hits: dict[int, list[MatchRecord]] = {}
    latest: dict[int, int] = {}
    skipped: set[int] = set()
    before, batch = query.cursor, FIRST_BATCH
    path = await search_store.access_path(conn, f)
    while len(order) <= query.page_size:
        rows = await search_store.matches(conn, f, before_id=before, limit=batch, path=path)
        if query.cursor is not None:
            fresh = {r.conversation_id for r in rows} - latest.keys() - skipped
            skipped |= await search_store.matched_from(conn, f, sorted(fresh), query.cursor)
        for row in rows:
            cid = row.conversation_id
            if cid in skipped:
                continue
            if cid not in latest:
                if len(order) > query.page_size:
                    break
                order.append(cid)
                latest[cid] = row.id
            found = hits.setdefault(cid, [])
            if len(found) < MATCHES_PER_CONVERSATION:
                found.append(row)
        if len(rows) < batch:
            break
        before, batch = rows[-1].id, min(batch * 2, MAX_BATCH)
    return order, hits, latest
