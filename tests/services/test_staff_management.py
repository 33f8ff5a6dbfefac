"""ACCT-1, ACCT-5, ACCT-6, PRES-1 and PRES-4: the owner manages staff and groups, supervisors
and leaders manage their agents, every change is audited, on a real database."""

from __future__ import annotations

import pytest

from kefu import errors
from kefu.clock import FakeClock
from kefu.domain.presence import Role
from kefu.services import accounts, audit, presence, shops, staff
from kefu.services.accounts import NewAccount
from kefu.services.context import Context, Staff
from kefu.storage import accounts as account_store
from support import PASSWORD, AgentSpec, ShopIds, make_shop

NEW_PASSWORD = "another-long-password"


async def _shop(ctx: Context, **kwargs: object) -> ShopIds:
    assert isinstance(ctx.clock, FakeClock)
    return await make_shop(
        ctx.db,
        clock=ctx.clock,
        groups=2,
        agents=[
            AgentSpec("sup", group=None, role="supervisor"),
            AgentSpec("lead", group=0, role="leader"),
            AgentSpec("a0", group=0),
            AgentSpec("a1", group=1),
        ],
        **kwargs,  # type: ignore[arg-type]
    )


async def _as(ctx: Context, shop: ShopIds, username: str, password: str = PASSWORD) -> Staff:
    result = await accounts.login(
        ctx, shop_id=shop.shop_id, username=username, password=password, take_over=True
    )
    return await accounts.authenticate(ctx, result.session_id)


async def test_acct_1_owner_creates_disables_enables_and_resets_an_account(ctx: Context) -> None:
    shop = await _shop(ctx)
    owner = await _as(ctx, shop, "owner")
    view = await staff.create_agent(
        ctx,
        owner,
        NewAccount("mei", PASSWORD, Role.AGENT, display_name="小美", group_id=shop.group_ids[1]),
    )
    assert (view.username, view.display_name, view.role, view.group_id) == (
        "mei",
        "小美",
        "agent",
        shop.group_ids[1],
    )
    mei = await _as(ctx, shop, "mei")

    disabled = await staff.update_agent(ctx, owner, view.id, is_disabled=True)
    assert disabled.is_disabled and disabled.status == "offline"
    with pytest.raises(errors.Unauthenticated):  # the live session ended at once
        await accounts.authenticate(ctx, mei.session_id)
    with pytest.raises(errors.AccountDisabled):  # and the right password no longer lets in
        await _as(ctx, shop, "mei")
    with pytest.raises(errors.InvalidCredentials):  # a wrong one says no more than before
        await _as(ctx, shop, "mei", "wrong-password-123")

    assert not (await staff.update_agent(ctx, owner, view.id, is_disabled=False)).is_disabled
    mei = await _as(ctx, shop, "mei")
    await staff.reset_password(ctx, owner, view.id, NEW_PASSWORD)
    with pytest.raises(errors.Unauthenticated):
        await accounts.authenticate(ctx, mei.session_id)
    with pytest.raises(errors.InvalidCredentials):
        await _as(ctx, shop, "mei")
    await _as(ctx, shop, "mei", NEW_PASSWORD)

    items, next_before = await audit.audit_page(ctx, owner, before=None, limit=10)
    assert [(i.action, i.actor_id, i.target_id) for i in items] == [
        ("account.reset_password", owner.account_id, view.id),
        ("account.update", owner.account_id, view.id),
        ("account.update", owner.account_id, view.id),
        ("account.create", owner.account_id, view.id),
    ]
    assert items[1].details == {"is_disabled": False}
    assert all("password" not in str(i.details) for i in items)
    assert next_before is None
    first, cursor = await audit.audit_page(ctx, owner, before=None, limit=3)
    rest, end = await audit.audit_page(ctx, owner, before=cursor, limit=3)
    assert [i.id for i in first + rest] == [i.id for i in items] and end is None


async def test_acct_1_only_the_owner_manages_staff_and_groups(ctx: Context) -> None:
    shop = await _shop(ctx)
    owner = await _as(ctx, shop, "owner")
    supervisor = await _as(ctx, shop, "sup")
    a1 = shop.accounts["a1"]
    refused = [
        staff.create_agent(ctx, supervisor, NewAccount("x1", PASSWORD, Role.AGENT)),
        staff.update_agent(ctx, supervisor, a1, is_disabled=True),
        staff.update_agent(ctx, supervisor, a1, display_name="X"),
        staff.reset_password(ctx, supervisor, a1, NEW_PASSWORD),
        staff.add_group(ctx, supervisor, "g9"),
        staff.rename_group(ctx, supervisor, shop.group_ids[0], "g9"),
        staff.delete_group(ctx, supervisor, shop.group_ids[0]),
        audit.audit_page(ctx, supervisor, before=None, limit=10),
    ]
    for call in refused:
        with pytest.raises(errors.Forbidden):
            await call
    # The owner's own account keeps its name and cannot be disabled; no second owner.
    with pytest.raises(errors.RuleViolation):
        await staff.update_agent(ctx, owner, owner.account_id, is_disabled=True)
    with pytest.raises(errors.Conflict):
        await staff.create_agent(ctx, owner, NewAccount("boss2", PASSWORD, Role.OWNER))
    async with ctx.db.read() as tx:
        account = await account_store.shop_account(tx.conn, shop.shop_id, a1)
    assert account is not None and not account.is_disabled and account.display_name == "A1"


async def test_acct_1_groups_are_created_renamed_and_deleted_only_when_empty(
    ctx: Context,
) -> None:
    shop = await _shop(ctx)
    owner = await _as(ctx, shop, "owner")
    group = await staff.add_group(ctx, owner, "直播组")
    await shops.update_settings(ctx, owner, {"entry_groups": {"live": group["id"]}})
    with pytest.raises(errors.Conflict) as taken:
        await staff.rename_group(ctx, owner, group["id"], "g0")
    assert taken.value.code == "group.name_taken"
    assert (await staff.rename_group(ctx, owner, group["id"], "直播二组"))["name"] == "直播二组"

    with pytest.raises(errors.Conflict) as busy:
        await staff.delete_group(ctx, owner, shop.group_ids[1])  # a1 is in it
    assert busy.value.code == "group.not_empty"
    assert busy.value.params == {"agents": 1, "conversations": 0}

    await staff.delete_group(ctx, owner, group["id"])
    names = [g["name"] for g in await shops.list_groups(ctx, owner)]
    assert names == ["g0", "g1"]
    assert "live" not in (await shops.get_settings(ctx, owner)).entry_groups
    with pytest.raises(errors.NotFound):
        await staff.delete_group(ctx, owner, group["id"])
    actions = [i.action for i in (await audit.audit_page(ctx, owner, before=None, limit=9))[0]]
    assert actions == ["group.delete", "group.rename", "shop.settings", "group.create"]


async def test_acct_5_a_group_leader_manages_only_agents_of_their_own_group(ctx: Context) -> None:
    shop = await _shop(ctx)
    leader = await _as(ctx, shop, "lead")
    a0, a1 = shop.accounts["a0"], shop.accounts["a1"]
    with pytest.raises(errors.Forbidden):
        await presence.batch_update(ctx, leader, agent_ids=[a1], action="suspend", group_id=None)
    with pytest.raises(errors.Forbidden):
        await presence.batch_update(
            ctx, leader, agent_ids=[a0], action="move", group_id=shop.group_ids[1]
        )
    (done,) = await presence.batch_update(
        ctx, leader, agent_ids=[a0], action="suspend", group_id=None
    )
    assert done.is_suspended
    supervisor = await _as(ctx, shop, "sup")
    moved = await presence.batch_update(
        ctx, supervisor, agent_ids=[a0, a1], action="move", group_id=shop.group_ids[1]
    )
    assert [v.group_id for v in moved] == [shop.group_ids[1]] * 2
    owner = await _as(ctx, shop, "owner")
    rows, _ = await audit.audit_page(ctx, owner, before=None, limit=10)
    assert [(r.action, r.details["account_ids"]) for r in rows] == [
        ("account.move", [a0, a1]),
        ("account.suspend", [a0]),
    ]


async def test_pres_4_supervisors_set_reception_limits_when_the_shop_says_so(
    ctx: Context,
) -> None:
    shop = await _shop(ctx)
    owner = await _as(ctx, shop, "owner")
    agent = await _as(ctx, shop, "a0")
    supervisor = await _as(ctx, shop, "sup")
    a0 = shop.accounts["a0"]
    # Feige's default: each agent sets their own, supervisors may not.
    assert (await presence.set_reception_limit(ctx, agent, 7)).reception_limit == 7
    with pytest.raises(errors.Forbidden) as by_agent:
        await staff.update_agent(ctx, supervisor, a0, reception_limit=4)
    assert by_agent.value.code == "reception_limit.set_by_agent"

    await shops.update_settings(
        ctx, owner, {"reception_limit_by": "supervisor", "max_reception_limit": 10}
    )
    with pytest.raises(errors.Forbidden) as by_supervisor:
        await presence.set_reception_limit(ctx, agent, 5)
    assert by_supervisor.value.code == "reception_limit.set_by_supervisor"
    assert (await staff.update_agent(ctx, supervisor, a0, reception_limit=9)).reception_limit == 9
    with pytest.raises(errors.BadInput) as over:
        await staff.update_agent(ctx, supervisor, a0, reception_limit=11)
    assert over.value.params["max"] == 10
    leader = await _as(ctx, shop, "lead")
    with pytest.raises(errors.Forbidden):  # a leader sets limits in their own group only
        await staff.update_agent(ctx, leader, shop.accounts["a1"], reception_limit=2)
    assert (await staff.update_agent(ctx, leader, a0, reception_limit=2)).reception_limit == 2
