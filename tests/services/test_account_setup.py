"""ACCT-1, ACCT-2, ACCT-5 and ENTRY-1 for new shops, groups and accounts, on a real database:
what is stored, what is refused, and that a refusal stores nothing."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from kefu import errors
from kefu.domain.ids import ShopId
from kefu.domain.presence import AgentStatus, Role
from kefu.services import views
from kefu.services.accounts import NewAccount, create_account, create_accounts, login
from kefu.services.context import Context, presence_window
from kefu.services.shops import create_group, create_shop
from kefu.services.views import AccountView
from kefu.storage import shops as shop_store
from support import PASSWORD


async def _accounts(ctx: Context, shop_id: ShopId) -> list[AccountView]:
    async with ctx.db.read() as tx:
        return await views.account_views(tx.conn, presence_window(ctx), shop_id=shop_id)


async def test_acct_1_create_shop_with_owner_and_group(ctx: Context) -> None:
    shop = await create_shop(ctx, name="小鹿优选", manager_name="林晓")
    group_id = await create_group(ctx, shop_id=shop.id, name="售前组", entries=["product", "live"])
    owner_id = await create_account(
        ctx, shop_id=shop.id, username="owner", password=PASSWORD, role=Role.OWNER
    )
    agent_id = await create_account(
        ctx,
        shop_id=shop.id,
        username="mei",
        password=PASSWORD,
        display_name="小美",
        group_id=group_id,
        status=AgentStatus.ONLINE,
        reception_limit=6,
    )

    owner, agent = await _accounts(ctx, shop.id)
    assert (owner.id, owner.role, owner.display_name, owner.group_id) == (
        owner_id,
        "owner",
        "林晓",  # ACCT-3: the main account is named after the shop's manager
        None,
    )
    assert (agent.id, agent.role, agent.display_name, agent.group_id) == (
        agent_id,
        "agent",
        "小美",
        group_id,
    )
    assert (agent.status, agent.reception_limit, agent.has_im_permission) == ("online", 6, True)
    async with ctx.db.read() as tx:
        settings = await shop_store.shop_settings(tx.conn, shop.id)
        assert await shop_store.shop_secret(tx.conn, shop.id) == shop.secret
    assert settings.entry_groups == {"product": group_id, "live": group_id}
    assert len(shop.secret) == 64
    logged_in = await login(
        ctx, shop_id=shop.id, username="mei", password=PASSWORD, take_over=False
    )
    assert logged_in.account.id == agent_id


async def test_entry_1_a_later_group_takes_over_its_entry_sources(ctx: Context) -> None:
    shop = await create_shop(ctx, name="Shop", manager_name="Boss", secret="s3cret")
    first = await create_group(ctx, shop_id=shop.id, name="g0", entries=["product", "order"])
    second = await create_group(ctx, shop_id=shop.id, name="g1", entries=["order"])
    async with ctx.db.read() as tx:
        settings = await shop_store.shop_settings(tx.conn, shop.id)
    assert settings.entry_groups == {"product": first, "order": second}
    assert shop.secret == "s3cret"


BAD_ACCOUNTS = [
    (NewAccount("", PASSWORD), "username"),
    (NewAccount("   ", PASSWORD), "username"),
    (NewAccount("x" * 51, PASSWORD), "username"),
    (NewAccount("tab\there", PASSWORD), "username"),
    (NewAccount("ann", "short"), "password"),
    (NewAccount("ann", "p" * 201), "password"),
    (NewAccount("ann", PASSWORD, role="admin"), "role"),  # type: ignore[arg-type]
    (NewAccount("ann", PASSWORD, status="away"), "status"),  # type: ignore[arg-type]
    (NewAccount("ann", PASSWORD, display_name=""), "display_name"),
    (NewAccount("ann", PASSWORD, reception_limit=0), "reception_limit"),
    (NewAccount("ann", PASSWORD, reception_limit=51), "reception_limit"),
    (NewAccount("ann", PASSWORD, role=Role.LEADER), "group_id"),
]


async def test_acct_2_bad_accounts_are_refused_and_nothing_is_stored(ctx: Context) -> None:
    shop = await create_shop(ctx, name="Shop", manager_name="Boss")
    group_id = await create_group(ctx, shop_id=shop.id, name="g0")
    fine = NewAccount("fine", PASSWORD, group_id=group_id)
    cases = [
        *BAD_ACCOUNTS,
        (NewAccount("boss", PASSWORD, role=Role.OWNER, group_id=group_id), "group_id"),
    ]
    for bad, field in cases:
        with pytest.raises(errors.BadInput) as refused:
            await create_accounts(ctx, shop_id=shop.id, accounts=[fine, bad])
        assert refused.value.params["field"] == field, bad
    assert await _accounts(ctx, shop.id) == []


async def test_acct_2_bad_shops_and_groups_are_refused_and_nothing_is_stored(
    ctx: Context,
) -> None:
    bad_shops = [
        ("", "Boss", "name"),
        ("x" * 101, "Boss", "name"),
        ("Shop", "", "manager_name"),
        ("Shop", "x" * 51, "manager_name"),
    ]
    for name, manager_name, field in bad_shops:
        with pytest.raises(errors.BadInput) as refused:
            await create_shop(ctx, name=name, manager_name=manager_name)
        assert refused.value.params["field"] == field
    with pytest.raises(errors.BadInput):
        await create_shop(ctx, name="Shop", manager_name="Boss", secret="")
    shop = await create_shop(ctx, name="Shop", manager_name="Boss")
    assert shop.id == 1  # the refused shops took no row
    for group_name, entries, field in [("", [], "name"), ("g0", ["shelf"], "entries")]:
        with pytest.raises(errors.BadInput) as refused:
            await create_group(ctx, shop_id=shop.id, name=group_name, entries=entries)
        assert refused.value.params["field"] == field
    async with ctx.db.read() as tx:
        assert await shop_store.groups(tx.conn, shop.id) == []


async def test_acct_1_usernames_are_unique_per_shop(ctx: Context) -> None:
    a = await create_shop(ctx, name="A", manager_name="Boss")
    b = await create_shop(ctx, name="B", manager_name="Boss")
    await create_account(ctx, shop_id=a.id, username="ann", password=PASSWORD)
    await create_account(ctx, shop_id=b.id, username="ann", password=PASSWORD)  # other shop

    with pytest.raises(errors.Conflict) as taken:
        await create_accounts(
            ctx,
            shop_id=a.id,
            accounts=[NewAccount("bob", PASSWORD), NewAccount("ann", PASSWORD)],
        )
    assert taken.value.code == "account.username_taken"
    assert taken.value.params["usernames"] == ["ann"]
    with pytest.raises(errors.BadInput) as twice:
        await create_accounts(
            ctx,
            shop_id=a.id,
            accounts=[NewAccount("cat", PASSWORD), NewAccount("cat", PASSWORD)],
        )
    assert twice.value.params["usernames"] == ["cat"]
    assert [v.username for v in await _accounts(ctx, a.id)] == ["ann"]


async def test_acct_1_a_shop_has_one_main_account_named_after_its_manager(ctx: Context) -> None:
    shop = await create_shop(ctx, name="Shop", manager_name="Boss")
    owner = NewAccount("owner", PASSWORD, role=Role.OWNER)
    with pytest.raises(errors.BadInput):
        await create_accounts(ctx, shop_id=shop.id, accounts=[owner, replace(owner, username="o2")])
    with pytest.raises(errors.RuleViolation):
        await create_accounts(ctx, shop_id=shop.id, accounts=[replace(owner, display_name="Bo")])
    assert await _accounts(ctx, shop.id) == []

    await create_accounts(ctx, shop_id=shop.id, accounts=[replace(owner, display_name="Boss")])
    with pytest.raises(errors.Conflict) as second:
        await create_account(
            ctx, shop_id=shop.id, username="deputy", password=PASSWORD, role=Role.OWNER
        )
    assert second.value.code == "account.owner_taken"
    assert [(v.username, v.display_name) for v in await _accounts(ctx, shop.id)] == [
        ("owner", "Boss")
    ]


async def test_acct_5_another_shops_group_is_not_found(ctx: Context) -> None:
    a = await create_shop(ctx, name="A", manager_name="Boss")
    b = await create_shop(ctx, name="B", manager_name="Boss")
    theirs = await create_group(ctx, shop_id=b.id, name="g0")
    ours = await create_group(ctx, shop_id=a.id, name="g0")  # group names are per shop

    batch = [
        NewAccount("ann", PASSWORD, group_id=ours),
        NewAccount("bob", PASSWORD),
        NewAccount("cat", PASSWORD, group_id=theirs),
    ]
    with pytest.raises(errors.NotFound) as refused:
        await create_accounts(ctx, shop_id=a.id, accounts=batch)
    assert refused.value.params == {"kind": "group", "id": theirs}
    assert await _accounts(ctx, a.id) == []
    with pytest.raises(errors.Conflict) as taken:
        await create_group(ctx, shop_id=a.id, name="g0")
    assert taken.value.code == "group.name_taken"


async def test_acct_5_nothing_is_created_in_a_missing_shop(ctx: Context) -> None:
    missing = ShopId(404)
    with pytest.raises(errors.NotFound) as no_shop:
        await create_group(ctx, shop_id=missing, name="g0")
    assert no_shop.value.params == {"kind": "shop", "id": missing}
    with pytest.raises(errors.NotFound):
        await create_account(ctx, shop_id=missing, username="ann", password=PASSWORD)


async def test_acct_1_a_batch_is_one_insert_with_ids_in_order(ctx: Context) -> None:
    shop = await create_shop(ctx, name="Shop", manager_name="Boss")
    group_ids = [await create_group(ctx, shop_id=shop.id, name=f"g{i}") for i in range(3)]
    wanted = [
        NewAccount(f"agent{i}", PASSWORD, group_id=group_ids[i % 3], reception_limit=1 + i % 50)
        for i in range(120)
    ]
    ids = await create_accounts(ctx, shop_id=shop.id, accounts=wanted)
    stored = {v.id: v for v in await _accounts(ctx, shop.id)}
    assert [(stored[i].username, stored[i].group_id) for i in ids] == [
        (a.username, a.group_id) for a in wanted
    ]
    assert {v.display_name for v in stored.values()} == {a.username for a in wanted}
    assert await create_accounts(ctx, shop_id=shop.id, accounts=[]) == []


async def test_acct_1_concurrent_creations_of_one_username_store_one(ctx: Context) -> None:
    shop = await create_shop(ctx, name="Shop", manager_name="Boss")
    outcomes = await asyncio.gather(
        *(
            create_account(ctx, shop_id=shop.id, username="ann", password=PASSWORD)
            for _ in range(4)
        ),
        return_exceptions=True,
    )
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(refused) == 3
    assert all(isinstance(o, errors.Conflict) for o in refused), refused
    assert [v.username for v in await _accounts(ctx, shop.id)] == ["ann"]
