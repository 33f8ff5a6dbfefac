"""LIVE-1 against the database (SQLite and PostgreSQL): disconnected agents, yesterday beside
today, and the monitoring feature (ACCT-6) guarding the view."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kefu import errors
from kefu.clock import FakeClock
from kefu.domain.permissions import Feature
from kefu.domain.presence import Role
from kefu.services.context import Staff
from kefu.storage import accounts as account_store
from kefu.storage.db import Database
from kefu.supervision import live
from support import AgentSpec, make_shop, service_context


async def test_live_1_an_agent_whose_socket_is_gone_shows_disconnected(db_url: str) -> None:
    db = Database(db_url)
    await db.create_all()
    clock = FakeClock()
    try:
        shop = await make_shop(
            db, agents=[AgentSpec("alice"), AgentSpec("bob")], groups=1, clock=clock
        )
        ctx = service_context(db, clock)
        alice, bob = shop.accounts["alice"], shop.accounts["bob"]
        async with db.uow() as tx:  # both were last seen two minutes ago
            await account_store.touch_accounts(tx.conn, [alice, bob], clock.now())
            await tx.commit()
        clock.advance(timedelta(minutes=2))
        ctx.live.opened(bob)  # bob's socket is open on this process

        view = await live.live_view(ctx, shop.shop_id, now=clock.now())
        states = {a.id: a.state for a in view.agents}
        assert states[alice] == "disconnected" and states[bob] == "online"
        assert view.shop is not None and view.shop.online == 1
        assert view.groups[0].online == 1

        ctx.live.opened(alice)  # back: online again
        view = await live.live_view(ctx, shop.shop_id, now=clock.now())
        assert {a.id: a.state for a in view.agents}[alice] == "online"
        assert view.shop is not None and view.shop.yesterday.conversations == 0
    finally:
        await db.dispose()


async def test_live_1_needs_the_monitoring_feature(db_url: str) -> None:
    db = Database(db_url)
    await db.create_all()
    clock = FakeClock()
    try:
        shop = await make_shop(db, agents=[AgentSpec("sue", role="supervisor")], clock=clock)
        ctx = service_context(db, clock)
        sue = shop.accounts["sue"]
        revoked = Staff(sue, shop.shop_id, Role.SUPERVISOR, shop.group_ids[0], features=frozenset())
        with pytest.raises(errors.Forbidden) as refused:
            await live.scoped_view(ctx, revoked)
        assert refused.value.params["feature"] == Feature.MONITORING
        granted = Staff(sue, shop.shop_id, Role.SUPERVISOR, shop.group_ids[0])
        view = await live.scoped_view(ctx, granted)
        assert view.shop is not None and [a.id for a in view.agents] == [
            shop.accounts["owner"],
            sue,
        ]
        agent = Staff(sue, shop.shop_id, Role.AGENT, shop.group_ids[0])
        with pytest.raises(errors.Forbidden):
            await live.scoped_view(ctx, agent)
    finally:
        await db.dispose()
