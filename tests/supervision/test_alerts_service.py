"""LIVE-2 against a real database (SQLite and PostgreSQL): rules written by the owner and read
by supervisors, evaluation by the scheduler once per period (also with two processes on one
database), the shop alert suppressing the group's, and delivery to the recipients' topics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from kefu import errors
from kefu.broker.memory import MemoryBroker
from kefu.clock import FakeClock
from kefu.domain.presence import AgentStatus, Role
from kefu.domain.shop import ShopSettings
from kefu.scheduler.loop import Scheduler
from kefu.services import staff as staff_service
from kefu.services.context import Context, Staff, account_topic
from kefu.storage import alerts as store
from kefu.storage import tables as t
from kefu.storage import webhooks as webhook_store
from kefu.storage.db import Database
from kefu.supervision import alerts, live
from kefu.supervision.alerts import RuleChange
from kefu.supervision.alerts_domain import Comparison, RuleScope
from support import AgentSpec, ShopIds, make_shop, service_context

# 09:00:30 UTC: inside the 3-minute period that started at 09:00.
START_OFFSET = timedelta(seconds=30)


@pytest.fixture
async def ctx(db_url: str) -> AsyncIterator[Context]:
    db = Database(db_url)
    await db.create_all()
    clock = FakeClock()
    clock.advance(START_OFFSET)
    try:
        yield service_context(db, clock)
    finally:
        await db.dispose()


class Delivered:
    """What the broker publishes to account topics."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, topic: str, event: Any) -> None:
        self.frames.append((topic, event))


async def _delivered(ctx: Context, *account_ids: int) -> Delivered:
    delivered = Delivered()
    assert isinstance(ctx.broker, MemoryBroker)
    await ctx.broker.start(delivered)
    for account_id in account_ids:
        await ctx.broker.subscribe(account_topic(account_id))
    return delivered


async def _shop(ctx: Context, name: str = "S") -> ShopIds:
    assert isinstance(ctx.clock, FakeClock)
    return await make_shop(
        ctx.db,
        name=name,
        groups=2,
        agents=[
            AgentSpec("alice", group=0),
            AgentSpec("bob", group=1, status="offline"),
            AgentSpec("sue", group=None, role="supervisor", status="offline"),
        ],
        clock=ctx.clock,
    )


def _staff(shop: ShopIds, name: str, role: Role) -> Staff:
    return Staff(account_id=shop.accounts[name], shop_id=shop.shop_id, role=role, group_id=None)


def _owner(shop: ShopIds) -> Staff:
    return _staff(shop, "owner", Role.OWNER)


def _online_below(
    threshold: float, *, group_id: int | None = None, recipients: tuple[int, ...] = ()
) -> RuleChange:
    return RuleChange(
        scope=RuleScope.SHOP if group_id is None else RuleScope.GROUP,
        group_id=group_id,
        metric="online",
        comparison=Comparison.LT,
        threshold=threshold,
        enabled=True,
        recipients=recipients,
    )


async def _history(ctx: Context, shop: ShopIds) -> list[Any]:
    items, total = await alerts.list_alerts(ctx, _owner(shop), page=1, page_size=100)
    assert total == len(items)
    return items


async def test_live_2_scheduler_evaluates_each_period_once(ctx: Context) -> None:
    shop = await _shop(ctx)
    owner = shop.accounts["owner"]
    delivered = await _delivered(ctx, owner)
    g1 = shop.group_ids[1]
    await alerts.add_rule(ctx, _owner(shop), _online_below(1, group_id=g1, recipients=(owner,)))

    scheduler = Scheduler(ctx)
    await scheduler.tick()
    await scheduler.tick()  # same instant: not due again
    assert isinstance(ctx.clock, FakeClock)
    ctx.clock.advance(timedelta(seconds=60))
    await scheduler.tick()  # same period
    assert [(t, f["type"]) for t, f in delivered.frames] == [(account_topic(owner), "alert")]
    alert = delivered.frames[0][1]["alert"]
    assert alert["hits"] == [{"scope": "group", "id": g1, "value": 0.0}]
    assert alert["period_at"] == ctx.clock.now().replace(minute=0, second=0, microsecond=0)

    ctx.clock.advance(timedelta(seconds=90))  # 09:03:00, the next period
    await scheduler.tick()
    assert len(delivered.frames) == 2
    assert len(await _history(ctx, shop)) == 2


async def test_live_2_threshold_crossed_then_cleared_by_the_figures(ctx: Context) -> None:
    shop = await _shop(ctx)
    owner = shop.accounts["owner"]
    g1 = shop.group_ids[1]
    await alerts.add_rule(ctx, _owner(shop), _online_below(1, group_id=g1, recipients=(owner,)))
    assert len(await alerts.evaluate_shop(ctx, shop.shop_id)) == 1
    await _set_status(ctx, shop.accounts["bob"], AgentStatus.ONLINE)  # the group has someone
    assert isinstance(ctx.clock, FakeClock)
    ctx.clock.advance(timedelta(minutes=3))
    assert await alerts.evaluate_shop(ctx, shop.shop_id) == []
    assert len(await _history(ctx, shop)) == 1


async def _set_status(ctx: Context, account_id: int, status: AgentStatus) -> None:
    async with ctx.db.uow() as tx:
        await tx.conn.execute(
            update(t.accounts).where(t.accounts.c.id == account_id).values(status=status)
        )
        await tx.commit()


async def test_live_2_at_most_one_alert_per_rule_per_period(ctx: Context) -> None:
    shop = await _shop(ctx)
    await alerts.add_rule(ctx, _owner(shop), _online_below(5))
    assert len(await alerts.evaluate_shop(ctx, shop.shop_id)) == 1
    # Even should the schedule be due again within the period (an interval shortened, a
    # clock stepped back), the period's alert is not raised twice.
    async with ctx.db.uow() as tx:
        await store.reschedule(tx.conn, shop.shop_id, ctx.clock.now())
        await tx.commit()
    assert await alerts.evaluate_shop(ctx, shop.shop_id) == []
    assert len(await _history(ctx, shop)) == 1


async def test_live_2_shop_alert_suppresses_the_group_alert(ctx: Context) -> None:
    shop = await _shop(ctx)
    owner, sue = shop.accounts["owner"], shop.accounts["sue"]
    delivered = await _delivered(ctx, owner, sue)
    g1 = shop.group_ids[1]
    await alerts.add_rule(ctx, _owner(shop), _online_below(5, recipients=(owner,)))
    await alerts.add_rule(ctx, _owner(shop), _online_below(1, group_id=g1, recipients=(sue,)))
    sent = await alerts.evaluate_shop(ctx, shop.shop_id)
    assert [a["scope"] for a in sent] == ["shop"]
    assert [t for t, _ in delivered.frames] == [account_topic(owner)]
    history = await _history(ctx, shop)
    assert sorted((a.scope, a.suppressed) for a in history) == [
        ("group", True),
        ("shop", False),
    ]


async def test_live_2_group_rule_for_each_agent_alerts_per_agent(ctx: Context) -> None:
    shop = await _shop(ctx)
    change = RuleChange(
        scope=RuleScope.AGENT,
        group_id=shop.group_ids[0],
        metric="pending",
        comparison=Comparison.GE,
        threshold=0,
        enabled=True,
        recipients=(shop.accounts["owner"],),
    )
    await alerts.add_rule(ctx, _owner(shop), change)
    sent = await alerts.evaluate_shop(ctx, shop.shop_id)
    # alice is the group's one online agent, with nothing pending.
    assert [a["hits"] for a in sent] == [
        [{"scope": "agent", "id": shop.accounts["alice"], "value": 0.0}]
    ]


async def test_live_2_evaluated_once_by_two_processes_on_one_database(db_url: str) -> None:
    clock = FakeClock()
    clock.advance(START_OFFSET)
    first, second = Database(db_url), Database(db_url)
    await first.create_all()
    try:
        one, two = service_context(first, clock), service_context(second, clock)
        shop = await _shop(one)
        await alerts.add_rule(one, _owner(shop), _online_below(5))
        await alerts.add_rule(one, _owner(shop), _online_below(1, group_id=shop.group_ids[1]))
        for _ in range(3):
            counts = await asyncio.gather(
                Scheduler(one).tick(), Scheduler(two).tick(), alerts.evaluate_due(two)
            )
            assert len(counts) == 3
        history = await _history(one, shop)
        assert len(history) == 2  # one per rule, whoever evaluated
        clock.advance(timedelta(minutes=3))
        await asyncio.gather(alerts.evaluate_due(one), alerts.evaluate_due(two))
        assert len(await _history(one, shop)) == 4
    finally:
        await first.dispose()
        await second.dispose()


async def test_live_2_interval_is_a_shop_setting(ctx: Context) -> None:
    shop = await make_shop(ctx.db, settings=ShopSettings(alert_interval_s=600), clock=ctx.clock)
    await alerts.add_rule(ctx, _owner(shop), _online_below(5))
    await alerts.evaluate_due(ctx)
    view = await alerts.list_rules(ctx, _owner(shop))
    assert view.interval_s == 600
    assert view.next_evaluation_at == ctx.clock.now().replace(minute=10, second=0)
    with pytest.raises(ValueError, match="alert_interval_s"):
        ShopSettings(alert_interval_s=10)


async def test_live_2_rules_are_the_owners_supervisors_read(ctx: Context) -> None:
    shop = await _shop(ctx)
    sue = _staff(shop, "sue", Role.SUPERVISOR)
    alice = _staff(shop, "alice", Role.AGENT)
    rule = await alerts.add_rule(ctx, _owner(shop), _online_below(5))
    assert [r.id for r in (await alerts.list_rules(ctx, sue)).rules] == [rule.id]
    with pytest.raises(errors.Forbidden) as refused:
        await alerts.add_rule(ctx, sue, _online_below(5))
    assert refused.value.params["feature"] == "settings"
    with pytest.raises(errors.Forbidden):
        await alerts.update_rule(ctx, sue, rule.id, _online_below(3))
    with pytest.raises(errors.Forbidden):
        await alerts.list_rules(ctx, alice)
    with pytest.raises(errors.Forbidden):
        await alerts.list_alerts(ctx, alice, page=1, page_size=10)
    changed = await alerts.update_rule(ctx, _owner(shop), rule.id, _online_below(3))
    assert changed.threshold == 3
    await alerts.delete_rule(ctx, _owner(shop), rule.id)
    assert (await alerts.list_rules(ctx, sue)).rules == []


async def test_live_2_rules_name_only_the_shops_groups_and_accounts(ctx: Context) -> None:
    shop, other = await _shop(ctx, "A"), await _shop(ctx, "B")
    with pytest.raises(errors.NotFound):
        await alerts.add_rule(ctx, _owner(shop), _online_below(1, group_id=other.group_ids[0]))
    with pytest.raises(errors.NotFound):
        await alerts.add_rule(
            ctx, _owner(shop), _online_below(1, recipients=(other.accounts["owner"],))
        )
    theirs = await alerts.add_rule(ctx, _owner(other), _online_below(1))
    with pytest.raises(errors.NotFound):
        await alerts.update_rule(ctx, _owner(shop), theirs.id, _online_below(2))
    with pytest.raises(errors.NotFound):
        await alerts.delete_rule(ctx, _owner(shop), theirs.id)
    await alerts.evaluate_due(ctx)
    assert await _history(ctx, shop) == []
    assert await _history(ctx, other) == []  # alice is online: 1 is not below 1


async def test_live_2_recipients_limit_is_a_clear_error(ctx: Context) -> None:
    shop = await _shop(ctx)
    too_many = _online_below(1, recipients=tuple(range(1, 12)))
    with pytest.raises(errors.BadInput) as refused:
        await alerts.add_rule(ctx, _owner(shop), too_many)
    assert refused.value.code == "alerts.too_many_recipients"
    assert refused.value.params["max"] == 10


async def test_live_2_a_deleted_groups_rules_go_with_it(ctx: Context) -> None:
    shop = await make_shop(ctx.db, groups=2, clock=ctx.clock)
    await alerts.add_rule(ctx, _owner(shop), _online_below(1, group_id=shop.group_ids[1]))
    await staff_service.delete_group(ctx, _owner(shop), shop.group_ids[1])
    assert (await alerts.list_rules(ctx, _owner(shop))).rules == []


async def test_live_2_alert_marks_for_the_live_view(ctx: Context) -> None:
    """The alerts read the live view's figures (LIVE-1), and the live view shows what alerts
    in red, and the busy groups."""
    shop = await _shop(ctx)
    g0, g1 = shop.group_ids
    await alerts.add_rule(ctx, _owner(shop), _online_below(1, group_id=g1))
    values, _ = await alerts.current_values(ctx, shop.shop_id, ctx.clock.now())
    assert values[("group", g0)]["online"] == 1 and values[("group", g1)]["online"] == 0
    view = await live.live_view(ctx, shop.shop_id, now=ctx.clock.now())
    assert view.alerting == {("group", g1): frozenset({"online"})}
    assert view.busy_groups == frozenset({g1})  # g0 has no alert on: no status


async def test_live_2_api_2_an_alert_goes_out_as_a_webhook_in_its_transaction(
    ctx: Context,
) -> None:
    """LIVE-2: "Alerts reach recipients in the app and through a webhook": the alert's outbox
    row is written with the alert itself (API-2), once per alert."""
    shop = await _shop(ctx)
    owner = shop.accounts["owner"]
    g1 = shop.group_ids[1]
    async with ctx.db.uow() as tx:
        endpoint = await webhook_store.add_endpoint(
            tx.conn, shop.shop_id, url="https://1.1.1.1/hook", events=["alert.raised"],
            is_enabled=True, secret="whsec_test", now=ctx.clock.now(),
        )  # fmt: skip
        await tx.commit()
    await alerts.add_rule(ctx, _owner(shop), _online_below(1, group_id=g1, recipients=(owner,)))
    await Scheduler(ctx).tick()
    await Scheduler(ctx).tick()  # the same period: no second alert, no second event
    async with ctx.db.read() as tx:
        rows, total = await webhook_store.deliveries(
            tx.conn, shop.shop_id, endpoint.id, limit=10, offset=0
        )
    assert total == 1 and rows[0].event == "alert.raised"
