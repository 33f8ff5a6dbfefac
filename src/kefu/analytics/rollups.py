"""Rollups of the analytics (DATA-1, DATA-2, DATA-3), as pure rules over metrics.Tally.

A conversation adds its part to the rollups: the shop's tally of it (agent SHOP) and one tally
per credited agent, all in the hour bucket it started in. The figures of a period are the sum
of the buckets of its days, which equals metrics.py over the raw facts because a tally is
additive and each part is computed by that same code. A part changes when the conversation's
facts change (the conversation is marked dirty and refolded) or with time alone (`stale_at`,
from metrics.valid_until): until refolded, a reader replaces the part by the raw tally.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from kefu.analytics.metrics import ConversationFacts, Tally, tally, valid_until
from kefu.analytics.periods import local_day

SHOP = 0  # the agent id of the shop's own part and rollups
ZERO = Tally()


@dataclass(frozen=True, slots=True)
class Part:
    """What one conversation adds to the rollups of `agent_id` (SHOP: the shop) at `bucket`."""

    conversation_id: int
    agent_id: int
    bucket: datetime
    tally: Tally
    stale_at: datetime | None = None


Key = tuple[int, datetime]  # (agent id, bucket)


def hour_bucket(at: datetime, tz: ZoneInfo) -> datetime:
    """The UTC start of the local hour holding `at` (a UTC hour where the offset is whole)."""
    local = at.astimezone(tz)
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def parts_of(facts: ConversationFacts, *, tz: ZoneInfo, now: datetime) -> list[Part]:
    """The conversation's part for the shop and for each agent credited with it (CONV-7, CONV-8),
    as metrics.shop_figures, assessment and agent_figures count it at `now`."""
    bucket = hour_bucket(facts.started_at, tz)
    stale_at = valid_until(facts, tz=tz, now=now)
    found = [Part(facts.conversation_id, SHOP, bucket, tally([facts], tz=tz, now=now), stale_at)]
    for agent_id in sorted(facts.credited_agents):
        mine = tally([facts], tz=tz, now=now, agent_id=agent_id)
        found.append(Part(facts.conversation_id, agent_id, bucket, mine, stale_at))
    return found


def deltas(old: Iterable[Part], new: Iterable[Part]) -> dict[Key, Tally]:
    """What to add to each rollup to replace the `old` parts by the `new` (zero sums dropped)."""
    changes: dict[Key, Tally] = defaultdict(Tally)
    for part in new:
        changes[part.agent_id, part.bucket] += part.tally
    for part in old:
        changes[part.agent_id, part.bucket] -= part.tally
    return {key: change for key, change in changes.items() if change != ZERO}


def by_day(rollups: Mapping[Key, Tally], tz: ZoneInfo, agent_id: int = SHOP) -> dict[date, Tally]:
    """The rollups of `agent_id` summed per local day."""
    days: dict[date, Tally] = defaultdict(Tally)
    for (agent, bucket), counts in rollups.items():
        if agent == agent_id:
            days[local_day(bucket, tz)] += counts
    return dict(days)


def by_agent(rollups: Mapping[Key, Tally]) -> dict[int, Tally]:
    """The rollups summed per agent (SHOP included)."""
    agents: dict[int, Tally] = defaultdict(Tally)
    for (agent, _), counts in rollups.items():
        agents[agent] += counts
    return dict(agents)


def corrected(
    rollups: Mapping[Key, Tally], stored: Iterable[Part], fresh: Iterable[Part]
) -> dict[Key, Tally]:
    """The rollups with the `stored` parts of dirty or stale conversations replaced by their
    `fresh` parts, computed now from the raw facts."""
    result: dict[Key, Tally] = defaultdict(Tally, rollups)
    for key, change in deltas(stored, fresh).items():
        result[key] += change
    return dict(result)
