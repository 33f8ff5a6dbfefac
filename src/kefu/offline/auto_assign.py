"""OFFL-4, the owner's "auto-assign offline messages": while nobody is queued, unprocessed
entries are routed to agents like new requests, each exactly once, also across processes."""

from __future__ import annotations

from datetime import datetime

from kefu.domain import routing as routing_rules
from kefu.domain.conversation import ConversationState, check_transition
from kefu.domain.shop import ShopSettings
from kefu.offline.domain import ProcessedCause
from kefu.offline.service import rearm_auto_end
from kefu.services.context import Context, presence_window
from kefu.services.routing import announce, assign_waiting
from kefu.storage import conversations as conversation_store
from kefu.storage import offline as store
from kefu.storage import routing as routing_store
from kefu.storage import shops as shop_store
from kefu.storage.db import UnitOfWork
from kefu.storage.offline import EntryRecord


async def sweep_auto_assign(ctx: Context) -> list[int]:
    """OFFL-4, run by the scheduler: in each shop with auto-assign on and unprocessed entries,
    route entries while nobody is queued. Returns the conversations assigned."""
    async with ctx.db.read() as tx:
        shop_ids = await store.shops_with_unprocessed(tx.conn)
    assigned: list[int] = []
    for shop_id in shop_ids:
        assigned += await auto_assign(ctx, shop_id)
    return assigned


async def auto_assign(ctx: Context, shop_id: int) -> list[int]:
    """OFFL-4: when the shop is idle (nobody queued), its unprocessed entries are routed to
    agents like new requests, each once: under the shop lock (ROUTE-7) an entry is taken
    only while unprocessed and is processed in the same transaction, so two processes never
    route one entry twice. Entries are taken only up to the agents' free room, oldest first."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        settings = await shop_store.shop_settings(tx.conn, shop_id)
        if not settings.offline_auto_assign:
            return []
        await tx.lock_shop(shop_id)
        if await routing_store.queued_groups(tx.conn, shop_id):
            return []
        queued = await _queue_entries(ctx, tx, shop_id, settings, now)
        if not queued:
            return []
        assigned = await assign_waiting(ctx, tx, shop_id, now, settings=settings)
        await tx.commit()
    if assigned:
        await announce(ctx, shop_id, assigned)
    return assigned


async def _queue_entries(
    ctx: Context, tx: UnitOfWork, shop_id: int, settings: ShopSettings, now: datetime
) -> list[int]:
    """Put entries' consumers in the (empty) queue, as many as agents have room for, each in
    a group with room (its own if it has). The caller holds the shop lock."""
    agents = await routing_store.agent_loads(tx.conn, shop_id, presence_window(ctx, now))
    free: dict[int | None, int] = {}
    for agent in agents:
        if routing_rules.is_eligible(agent, agent.group_id):
            free[agent.group_id] = free.get(agent.group_id, 0) + agent.limit - agent.current
    room = sum(free.values())
    if room <= 0:
        return []
    default_group = await shop_store.default_group_id(tx.conn, shop_id)
    queued: list[int] = []
    taken: list[int] = []
    for entry in await store.auto_assign_candidates(tx.conn, shop_id, limit=room):
        found = await store.open_conversation(tx.conn, shop_id, entry.consumer_id)
        if found is not None and found[1] is ConversationState.ASSIGNED:
            taken.append(entry.id)  # already served by a human
            continue
        if found is not None and found[1] is not ConversationState.OFFLINE:
            continue  # with the bot or queued: their own request is on its way
        group_id = await _group_of(tx, shop_id, found, default_group)
        if free.get(group_id, 0) <= 0:
            group_id = max(free, key=lambda g: free[g])
            if free[group_id] <= 0:
                break
        free[group_id] -= 1
        queued.append(await _queue_one(tx, shop_id, entry, found, group_id, settings, now))
        taken.append(entry.id)
    await store.mark_processed(
        tx.conn, shop_id, taken, cause=ProcessedCause.AUTO_ASSIGNED, by=None, now=now
    )
    return queued


async def _group_of(
    tx: UnitOfWork,
    shop_id: int,
    found: tuple[int, ConversationState] | None,
    default_group: int | None,
) -> int | None:
    if found is None:
        return default_group
    return (await conversation_store.get(tx.conn, shop_id, found[0])).group_id


async def _queue_one(
    tx: UnitOfWork,
    shop_id: int,
    entry: EntryRecord,
    found: tuple[int, ConversationState] | None,
    group_id: int | None,
    settings: ShopSettings,
    now: datetime,
) -> int:
    if found is None:
        conversation_id = await conversation_store.create(
            tx.conn,
            shop_id=shop_id,
            consumer_id=entry.consumer_id,
            group_id=group_id,
            entry={"source": "offline"},
            now=now,
        )
    else:
        conversation_id = found[0]
        check_transition(found[1], ConversationState.QUEUED)
    await rearm_auto_end(tx.conn, shop_id, conversation_id, settings, now)
    await conversation_store.update_conversation(
        tx.conn,
        conversation_id,
        state=ConversationState.QUEUED,
        group_id=group_id,
        human_requested_at=now,
    )
    await conversation_store.record_event(
        tx.conn,
        shop_id=shop_id,
        conversation_id=conversation_id,
        kind="human_requested",
        cause="offline_auto_assign",
        group_id=group_id,
        at=now,
    )
    return conversation_id
