"""Alerts (LIVE-2): the owner's rules, their evaluation every period by the scheduler (one
process per shop and period: a claimed schedule row, and at most one alert per rule and
period: a unique key), and delivery to the recipients' staff sockets (an `alert` frame) and,
once wired, to the shop's webhook. Reading rules and alerts is for owners and supervisors."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import structlog

from kefu import errors
from kefu.domain.permissions import Feature
from kefu.domain.presence import Role
from kefu.services.access import access_account, access_group
from kefu.services.context import Context, Staff, account_topic
from kefu.services.permissions import require_permission
from kefu.storage import alerts as store
from kefu.storage import shops as shop_store
from kefu.storage import webhooks as webhook_store
from kefu.storage.alerts import AlertRecord
from kefu.storage.db import Connection, UnitOfWork
from kefu.supervision import alerts_domain as rules_domain
from kefu.supervision import figures, live
from kefu.supervision.alerts_domain import (
    AgentGroups,
    AlertRule,
    Comparison,
    Firing,
    RuleScope,
    ScopedValues,
)

log = structlog.get_logger(__name__)
DUE_BATCH = 100


@dataclass(frozen=True, slots=True)
class RuleChange:
    """A rule as the owner writes it (LIVE-2)."""

    scope: RuleScope
    group_id: int | None
    metric: str
    comparison: Comparison
    threshold: float
    enabled: bool
    recipients: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RulesView:
    rules: list[AlertRule]
    interval_s: int
    next_evaluation_at: datetime | None


# --- rules ----------------------------------------------------------------------------------


async def list_rules(ctx: Context, staff: Staff) -> RulesView:
    """LIVE-2: the shop's alert rules, for its owner and supervisors."""
    _require_reader(staff)
    async with ctx.db.read() as tx:
        found = await store.rules(tx.conn, staff.shop_id)
        settings = await shop_store.shop_settings(tx.conn, staff.shop_id)
        next_at = await store.next_evaluation(tx.conn, staff.shop_id)
    return RulesView(found, settings.alert_interval_s, next_at)


async def add_rule(ctx: Context, staff: Staff, change: RuleChange) -> AlertRule:
    """LIVE-2, SET-1: the owner adds a rule; the shop's evaluations start with its first."""
    require_permission(staff, Feature.SETTINGS)
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        rule = await _checked(tx.conn, staff, 0, change)
        if await store.rule_count(tx.conn, staff.shop_id) >= rules_domain.MAX_RULES:
            raise errors.RuleViolation(
                "The shop has as many alert rules as it may.",
                code="alerts.too_many_rules",
                max=rules_domain.MAX_RULES,
            )
        rule_id = await store.add_rule(tx.conn, staff.shop_id, rule, now)
        await store.ensure_schedule(tx.conn, staff.shop_id, now)
        await tx.commit()
    return replace(rule, id=rule_id)


async def update_rule(ctx: Context, staff: Staff, rule_id: int, change: RuleChange) -> AlertRule:
    """LIVE-2, SET-1: the owner changes a rule (threshold, on/off, recipients…)."""
    require_permission(staff, Feature.SETTINGS)
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        await _access_rule(tx.conn, staff, rule_id)
        rule = await _checked(tx.conn, staff, rule_id, change)
        await store.save_rule(tx.conn, staff.shop_id, rule, now)
        await store.ensure_schedule(tx.conn, staff.shop_id, now)
        await tx.commit()
    return rule


async def delete_rule(ctx: Context, staff: Staff, rule_id: int) -> None:
    """LIVE-2, SET-1: the owner removes a rule; the alerts it raised stay in the history."""
    require_permission(staff, Feature.SETTINGS)
    async with ctx.db.uow() as tx:
        await _access_rule(tx.conn, staff, rule_id)
        await store.delete_rule(tx.conn, staff.shop_id, rule_id)
        await tx.commit()


async def list_alerts(
    ctx: Context, staff: Staff, *, page: int, page_size: int
) -> tuple[list[AlertRecord], int]:
    """LIVE-2: the shop's alert history, latest first, paged."""
    _require_reader(staff)
    async with ctx.db.read() as tx:
        return await store.alerts_page(tx.conn, staff.shop_id, page=page, page_size=page_size)


def _require_reader(staff: Staff) -> None:
    """LIVE-2: the shop's alerts are for its owner and supervisors with monitoring (ACCT-6)."""
    if staff.role not in (Role.OWNER, Role.SUPERVISOR):
        raise errors.Forbidden()
    require_permission(staff, Feature.MONITORING)


async def _access_rule(conn: Connection, staff: Staff, rule_id: int) -> AlertRule:
    found = await store.rule(conn, staff.shop_id, rule_id)
    if found is None:
        raise errors.NotFound(kind="alert_rule", id=rule_id)
    return found


async def _checked(conn: Connection, staff: Staff, rule_id: int, change: RuleChange) -> AlertRule:
    """The rule, its group and recipients checked to be the shop's (ACCT-5)."""
    recipients = rules_domain.check_rule(
        scope=change.scope,
        group_id=change.group_id,
        metric=change.metric,
        threshold=change.threshold,
        recipients=change.recipients,
    )
    if change.group_id is not None:
        await access_group(conn, staff, change.group_id)
    for account_id in recipients:
        await access_account(conn, staff, account_id)
    return AlertRule(
        id=rule_id,
        scope=change.scope,
        group_id=change.group_id,
        metric=change.metric,
        comparison=change.comparison,
        threshold=change.threshold,
        enabled=change.enabled,
        recipients=recipients,
    )


# --- evaluation -----------------------------------------------------------------------------


async def evaluate_due(ctx: Context) -> int:
    """LIVE-2, run by the scheduler each tick: evaluate every shop whose period is due.
    Returns how many alerts were sent."""
    now = ctx.clock.now()
    async with ctx.db.read() as tx:
        shop_ids = await store.due_shops(tx.conn, now, limit=DUE_BATCH)
    sent = 0
    for shop_id in shop_ids:
        sent += len(await evaluate_shop(ctx, shop_id))
    return sent


async def evaluate_shop(ctx: Context, shop_id: int) -> list[dict[str, Any]]:
    """LIVE-2: one evaluation of the shop's rules, by the one process that claims its due
    schedule row; records each broken rule once per period and sends the alerts that a
    simultaneous shop alert does not suppress. Returns the alerts sent.

    The claim commits before the figures are read, so no lock is held meanwhile (SQLite's
    is the whole database's); a process dying in between loses this period's evaluation,
    and the unique key keeps a rule to one alert per period whatever happens."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        if not await store.claim_schedule(tx.conn, shop_id, now):
            return []  # another process has it, or did it already
        interval_s = (await shop_store.shop_settings(tx.conn, shop_id)).alert_interval_s
        await store.reschedule(tx.conn, shop_id, rules_domain.next_evaluation(now, interval_s))
        rules = [r for r in await store.rules(tx.conn, shop_id) if r.enabled]
        await tx.commit()
    if not rules:
        return []
    values, agent_groups = await current_values(ctx, shop_id, now)
    period_at = rules_domain.period_start(now, interval_s)
    async with ctx.db.uow() as tx:
        sent = await _record(ctx, tx, shop_id, period_at, now, values, agent_groups, rules)
        await tx.commit()
    if sent:
        log.info("alerts sent", shop_id=shop_id, count=len(sent))
    return sent


async def _record(
    ctx: Context,
    tx: UnitOfWork,
    shop_id: int,
    period_at: datetime,
    now: datetime,
    values: ScopedValues,
    agent_groups: AgentGroups,
    rules: list[AlertRule],
) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    for firing in rules_domain.firings(rules, values, agent_groups):
        hits = [_hit_json(h.scope, h.value) for h in firing.hits]
        alert_id = await store.add_alert(
            tx.conn,
            shop_id,
            rule=firing.rule,
            period_at=period_at,
            hits=hits,
            suppressed=firing.suppressed,
            now=now,
        )
        if alert_id is None or firing.suppressed:
            continue  # raised already this period, or a shop alert speaks for it
        alert = _alert_json(alert_id, firing, hits, period_at, now)
        sent.append(alert)
        _deliver(ctx, tx, firing.rule.recipients, alert)
        await webhook_store.record_event(  # API-2: in the same transaction as the alert
            tx.conn, shop_id=shop_id, event="alert.raised", data=alert, now=now
        )
    return sent


def _deliver(
    ctx: Context, tx: UnitOfWork, recipients: tuple[int, ...], alert: dict[str, Any]
) -> None:
    """LIVE-2: an `alert` frame to each recipient's staff sockets, after commit."""
    frame = {"type": "alert", "alert": alert}

    async def publish() -> None:
        for account_id in recipients:
            await ctx.broker.publish(account_topic(account_id), frame)

    tx.on_commit(publish)


def _hit_json(scope: tuple[str, int | None], value: float) -> dict[str, Any]:
    kind, scope_id = scope
    return {"scope": kind, "id": scope_id, "value": value}


def _alert_json(
    alert_id: int, firing: Firing, hits: list[dict[str, Any]], period_at: datetime, now: datetime
) -> dict[str, Any]:
    rule = firing.rule
    return {
        "id": alert_id,
        "rule_id": rule.id,
        "scope": str(rule.scope),
        "group_id": rule.group_id,
        "metric": rule.metric,
        "comparison": str(rule.comparison),
        "threshold": rule.threshold,
        "hits": hits,
        "period_at": period_at,
        "created_at": now,
    }


# --- the figures ----------------------------------------------------------------------------


async def current_values(
    ctx: Context, shop_id: int, now: datetime
) -> tuple[ScopedValues, dict[int, frozenset[int]]]:
    """LIVE-2's figures are the live view's (LIVE-1): the scoped values and each agent's
    groups."""
    view = await live.live_view(ctx, shop_id, now=now)
    return figures.scoped_values(view), figures.agent_groups(view)
