"""Issue 16: what a login and a socket's `ready` run leaves no reference cycles of statement
objects behind. Such cycles wait for the collector, which `kefu serve` runs rarely; until it
does, every agent who signs in and every socket that opens holds kilobytes more."""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable

from kefu.services import accounts, conversations, presence
from kefu.services.context import ConsumerActor, Context
from support import PASSWORD, AgentSpec, make_shop


async def _statement_garbage(run: Callable[[], Awaitable[None]]) -> list[str]:
    """The SQL construct types among the unreachable cycles that `run` left behind."""
    await run()  # the first run fills the statement caches, which live on
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        await run()
        gc.collect()
        return sorted(
            {
                type(o).__qualname__
                for o in gc.garbage
                if type(o).__module__.startswith("sqlalchemy.sql")
            }
        )
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


async def test_issue_16_a_login_and_a_staff_sockets_ready_leave_no_statement_cycles(
    ctx: Context,
) -> None:
    shop = await make_shop(ctx.db, agents=[AgentSpec("ann")], clock=ctx.clock)

    async def sign_in_and_open() -> None:
        result = await accounts.login(
            ctx, shop_id=shop.shop_id, username="ann", password=PASSWORD, take_over=True
        )
        staff = await accounts.authenticate(ctx, result.session_id)
        await presence.socket_opened(ctx, staff)
        assert (await presence.me(ctx, staff)).id == shop.accounts["ann"]
        await presence.socket_closed(ctx, staff)

    assert await _statement_garbage(sign_in_and_open) == []


async def test_issue_16_a_consumer_sockets_ready_leaves_no_statement_cycles(ctx: Context) -> None:
    shop = await make_shop(ctx.db, clock=ctx.clock)
    session = await accounts.start_consumer_session(ctx, shop_id=shop.shop_id, identity=None)
    consumer = ConsumerActor(consumer_id=session.consumer_id, shop_id=shop.shop_id)

    async def ready() -> None:
        assert await conversations.current_conversation(ctx, consumer) is None
        assert await accounts.consumer_profile(ctx, consumer)

    assert await _statement_garbage(ready) == []
