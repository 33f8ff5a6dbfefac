"""CONV-3, ROUTE-2: an agent's end reads what it decides from with the locked row in one
statement and, on PostgreSQL, writes in one (the closing messages with their seqs, the row's
end, the `ended` event, the rollups' mark); what it writes is what the separate statements
wrote (SET-2's closing message, RATE-1's card, CONV-1's event, DATA-1's mark)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from kefu import errors
from kefu.domain.conversation import ConversationState
from kefu.domain.presence import Role
from kefu.domain.shop import ShopSettings
from kefu.services.context import Context, Staff
from kefu.services.conversations import end_conversation
from kefu.storage import greetings as greetings_store
from kefu.storage import tables as t
from kefu.storage.greetings import Greeting
from support import AgentSpec, make_shop, queued_and_drained, recorded_statements

_c = t.conversations.c
_m = t.messages.c
_e = t.conversation_events.c


async def test_conv_3_end_writes_closing_notice_card_event_and_mark(ctx: Context) -> None:
    shop = await make_shop(
        ctx.db,
        agents=[AgentSpec("ann", limit=3), AgentSpec("bob", limit=3)],
        settings=ShopSettings(rating_forced=True),
        clock=ctx.clock,
    )
    ann, bob = shop.accounts["ann"], shop.accounts["bob"]
    group_id = shop.group_ids[0]
    async with ctx.db.uow() as tx:
        await greetings_store.replace_all(
            tx.conn,
            shop.shop_id,
            [
                Greeting("agent", ann, None, "ann's own goodbye"),
                Greeting("group", group_id, None, "the group's goodbye"),
                Greeting("agent", bob, None, "bob's own goodbye"),
            ],
        )
        await tx.commit()
    ids = await queued_and_drained(ctx, shop, 4)
    async with ctx.db.read() as tx:
        holders = dict((await tx.conn.execute(select(_c.id, _c.agent_id))).all())
        before = dict((await tx.conn.execute(select(_c.id, _c.last_seq))).all())
    cid = ids[0]
    agent = holders[cid]
    staff = Staff(agent, shop.shop_id, Role.AGENT, group_id)
    with recorded_statements(ctx.db) as seen:
        view = await end_conversation(ctx, staff, cid)
    in_tx = [s for s in seen[: seen.index("COMMIT")] if not s.startswith("BEGIN")]
    # ROUTE-2: the same transaction then runs the routing pass, from the shop's settings read
    # with the shop lock.
    routing_from = next(
        i for i, s in enumerate(in_tx) if "FROM shops LEFT OUTER JOIN greetings" in s
    )
    end_tx = in_tx[:routing_from]
    # The row with what the end decides from; the writes; the view. SQLite reads the
    # participants apart (twice), and writes one table at a time (the row and its seqs, the
    # messages, the rollups' mark, the event).
    assert len(end_tx) == (8 if ctx.db.is_sqlite else 3), end_tx
    assert ctx.db.is_sqlite or "pg_try_advisory_xact_lock" in in_tx[routing_from]
    async with ctx.db.read() as tx:
        row = (await tx.conn.execute(select(t.conversations).where(_c.id == cid))).one()
        messages = (
            await tx.conn.execute(
                select(_m.seq, _m.sender, _m.kind, _m.body, _m.meta, _m.created_at)
                .where(_m.conversation_id == cid)
                .order_by(_m.seq)
            )
        ).all()
        events = (
            await tx.conn.execute(
                select(_e.kind, _e.cause, _e.agent_id, _e.group_id, _e.at).where(
                    _e.conversation_id == cid, _e.kind == "ended"
                )
            )
        ).all()
        dirty = set((await tx.conn.scalars(select(t.analytics_dirty.c.conversation_id))).all())
    now = ctx.clock.now()
    # SET-2: the group's closing message wins over the agent's own; RATE-1: the card names
    # the holder; MSG-2: the seqs follow the row's, gapless.
    assert [(m.sender, m.kind) for m in messages[-3:]] == [("system", "system")] * 3
    assert messages[-3].body == "the group's goodbye"
    assert messages[-2].meta["notice"]["code"] == "conversation.ended"
    assert messages[-1].meta["rating_card"] == "forced"
    assert messages[-1].meta["notice"] == {
        "code": "rating.forced",
        "params": {"agent": "Ann" if agent == ann else "Bob"},
    }
    assert [m.seq for m in messages] == list(range(1, before[cid] + 4))
    assert {m.created_at for m in messages[-3:]} == {now}
    assert row.state == ConversationState.ENDED and row.end_cause == "agent"
    assert row.ended_at == now and row.last_message_at == now
    assert row.last_seq == before[cid] + 3 and row.awaiting_reply_since is None
    assert [tuple(e) for e in events] == [("ended", "agent", agent, group_id, now)]
    assert cid in dirty  # DATA-1: folded again
    # The view returned is the row as committed, with its last message.
    assert view.state == ConversationState.ENDED and view.last_seq == row.last_seq
    assert view.last_message is not None and view.last_message.seq == row.last_seq
    assert view.participants == [agent]
    # The other conversations are untouched.
    async with ctx.db.read() as tx:
        after = dict((await tx.conn.execute(select(_c.id, _c.last_seq))).all())
    assert {k: v for k, v in after.items() if k != cid} == {
        k: v for k, v in before.items() if k != cid
    }


async def test_conv_3_end_refused_writes_nothing(ctx: Context) -> None:
    shop = await make_shop(
        ctx.db,
        agents=[AgentSpec("ann", limit=3)],
        settings=ShopSettings(summary_required=True),
        clock=ctx.clock,
    )
    (cid,) = await queued_and_drained(ctx, shop, 1)
    ann = Staff(shop.accounts["ann"], shop.shop_id, Role.AGENT, shop.group_ids[0])
    async with ctx.db.read() as tx:
        before = (await tx.conn.execute(select(t.conversations).where(_c.id == cid))).one()
    # CONV-10: the summary is required and not written.
    with pytest.raises(errors.RuleViolation) as refused:
        await end_conversation(ctx, ann, cid)
    assert refused.value.code == "summary.required"
    # ACCT-5: an agent of the shop who takes no part.
    owner = Staff(shop.accounts["owner"], shop.shop_id, Role.OWNER, None)
    with pytest.raises(errors.NotParticipant):
        await end_conversation(ctx, owner, cid)
    # Another shop's conversation is not found.
    with pytest.raises(errors.NotFound):
        await end_conversation(ctx, Staff(ann.account_id, shop.shop_id + 1, Role.AGENT, None), cid)
    async with ctx.db.read() as tx:
        after = (await tx.conn.execute(select(t.conversations).where(_c.id == cid))).one()
        ended = await tx.conn.scalar(
            select(_e.id).where(_e.conversation_id == cid, _e.kind == "ended")
        )
    assert after == before and ended is None


async def test_route_2_ends_at_once_are_one_transaction_and_one_drain(ctx: Context) -> None:
    shop = await make_shop(
        ctx.db,
        agents=[AgentSpec("ann", limit=3), AgentSpec("bob", limit=3)],
        settings=ShopSettings(rating_forced=True),
        clock=ctx.clock,
    )
    ids = await queued_and_drained(ctx, shop, 8)  # 6 assigned, 2 queued
    async with ctx.db.read() as tx:
        holders = dict(
            (
                await tx.conn.execute(select(_c.id, _c.agent_id).where(_c.agent_id.is_not(None)))
            ).all()
        )
    queued = [c for c in ids if c not in holders]
    group_id = shop.group_ids[0]

    def staff(account_id: int) -> Staff:
        return Staff(account_id, shop.shop_id, Role.AGENT, group_id)

    ann, bob = shop.accounts["ann"], shop.accounts["bob"]
    mine = sorted(holders)[:4]
    stranger = next(c for c in holders if c not in mine)
    other = bob if holders[stranger] == ann else ann
    calls = [
        *(end_conversation(ctx, staff(holders[c]), c) for c in mine),
        end_conversation(ctx, staff(holders[mine[0]]), mine[0]),  # the same, asked again
        end_conversation(ctx, staff(other), stranger),  # not theirs
    ]
    with recorded_statements(ctx.db) as seen:
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
    commits = seen.count("COMMIT")
    ended = [o for o in outcomes if not isinstance(o, BaseException)]
    assert sorted(v.id for v in ended) == mine
    assert isinstance(outcomes[4], errors.ConversationClosed)
    assert isinstance(outcomes[5], errors.NotParticipant)
    # One transaction for the six (queued together before the batch began), which also ran
    # the routing pass for the four slots they freed, the shop lock being free.
    assert commits == 1, seen
    assert sum("advisory" in s for s in seen) == (0 if ctx.db.is_sqlite else 1), seen
    async with ctx.db.read() as tx:
        states = dict((await tx.conn.execute(select(_c.id, _c.state))).all())
        events = (
            await tx.conn.execute(select(_e.conversation_id, _e.agent_id).where(_e.kind == "ended"))
        ).all()
    assert sorted(events) == sorted((c, holders[c]) for c in mine)
    assert states[stranger] == ConversationState.ASSIGNED
    # ROUTE-2: the freed slots went to the queue at once.
    assert all(states[c] == ConversationState.ASSIGNED for c in queued)


# PostgreSQL only: SQLite's lock is its writer's, so an end there waits for the holder's commit.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_route_2_an_end_while_the_shop_lock_is_held_commits_and_drains_after(
    ctx: Context,
) -> None:
    """The end's transaction takes the shop lock only if it is free at once: behind another
    holder it commits the end alone, and the freed slot is routed once the lock is free."""
    shop = await make_shop(ctx.db, agents=[AgentSpec("ann", limit=1)], clock=ctx.clock)
    first, waiting = await queued_and_drained(ctx, shop, 2)
    staff = Staff(shop.accounts["ann"], shop.shop_id, Role.AGENT, shop.group_ids[0])

    async def states() -> dict[int, str]:
        async with ctx.db.read() as tx:
            return dict((await tx.conn.execute(select(_c.id, _c.state))).all())

    async with ctx.db.uow() as holder:
        await holder.lock_shop(shop.shop_id)
        with recorded_statements(ctx.db) as seen:
            ending = asyncio.create_task(end_conversation(ctx, staff, first))
            for _ in range(200):
                if (await states())[first] == ConversationState.ENDED:
                    break
                await asyncio.sleep(0.01)
            assert (await states()) == {
                first: ConversationState.ENDED,  # committed without the lock
                waiting: ConversationState.QUEUED,
            }
            assert not ending.done()  # its drain waits for the lock
            await holder.conn.rollback()
            view = await ending
    assert view.id == first and view.state == ConversationState.ENDED
    assert (await states())[waiting] == ConversationState.ASSIGNED
    assert seen.count("COMMIT") == 2  # the end, then the drain pass
