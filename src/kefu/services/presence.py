"""Agent states, reception limits, supervisor actions and work statistics (PRES-1 to PRES-3,
ACCT-1 to ACCT-3). A change that frees capacity drains the queue at once (ROUTE-2)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta

import structlog

from kefu import errors
from kefu.domain.presence import SUPERVISING_ROLES, AgentStatus, Role, work_time
from kefu.services import audit, views
from kefu.services.access import access_account, access_group, require_supervising, supervises
from kefu.services.context import (
    Context,
    Staff,
    account_topic,
    live_topic,
    presence_window,
    supervisors_topic,
)
from kefu.services.routing import announce, assign_waiting, drain
from kefu.services.views import AccountView
from kefu.storage import accounts as store
from kefu.storage import routing as routing_store
from kefu.storage import shops as shop_store

log = structlog.get_logger(__name__)


def staff_topics(staff: Staff) -> list[str]:
    """What a staff socket hears: its own account, and the shop's live sessions if it
    supervises (CONV-9)."""
    topics = [account_topic(staff.account_id)]
    if staff.role in SUPERVISING_ROLES:
        topics.append(supervisors_topic(staff.shop_id))
    return topics


async def set_status(ctx: Context, staff: Staff, status: AgentStatus) -> AccountView:
    """PRES-1: going online may take queued requests at once (ROUTE-2).

    The change is the agent's own row and takes no shop lock: a router that read the old
    status is simply ordered before it (ROUTE-7). After commit the shop's drain runs.
    """
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        await store.set_status(
            tx.conn,
            shop_id=staff.shop_id,
            account_id=staff.account_id,
            status=status,
            at=now,
            seen=True,
        )
        await tx.commit()
    queue_may_change(ctx, staff.shop_id)  # ROUTE-4: whether anyone is online may have changed
    await live_changed(ctx, staff.shop_id)
    return await _drain_and_tell(ctx, staff, capacity_freed=status is AgentStatus.ONLINE)


async def set_reception_limit(ctx: Context, staff: Staff, limit: int) -> AccountView:
    """PRES-2: each agent sets their own limit, 1–50 or the shop's maximum (PRES-4), unless
    the shop lets supervisors set them; raising it may take queued requests.

    No shop lock, as for the status: a router that read the old limit is ordered before it.
    """
    async with ctx.db.uow() as tx:
        settings = await shop_store.shop_settings(tx.conn, staff.shop_id)
        settings.check_reception_limit(limit, set_by="agent")
        await store.set_reception_limit(tx.conn, staff.account_id, limit)
        await tx.commit()
    return await _drain_and_tell(ctx, staff, capacity_freed=True)


async def _drain_and_tell(ctx: Context, staff: Staff, *, capacity_freed: bool) -> AccountView:
    """After commit: drain the queue if capacity may have come (ROUTE-2), then tell the account
    its new state and load."""
    if capacity_freed:
        await drain(ctx, staff.shop_id)
    async with ctx.db.read() as tx:
        view = await views.account_view_of(tx.conn, staff.account_id, presence_window(ctx))
    await account_changed(ctx, view)()
    return view


async def socket_opened(ctx: Context, staff: Staff) -> None:
    """PRES-1: a staff socket opened, a sign of life. An online agent who was away (their
    last socket gone for longer than the grace period) is there again: the queue drains.

    Counted on this process first, so that `socket_closed` always balances it.
    """
    before = presence_window(ctx)
    ctx.live.opened(staff.account_id)
    async with ctx.db.uow() as tx:
        account = await store.shop_account(tx.conn, staff.shop_id, staff.account_id)
        await store.touch_accounts(tx.conn, [staff.account_id], before.now)
        await tx.commit()
    await live_changed(ctx, staff.shop_id)  # a disconnected agent may be back
    if (
        account is not None
        and account.status is AgentStatus.ONLINE
        and not before.is_present(account.id, account.last_seen_at)
    ):
        await drain(ctx, staff.shop_id)


async def socket_closed(ctx: Context, staff: Staff) -> None:
    """PRES-1: a staff socket closed. When it was the account's last one on this process, the
    grace period runs from now (unless another process still beats for it). A database that
    cannot be reached leaves the last heartbeat as the sign of life."""
    now = ctx.clock.now()
    if not ctx.live.closed(staff.account_id):
        return
    try:
        async with ctx.db.uow() as tx:
            await store.touch_accounts(tx.conn, [staff.account_id], now)
            await tx.commit()
    except Exception:
        log.warning("presence.close_not_recorded", account_id=staff.account_id, exc_info=True)


async def heartbeat(ctx: Context) -> int:
    """PRES-1: one sign of life for every account with a staff socket open on this process, in
    one statement; returns how many accounts it touched. Then the queued consumers' places are
    recomputed (ROUTE-4), since agents may have gone away since the last beat."""
    account_ids, now = ctx.live.accounts(), ctx.clock.now()
    async with ctx.db.uow() as tx:
        if account_ids:
            await store.touch_accounts(tx.conn, sorted(account_ids), now)
        queued_shops = await routing_store.shops_with_queue(tx.conn)
        await tx.commit()
    for shop_id in queued_shops:
        queue_may_change(ctx, shop_id)
    return len(account_ids)


def queue_may_change(ctx: Context, shop_id: int) -> None:
    """ROUTE-4: recompute the shop's queued consumers' places and waits (coalesced); only
    those whose place, wait or agents' presence changed are told."""
    if ctx.on_queue_changed is not None:
        ctx.on_queue_changed(shop_id)


async def live_changed(ctx: Context, shop_id: int) -> None:
    """LIVE-1: the shop's monitoring pages, on every process, recompute (coalesced): an
    agent's status, suspension, group or socket changed."""
    await ctx.broker.publish(live_topic(shop_id), {"type": "live_changed"})


def account_changed(ctx: Context, view: AccountView) -> Callable[[], Awaitable[None]]:
    async def publish() -> None:
        await ctx.broker.publish(account_topic(view.id), {"type": "account", "account": view})

    return publish


async def batch_update(
    ctx: Context, staff: Staff, *, agent_ids: list[int], action: str, group_id: int | None
) -> list[AccountView]:
    """PRES-1: supervisors suspend, un-suspend or move agents, one or many at once; a group
    leader only agents of their own group, and only into it (ACCT-5). Audited (LIVE-3)."""
    require_supervising(staff)
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        await tx.lock_shop(staff.shop_id)
        for agent_id in agent_ids:
            target = await access_account(tx.conn, staff, agent_id)
            if not supervises(staff, target.group_id):
                raise errors.Forbidden("A group leader manages the agents of their own group.")
        if action == "move":
            if group_id is None:
                raise errors.BadInput("Moving agents needs a group.", field="group_id")
            await access_group(tx.conn, staff, group_id)
            if not supervises(staff, group_id):
                raise errors.Forbidden("A group leader moves agents within their own group.")
            await store.move_accounts(tx.conn, agent_ids, group_id)
        elif action in ("suspend", "unsuspend"):
            await store.suspend_accounts(tx.conn, agent_ids, suspended=action == "suspend")
        else:
            raise errors.BadInput(
                "Unknown action.", field="action", allowed=["suspend", "unsuspend", "move"]
            )
        await audit.record(
            tx.conn,
            shop_id=staff.shop_id,
            actor=staff,
            action=f"account.{action}",
            target=("account", None),
            at=now,
            account_ids=agent_ids,
            group_id=group_id,
        )
        assigned = await assign_waiting(ctx, tx, staff.shop_id, now)
        changed = await views.account_views(tx.conn, presence_window(ctx), account_ids=agent_ids)
        if assigned:
            tx.on_commit(lambda: announce(ctx, staff.shop_id, assigned))
        for view in changed:  # PRES-1: each agent's workbench shows its new state at once
            tx.on_commit(account_changed(ctx, view))
        tx.on_commit(lambda: live_changed(ctx, staff.shop_id))
        await tx.commit()
    return changed


async def list_accounts(ctx: Context, staff: Staff) -> list[AccountView]:
    async with ctx.db.read() as tx:
        return await views.account_views(tx.conn, presence_window(ctx), shop_id=staff.shop_id)


async def me(ctx: Context, staff: Staff) -> AccountView:
    async with ctx.db.read() as tx:
        return await views.account_view_of(tx.conn, staff.account_id, presence_window(ctx))


async def work_stats(ctx: Context, staff: Staff) -> dict[str, int]:
    """PRES-3: today's online and login time, and the queue this account may see."""
    now = ctx.clock.now()
    since = datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)
    async with ctx.db.read() as tx:
        changes = await store.status_changes_since(
            tx.conn, staff.account_id, since - timedelta(days=1)
        )
        if staff.role in (Role.AGENT, Role.LEADER):
            queue_length = await store.group_queue_length(tx.conn, staff.shop_id, staff.group_id)
        else:
            queue_length = await store.shop_queue_length(tx.conn, staff.shop_id)
    spent = work_time(changes, since=since, now=now, before=AgentStatus.OFFLINE)
    return {
        "online_seconds": int(spent.online.total_seconds()),
        "login_seconds": int(spent.login.total_seconds()),
        "queue_length": queue_length,
    }
