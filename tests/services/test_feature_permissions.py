"""ACCT-6: permissions per feature area. The owner grants and revokes them per sub-account, a
sub-account asks for one it lacks and the owner approves or declines; every change is audited,
and `require_permission` guards the features that need one, on a real database."""

from __future__ import annotations

import pytest

from kefu import errors
from kefu.clock import FakeClock
from kefu.domain.permissions import ROLE_DEFAULTS, Feature, effective, grants_for
from kefu.domain.presence import Role
from kefu.services import accounts, audit, greetings, permissions, shops
from kefu.services.context import Context, Staff
from kefu.services.permissions import require_permission
from support import PASSWORD, AgentSpec, ShopIds, make_shop


async def _shop(ctx: Context) -> ShopIds:
    assert isinstance(ctx.clock, FakeClock)
    return await make_shop(
        ctx.db,
        clock=ctx.clock,
        agents=[
            AgentSpec("sup", group=None, role="supervisor"),
            AgentSpec("lead", group=0, role="leader"),
            AgentSpec("a0", group=0),
        ],
    )


async def _as(ctx: Context, shop: ShopIds, username: str) -> Staff:
    result = await accounts.login(
        ctx, shop_id=shop.shop_id, username=username, password=PASSWORD, take_over=True
    )
    return await accounts.authenticate(ctx, result.session_id)


async def _again(ctx: Context, staff: Staff) -> Staff:
    """The same session on its next request: features are read with the session."""
    return await accounts.authenticate(ctx, staff.session_id)


def test_acct_6_role_defaults_and_grants_round_trip() -> None:
    assert effective(Role.OWNER, {Feature.SETTINGS: False}) == frozenset(Feature)
    assert effective(Role.AGENT, {}) == {Feature.WORKBENCH}
    assert Feature.SETTINGS not in ROLE_DEFAULTS[Role.SUPERVISOR]
    for role in (Role.SUPERVISOR, Role.LEADER, Role.AGENT):
        for wanted in (frozenset(), frozenset({Feature.ANALYTICS}), frozenset(Feature)):
            stored = grants_for(role, wanted)
            assert effective(role, stored) == wanted
            assert all((f in ROLE_DEFAULTS[role]) != on for f, on in stored.items())


async def test_acct_6_owner_grants_and_revokes_features_and_the_guard_follows(
    ctx: Context,
) -> None:
    shop = await _shop(ctx)
    owner = await _as(ctx, shop, "owner")
    sup = await _as(ctx, shop, "sup")
    a0 = await _as(ctx, shop, "a0")
    require_permission(owner, Feature.SETTINGS)  # the owner always has every feature
    require_permission(a0, Feature.WORKBENCH)
    with pytest.raises(errors.Forbidden) as refused:
        require_permission(a0, Feature.ANALYTICS)
    assert refused.value.code == "forbidden"
    assert refused.value.params["feature"] == "analytics"

    # Without the settings feature a supervisor cannot change the shop's settings (SET-1).
    with pytest.raises(errors.Forbidden):
        await shops.update_settings(ctx, sup, {"welcome_message": "Hi"})

    wanted = frozenset({Feature.WORKBENCH, Feature.SETTINGS})
    changed = await permissions.set_permissions(ctx, owner, sup.account_id, wanted)
    assert changed.features == ["workbench", "settings"]
    sup = await _again(ctx, sup)
    assert sup.features == wanted
    updated = await shops.update_settings(ctx, sup, {"welcome_message": "Hi"})
    assert updated.welcome_message == "Hi"
    await greetings.put_greetings(ctx, sup, [])
    with pytest.raises(errors.Forbidden):  # monitoring was revoked
        require_permission(sup, Feature.MONITORING)

    await permissions.set_permissions(ctx, owner, sup.account_id, frozenset())
    sup = await _again(ctx, sup)
    with pytest.raises(errors.Forbidden):
        await shops.update_settings(ctx, sup, {"welcome_message": "Bye"})

    listed = {p.account_id: p for p in await permissions.list_permissions(ctx, owner)}
    assert listed[sup.account_id].features == []
    assert listed[owner.account_id].features == [str(f) for f in Feature]
    assert listed[a0.account_id].features == ["workbench"]
    own = await permissions.list_permissions(ctx, a0)
    assert [p.account_id for p in own] == [a0.account_id]

    items, _ = await audit.audit_page(ctx, owner, before=None, limit=10)
    changes = [(i.action, i.target_id, i.details) for i in items if i.action == "permission.set"]
    assert changes == [
        ("permission.set", sup.account_id, {"granted": [], "revoked": ["workbench", "settings"]}),
        (
            "permission.set",
            sup.account_id,
            {"granted": ["settings"], "revoked": ["monitoring", "analytics", "quality"]},
        ),
    ]


async def test_acct_6_only_the_owner_changes_permissions_and_not_the_owners(
    ctx: Context,
) -> None:
    shop = await _shop(ctx)
    owner = await _as(ctx, shop, "owner")
    sup = await _as(ctx, shop, "sup")
    a0 = await _as(ctx, shop, "a0")
    with pytest.raises(errors.Forbidden):
        await permissions.set_permissions(ctx, sup, a0.account_id, frozenset(Feature))
    with pytest.raises(errors.RuleViolation) as fixed:
        await permissions.set_permissions(ctx, owner, owner.account_id, frozenset())
    assert fixed.value.code == "permission.owner_has_all"
    other = await make_shop(ctx.db, clock=ctx.clock, agents=[AgentSpec("x")])  # type: ignore[arg-type]
    with pytest.raises(errors.NotFound):  # ACCT-5: another shop's account
        await permissions.set_permissions(ctx, owner, other.accounts["x"], frozenset())


async def test_acct_6_a_sub_account_requests_a_feature_and_the_owner_approves_or_declines(
    ctx: Context,
) -> None:
    shop = await _shop(ctx)
    owner = await _as(ctx, shop, "owner")
    a0 = await _as(ctx, shop, "a0")
    lead = await _as(ctx, shop, "lead")

    asked = await permissions.request_permission(ctx, a0, Feature.ANALYTICS, "  weekly report ")
    assert (asked.status, asked.feature, asked.note) == ("pending", "analytics", "weekly report")
    with pytest.raises(errors.Conflict) as twice:
        await permissions.request_permission(ctx, a0, Feature.ANALYTICS)
    assert twice.value.code == "permission.already_requested"
    with pytest.raises(errors.Conflict) as has:
        await permissions.request_permission(ctx, a0, Feature.WORKBENCH)
    assert has.value.code == "permission.already_granted"
    with pytest.raises(errors.BadInput):
        await permissions.request_permission(ctx, a0, Feature.QUALITY, "x" * 201)
    declined_one = await permissions.request_permission(ctx, lead, Feature.SETTINGS)

    # Sub-accounts see their own requests only, and cannot answer them.
    assert [r.id for r in await permissions.list_requests(ctx, a0)] == [asked.id]
    assert {r.id for r in await permissions.list_requests(ctx, owner)} == {
        asked.id,
        declined_one.id,
    }
    with pytest.raises(errors.Forbidden):
        await permissions.decide_request(ctx, lead, asked.id, approve=True)

    approved = await permissions.decide_request(ctx, owner, asked.id, approve=True)
    assert (approved.status, approved.decided_by) == ("approved", owner.account_id)
    require_permission(await _again(ctx, a0), Feature.ANALYTICS)
    with pytest.raises(errors.Conflict) as again:
        await permissions.decide_request(ctx, owner, asked.id, approve=False)
    assert again.value.code == "permission.request_decided"

    declined = await permissions.decide_request(ctx, owner, declined_one.id, approve=False)
    assert declined.status == "declined"
    with pytest.raises(errors.Forbidden):
        require_permission(await _again(ctx, lead), Feature.SETTINGS)
    # Declined, the feature may be asked for again.
    retry = await permissions.request_permission(ctx, lead, Feature.SETTINGS)
    # A grant by the owner answers the pending request too.
    await permissions.set_permissions(
        ctx, owner, lead.account_id, frozenset({Feature.WORKBENCH, Feature.SETTINGS})
    )
    (closed,) = [r for r in await permissions.list_requests(ctx, lead) if r.id == retry.id]
    assert closed.status == "approved"

    items, _ = await audit.audit_page(ctx, owner, before=None, limit=20)
    actions = [i.action for i in items if i.action.startswith("permission.")]
    assert actions == [
        "permission.set",
        "permission.request",
        "permission.decline",
        "permission.approve",
        "permission.request",
        "permission.request",
    ]


async def test_acct_6_analytics_and_quality_follow_the_feature_not_only_the_role(
    ctx: Context,
) -> None:
    """The figures, sales attribution and inspection ask for their feature area: a leader
    reaches their group's by default, and the owner's revocation closes them for anyone."""
    from kefu.analytics import list_service
    from kefu.analytics import service as analytics
    from kefu.analytics.periods import PeriodKind
    from kefu.quality import service as quality

    shop = await _shop(ctx)
    owner = await _as(ctx, shop, "owner")
    sup = await _as(ctx, shop, "sup")
    lead = await _as(ctx, shop, "lead")
    await analytics.dashboard(ctx, sup, kind=PeriodKind.DAY)
    await list_service.sales_view(ctx, sup)
    await analytics.agent_analysis(ctx, lead, kind=PeriodKind.DAY)
    await quality.rules_view(ctx, lead)

    await permissions.set_permissions(ctx, owner, sup.account_id, frozenset({Feature.QUALITY}))
    await permissions.set_permissions(ctx, owner, lead.account_id, frozenset({Feature.WORKBENCH}))
    sup, lead = await _again(ctx, sup), await _again(ctx, lead)
    refusals = [
        (analytics.dashboard(ctx, sup, kind=PeriodKind.DAY), "analytics"),
        (analytics.agent_analysis(ctx, sup, kind=PeriodKind.DAY), "analytics"),
        (analytics.targets_view(ctx, sup), "analytics"),
        (list_service.sales_view(ctx, sup), "analytics"),
        (analytics.agent_analysis(ctx, lead, kind=PeriodKind.DAY), "analytics"),
        (quality.rules_view(ctx, lead), "quality"),
    ]
    for call, feature in refusals:
        with pytest.raises(errors.Forbidden) as refused:
            await call
        assert refused.value.params["feature"] == feature
    await quality.rules_view(ctx, sup)  # the one area the supervisor kept
    await analytics.dashboard(ctx, owner, kind=PeriodKind.DAY)  # the owner has every area


async def test_acct_6_an_agent_without_the_workbench_is_not_routed_to(ctx: Context) -> None:
    """Revoking the workbench takes an agent out of routing (like the IM permission, ACCT-3);
    granting it back puts them in again."""
    from sqlalchemy import update

    from kefu.services import conversations
    from kefu.services.accounts import start_consumer_session
    from kefu.services.context import ConsumerActor
    from kefu.storage import tables as t

    shop = await _shop(ctx)
    owner = await _as(ctx, shop, "owner")
    a0 = await _as(ctx, shop, "a0")
    async with ctx.db.uow() as tx:  # a0 is the group's only agent online
        await tx.conn.execute(
            update(t.accounts).where(t.accounts.c.shop_id == shop.shop_id).values(status="offline")
        )
        await tx.conn.execute(
            update(t.accounts).where(t.accounts.c.id == a0.account_id).values(status="online")
        )
        await tx.commit()

    async def ask() -> int | None:
        session = await start_consumer_session(ctx, shop_id=shop.shop_id, identity=None)
        consumer = ConsumerActor(session.consumer_id, shop.shop_id)
        return (await conversations.request_human(ctx, consumer)).agent_id

    await permissions.set_permissions(ctx, owner, a0.account_id, frozenset())
    assert await ask() is None
    await permissions.set_permissions(ctx, owner, a0.account_id, frozenset({Feature.WORKBENCH}))
    assert await ask() == a0.account_id
