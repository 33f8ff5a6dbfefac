"""Staff management (ACCT-1 to ACCT-3, ACCT-6, PRES-4): the owner creates accounts, changes,
disables and re-enables them, resets passwords and manages groups; under the shop's PRES-4
setting supervisors set their agents' reception limits. Each change is audited in its own
transaction; the owner alone changes accounts and groups (`forbidden` otherwise)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from kefu import errors
from kefu.domain.accounts import check_name, check_password
from kefu.domain.ids import ShopId
from kefu.domain.presence import AgentStatus, Role
from kefu.services import audit, views
from kefu.services.access import access_account, access_group, require_owner, supervises
from kefu.services.accounts import NewAccount, create_accounts, revoke_all_sessions
from kefu.services.context import Context, Staff, presence_window
from kefu.services.presence import account_changed
from kefu.services.routing import drain
from kefu.services.shops import create_group
from kefu.services.views import AccountView
from kefu.storage import accounts as store
from kefu.storage import shops as shop_store


async def create_agent(ctx: Context, staff: Staff, account: NewAccount) -> AccountView:
    """ACCT-1, ACCT-2: a sub-account (supervisor, leader or agent) of the owner's shop."""
    require_owner(staff, action="create_account")
    if account.role == Role.OWNER:
        raise errors.Conflict("The shop already has its main account.", code="account.owner_taken")
    (account_id,) = await create_accounts(
        ctx, shop_id=ShopId(staff.shop_id), accounts=[account], audit_as=staff, audited=True
    )
    async with ctx.db.read() as tx:
        return await views.account_view_of(tx.conn, account_id, presence_window(ctx))


async def update_agent(
    ctx: Context,
    staff: Staff,
    agent_id: int,
    *,
    display_name: str | None = None,
    has_im_permission: bool | None = None,
    is_disabled: bool | None = None,
    reception_limit: int | None = None,
) -> AccountView:
    """ACCT-1, ACCT-3: the owner changes a name or the IM permission, or disables an account
    (its sessions end and its sockets close at once; it goes offline and takes no new
    conversations) or enables it again. PRES-4: a reception limit set here needs the shop's
    `reception_limit_by = supervisor`, a supervising role over the agent, and stays under the
    shop's maximum. The main account's name is the shop's manager name and it cannot be
    disabled."""
    owner_fields = {
        "display_name": display_name,
        "has_im_permission": has_im_permission,
        "is_disabled": is_disabled,
    }
    changes: dict[str, Any] = {k: v for k, v in owner_fields.items() if v is not None}
    if changes:
        require_owner(staff, setting=sorted(changes))
    if display_name is not None:
        check_name(display_name, field="display_name")
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        target = await access_account(tx.conn, staff, agent_id)
        if reception_limit is not None:
            settings = await shop_store.shop_settings(tx.conn, staff.shop_id)
            settings.check_reception_limit(
                reception_limit, set_by="supervisor", field="reception_limit"
            )
            if not supervises(staff, target.group_id):
                raise errors.Forbidden()
            changes["reception_limit"] = reception_limit
        if target.role == Role.OWNER and (display_name is not None or is_disabled):
            raise errors.RuleViolation(
                "The main account's name is the shop's manager name, and it cannot be disabled.",
                code="account.owner_fixed",
            )
        await store.update_account(tx.conn, agent_id, **changes)
        if is_disabled and not target.is_disabled:
            await revoke_all_sessions(tx, ctx, agent_id, reason="disabled", at=now)
            if target.status != AgentStatus.OFFLINE:
                await store.set_status(
                    tx.conn,
                    shop_id=staff.shop_id,
                    account_id=agent_id,
                    status=AgentStatus.OFFLINE,
                    at=now,
                )
        if changes:
            await audit.record(
                tx.conn,
                shop_id=staff.shop_id,
                actor=staff,
                action="account.update",
                target=("account", agent_id),
                at=now,
                **changes,
            )
        view = await views.account_view_of(tx.conn, agent_id, presence_window(ctx))
        tx.on_commit(account_changed(ctx, view))
        await tx.commit()
    if reception_limit is not None or is_disabled is False:
        await drain(ctx, staff.shop_id)  # more capacity may take queued requests (ROUTE-2)
    return view


async def reset_password(ctx: Context, staff: Staff, agent_id: int, password: str) -> None:
    """ACCT-1: the owner sets a new password; the account's sessions end."""
    require_owner(staff, action="reset_password")
    check_password(password)
    password_hash = await asyncio.to_thread(ctx.hasher.hash, password)
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        await access_account(tx.conn, staff, agent_id)
        await store.update_account(tx.conn, agent_id, password_hash=password_hash)
        await revoke_all_sessions(tx, ctx, agent_id, reason="password_reset", at=now)
        await audit.record(
            tx.conn,
            shop_id=staff.shop_id,
            actor=staff,
            action="account.reset_password",
            target=("account", agent_id),
            at=now,
        )
        await tx.commit()


async def add_group(ctx: Context, staff: Staff, name: str) -> dict[str, Any]:
    """ENTRY-1: a new reception group of the owner's shop."""
    require_owner(staff, action="create_group")
    group_id = await create_group(ctx, shop_id=ShopId(staff.shop_id), name=name, audit_as=staff)
    return {"id": group_id, "name": name}


async def rename_group(ctx: Context, staff: Staff, group_id: int, name: str) -> dict[str, Any]:
    require_owner(staff, action="rename_group")
    check_name(name, field="name")
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        await tx.lock_shop(staff.shop_id)  # names are unique in the shop
        group = await access_group(tx.conn, staff, group_id)
        others = await shop_store.groups(tx.conn, staff.shop_id)
        if any(g.name == name and g.id != group_id for g in others):
            raise errors.Conflict(
                "The shop already has a group of this name.", code="group.name_taken", field="name"
            )
        await shop_store.rename_group(tx.conn, group_id, name)
        await audit.record(
            tx.conn,
            shop_id=staff.shop_id,
            actor=staff,
            action="group.rename",
            target=("group", group_id),
            at=now,
            old_name=group.name,
            name=name,
        )
        await tx.commit()
    return {"id": group_id, "name": name}


async def delete_group(ctx: Context, staff: Staff, group_id: int) -> None:
    """A group that still has agents, or conversations routed or transferred to it, is not
    deleted: `group.not_empty` says how many of each. Entry sources routed to it fall back
    to the shop's first group."""
    require_owner(staff, action="delete_group")
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        await tx.lock_shop(staff.shop_id)
        group = await access_group(tx.conn, staff, group_id)
        agents = await store.group_member_count(tx.conn, group_id)
        conversations = await shop_store.group_conversation_count(tx.conn, group_id)
        if agents or conversations:
            raise errors.Conflict(
                "The group still has agents or conversations: move the agents first; a group "
                "that has served conversations is kept for their history.",
                code="group.not_empty",
                agents=agents,
                conversations=conversations,
            )
        settings = await shop_store.shop_settings(tx.conn, staff.shop_id)
        routed = {k: v for k, v in settings.entry_groups.items() if v != group_id}
        if routed != settings.entry_groups:
            await shop_store.save_settings(
                tx.conn, staff.shop_id, replace(settings, entry_groups=routed)
            )
        await shop_store.delete_group(tx.conn, staff.shop_id, group_id)
        await audit.record(
            tx.conn,
            shop_id=staff.shop_id,
            actor=staff,
            action="group.delete",
            target=("group", group_id),
            at=now,
            name=group.name,
        )
        await tx.commit()
