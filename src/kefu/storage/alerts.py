"""What alerts read and write (LIVE-2): the rules, the alerts raised (at most one per rule
and period: a unique key), each shop's next evaluation (claimed by one process), and the few
live figures the alerts' own provider computes until the live view supplies them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.storage import tables as t
from kefu.supervision.alerts_domain import AlertRule, Comparison, RuleScope

_r = t.alert_rules.c
_e = t.alert_events.c
_s = t.alert_schedules.c
_c = t.conversations.c
_m = t.messages.c


# --- rules ----------------------------------------------------------------------------------


def _rule(row: Any) -> AlertRule:
    return AlertRule(
        id=row.id,
        scope=RuleScope(row.scope),
        group_id=row.group_id,
        metric=row.metric,
        comparison=Comparison(row.comparison),
        threshold=float(row.threshold),
        enabled=bool(row.enabled),
        recipients=tuple(int(a) for a in row.recipients or ()),
    )


_RULE = (_r.id, _r.scope, _r.group_id, _r.metric, _r.comparison, _r.threshold, _r.enabled)


async def rules(conn: AsyncConnection, shop_id: int) -> list[AlertRule]:
    """The shop's rules, shop rules first, then by group and id."""
    rows = await conn.execute(
        select(*_RULE, _r.recipients)
        .where(_r.shop_id == shop_id)
        .order_by(_r.group_id.is_not(None), _r.group_id, _r.id)
    )
    return [_rule(r) for r in rows]


async def rule(conn: AsyncConnection, shop_id: int, rule_id: int) -> AlertRule | None:
    row = (
        await conn.execute(
            select(*_RULE, _r.recipients).where(_r.shop_id == shop_id, _r.id == rule_id)
        )
    ).first()
    return _rule(row) if row is not None else None


async def rule_count(conn: AsyncConnection, shop_id: int) -> int:
    return int(await conn.scalar(select(func.count()).where(_r.shop_id == shop_id)) or 0)


def _rule_values(rule: AlertRule, now: datetime) -> dict[str, Any]:
    return {
        "scope": str(rule.scope),
        "group_id": rule.group_id,
        "metric": rule.metric,
        "comparison": str(rule.comparison),
        "threshold": rule.threshold,
        "enabled": rule.enabled,
        "recipients": list(rule.recipients),
        "updated_at": now,
    }


async def add_rule(conn: AsyncConnection, shop_id: int, rule: AlertRule, now: datetime) -> int:
    result = await conn.execute(
        insert(t.alert_rules).values(shop_id=shop_id, **_rule_values(rule, now)).returning(_r.id)
    )
    return int(result.scalar_one())


async def save_rule(conn: AsyncConnection, shop_id: int, rule: AlertRule, now: datetime) -> None:
    await conn.execute(
        update(t.alert_rules)
        .where(_r.shop_id == shop_id, _r.id == rule.id)
        .values(**_rule_values(rule, now))
    )


async def delete_rule(conn: AsyncConnection, shop_id: int, rule_id: int) -> None:
    await conn.execute(delete(t.alert_rules).where(_r.shop_id == shop_id, _r.id == rule_id))


# --- schedule -------------------------------------------------------------------------------


async def ensure_schedule(conn: AsyncConnection, shop_id: int, next_at: datetime) -> None:
    """The shop's evaluations start (at `next_at`) unless already scheduled."""
    make = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    await conn.execute(
        make(t.alert_schedules).values(shop_id=shop_id, next_at=next_at).on_conflict_do_nothing()
    )


async def due_shops(conn: AsyncConnection, now: datetime, *, limit: int) -> list[int]:
    """Shops whose evaluation is due; a hint, each is claimed before use."""
    rows = await conn.scalars(
        select(_s.shop_id).where(_s.next_at <= now).order_by(_s.next_at).limit(limit)
    )
    return list(rows)


async def claim_schedule(conn: AsyncConnection, shop_id: int, now: datetime) -> bool:
    """Whether the shop's evaluation is still due and no other process holds it; the row
    stays locked until commit (FOR UPDATE SKIP LOCKED; SQLite's single writer)."""
    query = select(_s.shop_id).where(_s.shop_id == shop_id, _s.next_at <= now)
    if conn.dialect.name != "sqlite":
        query = query.with_for_update(skip_locked=True)
    return (await conn.execute(query)).first() is not None


async def reschedule(conn: AsyncConnection, shop_id: int, next_at: datetime) -> None:
    await conn.execute(
        update(t.alert_schedules).where(_s.shop_id == shop_id).values(next_at=next_at)
    )


async def next_evaluation(conn: AsyncConnection, shop_id: int) -> datetime | None:
    value = await conn.scalar(select(_s.next_at).where(_s.shop_id == shop_id))
    return value if isinstance(value, datetime) else None


# --- alerts raised --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertRecord:
    id: int
    rule_id: int
    period_at: datetime
    scope: str
    group_id: int | None
    metric: str
    comparison: str
    threshold: float
    hits: list[dict[str, Any]]
    recipients: list[int]
    suppressed: bool
    created_at: datetime


_ALERT = (
    _e.id,
    _e.rule_id,
    _e.period_at,
    _e.scope,
    _e.group_id,
    _e.metric,
    _e.comparison,
    _e.threshold,
    _e.hits,
    _e.recipients,
    _e.suppressed,
    _e.created_at,
)


async def add_alert(
    conn: AsyncConnection,
    shop_id: int,
    *,
    rule: AlertRule,
    period_at: datetime,
    hits: Sequence[dict[str, Any]],
    suppressed: bool,
    now: datetime,
) -> int | None:
    """Record an alert; None when the rule already alerted in this period (the unique key)."""
    make = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    result = await conn.execute(
        make(t.alert_events)
        .values(
            shop_id=shop_id,
            rule_id=rule.id,
            period_at=period_at,
            scope=str(rule.scope),
            group_id=rule.group_id,
            metric=rule.metric,
            comparison=str(rule.comparison),
            threshold=rule.threshold,
            hits=list(hits),
            recipients=list(rule.recipients),
            suppressed=suppressed,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["rule_id", "period_at"])
        .returning(_e.id)
    )
    found = result.scalar_one_or_none()
    return int(found) if found is not None else None


async def alerts_page(
    conn: AsyncConnection, shop_id: int, *, page: int, page_size: int
) -> tuple[list[AlertRecord], int]:
    """The shop's alerts, latest first, and how many there are."""
    total = await conn.scalar(select(func.count()).where(_e.shop_id == shop_id))
    rows = await conn.execute(
        select(*_ALERT)
        .where(_e.shop_id == shop_id)
        .order_by(_e.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    return [AlertRecord(**r._asdict()) for r in rows], int(total or 0)
