"""Quality inspection use cases (QA-1, QA-2): the owner's rule versions; inspections started
by owners, supervisors and group leaders (their own group) and advanced in bounded chunks by
whichever process claims them (jobs.py); reports per agent, hits with their context, and
false positives that stay excluded when the same range is inspected again."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from kefu import errors
from kefu.analytics.periods import PeriodKind, local_day, period_of
from kefu.domain.permissions import Feature
from kefu.domain.presence import Role
from kefu.quality.domain import (
    Rule,
    RuleVersion,
    check_rules,
    count_hits,
    next_applies_from,
    rule_from_json,
    rule_to_json,
    rules_in_force,
)
from kefu.services import audit
from kefu.services.access import (
    access_account,
    access_group,
    require_owner,
    require_supervising,
)
from kefu.services.context import Context, Staff
from kefu.services.permissions import require_permission
from kefu.storage import accounts as account_store
from kefu.storage import quality as store
from kefu.storage import shops as shop_store
from kefu.storage.db import Connection
from kefu.storage.quality import InspectionRecord

MAX_DAYS = 31
MAX_GROUPS = 50
MAX_PAGE = 100
LIST_LIMIT = 20
CONTEXT_BEFORE = 4
CONTEXT_AFTER = 4


def require_inspecting(staff: Staff) -> None:
    """QA-2: owners, supervisors and group leaders (for their own group) with the quality
    feature (ACCT-6) run inspections and review their hits."""
    require_supervising(staff)
    require_permission(staff, Feature.QUALITY)


# --- rules (QA-1) -----------------------------------------------------------------------------


async def rules_view(ctx: Context, staff: Staff) -> dict[str, Any]:
    """QA-1: the rules in force today and, when the owner changed them, those of tomorrow."""
    require_inspecting(staff)
    now = ctx.clock.now()
    async with ctx.db.read() as tx:
        tz = await shop_time_zone(tx.conn, staff.shop_id)
        versions = await shop_rule_versions(tx.conn, staff.shop_id)
    today = local_day(now, tz)
    tomorrow = next_applies_from(now, tz)
    current = rules_in_force(versions, today)
    upcoming = rules_in_force(versions, tomorrow)
    return {
        "today": today.isoformat(),
        "rules": [rule_to_json(r) for r in current],
        "next": (
            {"applies_from": tomorrow.isoformat(), "rules": [rule_to_json(r) for r in upcoming]}
            if upcoming != current
            else None
        ),
    }


async def save_rules(ctx: Context, staff: Staff, *, rules: Sequence[Rule]) -> dict[str, Any]:
    """QA-1, SET-1: the owner's rule set, in force from the next day in the shop's zone."""
    require_owner(staff)
    checked = check_rules(rules)
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        for group_id in {g for r in checked for g in r.group_ids}:
            await access_group(tx.conn, staff, group_id)
        tz = await shop_time_zone(tx.conn, staff.shop_id)
        applies_from = next_applies_from(now, tz)
        await store.put_rule_version(
            tx.conn,
            shop_id=staff.shop_id,
            applies_from=applies_from,
            rules=[rule_to_json(r) for r in checked],
            by=staff.account_id,
            at=now,
        )
        await audit.record(
            tx.conn,
            shop_id=staff.shop_id,
            actor=staff,
            action="quality.rules_saved",
            target=("shop", staff.shop_id),
            at=now,
            applies_from=applies_from.isoformat(),
            rules=len(checked),
        )
        await tx.commit()
    return await rules_view(ctx, staff)


async def shop_rule_versions(conn: Connection, shop_id: int) -> list[RuleVersion]:
    """QA-1: the shop's rule versions, by the day they apply from."""
    return [
        RuleVersion(v.applies_from, tuple(rule_from_json(r) for r in v.rules))
        for v in await store.rule_versions(conn, shop_id)
    ]


async def shop_time_zone(conn: Connection, shop_id: int) -> ZoneInfo:
    """The shop's days are in its time zone (QA-1 versions, QA-2 ranges)."""
    return ZoneInfo((await shop_store.shop_settings(conn, shop_id)).time_zone)


# --- inspections (QA-2) -----------------------------------------------------------------------


async def start_inspection(
    ctx: Context, staff: Staff, *, first: date, last: date, group_ids: Sequence[int]
) -> dict[str, Any]:
    """QA-2: a background inspection of the conversations started on local days first..last
    in these groups (none: every group; a leader: their own)."""
    require_inspecting(staff)
    groups = sorted(set(group_ids))
    if len(groups) > MAX_GROUPS:
        raise errors.BadInput("Too many groups.", field="group_ids", max=MAX_GROUPS)
    if staff.role is Role.LEADER:
        if staff.group_id is None or groups not in ([], [staff.group_id]):
            raise errors.Forbidden()
        groups = [staff.group_id]
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        for group_id in groups:
            await access_group(tx.conn, staff, group_id)
        tz = await shop_time_zone(tx.conn, staff.shop_id)
        period = period_of(
            PeriodKind.CUSTOM, tz=tz, today=local_day(now, tz), first=first, last=last,
            max_days=MAX_DAYS,
        )  # fmt: skip
        inspection_id = await store.create_inspection(
            tx.conn,
            shop_id=staff.shop_id,
            by=staff.account_id,
            at=now,
            first_day=period.first,
            last_day=period.last,
            starts_at=period.starts_at,
            ends_at=period.ends_at,
            group_ids=groups,
        )
        await tx.commit()
    return await inspection_view(ctx, staff, inspection_id)


async def inspections_view(ctx: Context, staff: Staff) -> dict[str, Any]:
    """QA-2: the latest inspections the caller may see, with their progress."""
    require_inspecting(staff)
    async with ctx.db.read() as tx:
        found = await store.inspections(tx.conn, staff.shop_id, limit=LIST_LIMIT)
    return {"items": [_job_view(j) for j in found if _may_see(staff, j)]}


async def inspection_view(ctx: Context, staff: Staff, inspection_id: int) -> dict[str, Any]:
    """QA-2: the inspection's progress and, per agent, each rule's hits without false
    positives (which are counted apart)."""
    require_inspecting(staff)
    async with ctx.db.read() as tx:
        job = await access_inspection(tx.conn, staff, inspection_id)
        counts = await store.hit_counts(tx.conn, staff.shop_id, job.id)
        names = await account_store.display_names(tx.conn, staff.shop_id)
        versions = await shop_rule_versions(tx.conn, staff.shop_id)
    per_agent = count_hits((c.agent_id, c.rule_key, c.is_false_positive, c.count) for c in counts)
    false_positives: dict[int, int] = {}
    for c in counts:
        if c.is_false_positive:
            false_positives[c.agent_id] = false_positives.get(c.agent_id, 0) + c.count
    agents = [
        {
            "agent_id": agent_id,
            "display_name": names.get(agent_id, ""),
            "hits": dict(sorted(rules.items())),
            "total": sum(rules.values()),
            "false_positives": false_positives.get(agent_id, 0),
        }
        for agent_id, rules in sorted(per_agent.items())
    ]
    return {
        **_job_view(job),
        "rules": _rules_seen(versions, job, {c.rule_key for c in counts}),
        "agents": agents,
    }


def _rules_seen(
    versions: Sequence[RuleVersion], job: InspectionRecord, hit_keys: set[str]
) -> list[dict[str, Any]]:
    """The rules of the range (those in force on its last day, and any other that hit)."""
    seen: dict[str, Rule] = {r.key: r for r in rules_in_force(versions, job.last_day)}
    for version in versions:
        for rule in version.rules:
            if rule.key in hit_keys and rule.key not in seen:
                seen[rule.key] = rule
    return [
        {"key": r.key, "kind": r.kind.value, "polarity": r.polarity.value, "name": r.name}
        for r in seen.values()
    ]


def _job_view(job: InspectionRecord) -> dict[str, Any]:
    return {
        "id": job.id,
        "state": job.state,
        "first": job.first_day.isoformat(),
        "last": job.last_day.isoformat(),
        "group_ids": job.group_ids,
        "total": job.total,
        "processed": job.processed,
        "created_by": job.created_by,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


def _may_see(staff: Staff, job: InspectionRecord) -> bool:
    """A group leader sees only the inspections of their own group."""
    return staff.role is not Role.LEADER or job.group_ids == [staff.group_id]


async def access_inspection(conn: Connection, staff: Staff, inspection_id: int) -> InspectionRecord:
    """ACCT-5: an inspection of the caller's shop (a leader: of their own group)."""
    job = await store.inspection(conn, staff.shop_id, inspection_id)
    if job is None or not _may_see(staff, job):
        raise errors.NotFound(kind="inspection", id=inspection_id)
    return job


async def hits_view(
    ctx: Context,
    staff: Staff,
    inspection_id: int,
    *,
    agent_id: int | None,
    rule_key: str | None,
    page: int,
    page_size: int,
) -> dict[str, Any]:
    """QA-2: one page of the inspection's hits, each with whether it is a false positive."""
    require_inspecting(staff)
    page_size = max(1, min(page_size, MAX_PAGE))
    async with ctx.db.read() as tx:
        job = await access_inspection(tx.conn, staff, inspection_id)
        if agent_id is not None:
            await access_account(tx.conn, staff, agent_id)
        rows, total = await store.hits(
            tx.conn,
            staff.shop_id,
            job.id,
            agent_id=agent_id,
            rule_key=rule_key,
            offset=(page - 1) * page_size,
            limit=page_size,
        )
    return {"items": [_hit_view(h) for h in rows], "total": total, "page": page}


def _hit_view(h: store.HitRow) -> dict[str, Any]:
    return {
        "id": h.id,
        "inspection_id": h.inspection_id,
        "conversation_id": h.conversation_id,
        "agent_id": h.agent_id,
        "rule_key": h.rule_key,
        "polarity": h.polarity,
        "seq": h.seq,
        "at": h.at,
        "is_false_positive": h.is_false_positive,
    }


async def access_hit(conn: Connection, staff: Staff, hit_id: int) -> store.HitRow:
    """ACCT-5: a hit of an inspection the caller may see."""
    found = await store.hit(conn, staff.shop_id, hit_id)
    if found is None:
        raise errors.NotFound(kind="hit", id=hit_id)
    job = await store.inspection(conn, staff.shop_id, found.inspection_id)
    if job is None or not _may_see(staff, job):
        raise errors.NotFound(kind="hit", id=hit_id)
    return found


async def hit_context(ctx: Context, staff: Staff, hit_id: int) -> dict[str, Any]:
    """QA-2: the hit with the messages around it (the conversation opened at that point)."""
    require_inspecting(staff)
    async with ctx.db.read() as tx:
        found = await access_hit(tx.conn, staff, hit_id)
        at = found.seq or 1
        lines = await store.context_lines(
            tx.conn,
            staff.shop_id,
            found.conversation_id,
            seqs=range(max(1, at - CONTEXT_BEFORE), at + CONTEXT_AFTER + 1),
        )
    return {
        "hit": _hit_view(found),
        "messages": [
            {
                "seq": m.seq,
                "sender": m.sender,
                "sender_id": m.sender_id,
                "kind": m.kind,
                "body": m.body,
                "created_at": m.at,
            }
            for m in lines
        ],
    }


async def mark_false_positive(
    ctx: Context, staff: Staff, hit_id: int, *, is_false_positive: bool
) -> dict[str, Any]:
    """QA-2: a reviewer marks (or unmarks) a hit as a false positive; the mark is kept by
    conversation, rule and message, so a re-run of the same range leaves it out too."""
    require_inspecting(staff)
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        found = await access_hit(tx.conn, staff, hit_id)
        await store.set_false_positive(
            tx.conn,
            found,
            shop_id=staff.shop_id,
            is_false_positive=is_false_positive,
            by=staff.account_id,
            at=now,
        )
        await tx.commit()
    return {**_hit_view(found), "is_false_positive": is_false_positive}
