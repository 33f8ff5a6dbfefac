"""Dispatch from the monitoring page (LIVE-3, seed 001 实时调度): switch the bot between
bot-first and human-first, edit the FAQ menu, and suspend, un-suspend or move agents in batch.
Each action is audited in its transaction and the shop's monitoring pages are told at once.
Owners and supervisors do all of it; a group leader moves and suspends within their group
only (as PRES-1's batch does), and has no say over the bot."""

from __future__ import annotations

from typing import Any

from kefu import errors
from kefu.bot.domain import MenuItem
from kefu.bot.entry import entry_json, save_faq_menu
from kefu.domain.presence import Role
from kefu.services import audit, presence
from kefu.services.context import Context, Staff
from kefu.services.views import AccountView
from kefu.storage import shops as shop_store
from kefu.supervision.live import announce_change, require_monitoring

BOT_MODES = ("bot_first", "human_first")


def require_shop_dispatch(staff: Staff) -> None:
    """LIVE-3: the bot is the shop's, for its owner and supervisors."""
    require_monitoring(staff)
    if staff.role not in (Role.OWNER, Role.SUPERVISOR):
        raise errors.Forbidden()


async def dispatch_agents(
    ctx: Context, staff: Staff, *, agent_ids: list[int], action: str, group_id: int | None
) -> list[AccountView]:
    """LIVE-3: suspend, un-suspend or move agents in batch (audited as `account.<action>`)."""
    require_monitoring(staff)
    changed = await presence.batch_update(
        ctx, staff, agent_ids=agent_ids, action=action, group_id=group_id
    )
    await announce_change(ctx, staff.shop_id)
    return changed


async def set_bot_mode(ctx: Context, staff: Staff, mode: str) -> dict[str, Any]:
    """LIVE-3: bot-first or human-first (BOT-3), audited as `dispatch.bot_mode`."""
    require_shop_dispatch(staff)
    if mode not in BOT_MODES:
        raise errors.BadInput("Unknown bot mode.", field="mode", allowed=list(BOT_MODES))
    async with ctx.db.uow() as tx:
        current = await shop_store.shop_settings(tx.conn, staff.shop_id)
        updated = current.updated(bot_mode=mode)
        await shop_store.save_settings(tx.conn, staff.shop_id, updated)
        await audit.record(
            tx.conn,
            shop_id=staff.shop_id,
            actor=staff,
            action="dispatch.bot_mode",
            target=("shop", staff.shop_id),
            at=ctx.clock.now(),
            before=current.bot_mode,
            mode=mode,
        )
        await tx.commit()
    await announce_change(ctx, staff.shop_id)
    return {"bot_enabled": updated.bot_enabled, "bot_mode": updated.bot_mode}


async def set_faq_menu(
    ctx: Context, staff: Staff, faq_menu: tuple[MenuItem, ...]
) -> dict[str, Any]:
    """LIVE-3, ENTRY-2: replace the FAQ menu, audited as `dispatch.faq_menu`."""
    require_shop_dispatch(staff)
    async with ctx.db.uow() as tx:
        entry = await save_faq_menu(tx.conn, staff.shop_id, faq_menu)
        await audit.record(
            tx.conn,
            shop_id=staff.shop_id,
            actor=staff,
            action="dispatch.faq_menu",
            target=("shop", staff.shop_id),
            at=ctx.clock.now(),
            titles=[i.title for i in entry.faq_menu],
        )
        await tx.commit()
    await announce_change(ctx, staff.shop_id)
    return {"faq_menu": entry_json(entry)["faq_menu"]}
