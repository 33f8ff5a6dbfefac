"""DATA-1, DATA-2, DATA-3: the figures read from rollups equal metrics.py over the raw facts, on
generated traffic. Conversations are folded at some moment with part of their story (as the
scheduler sees them mid-way), some are refolded later with all of it, the others stay dirty;
the reader then corrects the rollups with the dirty and stale ones, at a later moment."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kefu.analytics.metrics import (
    ConversationFacts,
    Holding,
    Message,
    OfflineReason,
    Sender,
    Tally,
    agent_figures,
    assessment,
    shop_figures,
    tally,
)
from kefu.analytics.periods import local_day
from kefu.analytics.rollups import (
    SHOP,
    ZERO,
    Key,
    Part,
    by_agent,
    by_day,
    corrected,
    deltas,
    hour_bucket,
    parts_of,
)

ZONES = [ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")]
AGENTS = [11, 12, 13]
BASE = datetime(2026, 3, 7, 14, 0, tzinfo=UTC)  # a DST change in New York the next day


@st.composite
def conversation(draw: st.DrawFn, cid: int) -> ConversationFacts:
    started = BASE + timedelta(minutes=draw(st.integers(0, 3 * 24 * 60)))
    clock = started
    messages: list[Message] = []
    holdings: list[Holding] = []
    requested = None
    if draw(st.booleans()):
        clock += timedelta(seconds=draw(st.integers(0, 600)))
        requested = clock
    for _ in range(draw(st.integers(0, 8))):
        clock += timedelta(seconds=draw(st.integers(0, 20_000)))
        kind = draw(st.sampled_from(["consumer", "agent", "bot", "hold"]))
        if kind == "consumer":
            messages.append(Message(clock, Sender.CONSUMER))
        elif kind == "agent":
            messages.append(Message(clock, Sender.AGENT, draw(st.sampled_from(AGENTS))))
        elif kind == "bot":
            messages.append(Message(clock, Sender.BOT))
        elif requested is not None:
            holdings.append(Holding(draw(st.sampled_from(AGENTS)), clock))
    ended = clock + timedelta(seconds=1) if draw(st.booleans()) else None
    offline = draw(st.none() | st.sampled_from(list(OfflineReason))) if requested else None
    rated = draw(st.dictionaries(st.sampled_from(AGENTS), st.integers(1, 5), max_size=2))
    return ConversationFacts(
        cid,
        started,
        human_requested_at=requested,
        holdings=tuple(holdings),
        invited=frozenset(draw(st.sets(st.sampled_from(AGENTS), max_size=1))),
        ended_at=ended,
        offline_reason=offline,
        messages=tuple(messages),
        ratings=rated,
    )


def _partial(c: ConversationFacts, at: datetime) -> ConversationFacts:
    """What was known of `c` at `at` (its later events not yet written)."""
    return ConversationFacts(
        c.conversation_id,
        c.started_at,
        human_requested_at=c.human_requested_at
        if c.human_requested_at and c.human_requested_at <= at
        else None,
        holdings=tuple(h for h in c.holdings if h.since <= at),
        invited=c.invited,
        ended_at=c.ended_at if c.ended_at and c.ended_at <= at else None,
        offline_reason=c.offline_reason if c.ended_at and c.ended_at <= at else None,
        messages=tuple(m for m in c.messages if m.at <= at),
        ratings=c.ratings if c.ended_at and c.ended_at <= at else {},
    )


def _fold(
    rollups: dict[Key, Tally], stored: dict[int, list[Part]], new: list[Part], cid: int
) -> None:
    for key, change in deltas(stored.get(cid, []), new).items():
        rollups[key] = rollups.get(key, ZERO) + change
    stored[cid] = new


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    tz=st.sampled_from(ZONES),
    n=st.integers(1, 12),
    fold_after=st.integers(0, 4 * 24 * 3600),
    read_after=st.integers(0, 4 * 24 * 3600),
)
def test_data_1_rollups_equal_the_raw_figures_on_generated_traffic(
    data: st.DataObject, tz: ZoneInfo, n: int, fold_after: int, read_after: int
) -> None:
    convs = [data.draw(conversation(cid)) for cid in range(1, n + 1)]
    folded_at = BASE + timedelta(seconds=fold_after)
    now = folded_at + timedelta(seconds=read_after)
    rollups: dict[Key, Tally] = {}
    stored: dict[int, list[Part]] = {}
    dirty: set[int] = set()
    for c in convs:
        # Folded with what was known then; refolded later with more, or not. It is dirty when
        # its story went on after its last fold (the use cases mark it so).
        last_fold = folded_at
        _fold(
            rollups,
            stored,
            parts_of(_partial(c, last_fold), tz=tz, now=last_fold),
            c.conversation_id,
        )
        if data.draw(st.booleans()):
            last_fold = folded_at + (now - folded_at) / 2
            parts = parts_of(_partial(c, last_fold), tz=tz, now=last_fold)
            _fold(rollups, stored, parts, c.conversation_id)
        if _partial(c, last_fold) != _partial(c, now):
            dirty.add(c.conversation_id)
    facts = [_partial(c, now) for c in convs]
    # The reader: dirty ones and parts stale by now are replaced by their raw parts.
    redo = dirty | {
        cid
        for cid, parts in stored.items()
        if parts and parts[0].stale_at and parts[0].stale_at <= now
    }
    old = [p for cid in redo for p in stored[cid]]
    fresh = [p for f in facts if f.conversation_id in redo for p in parts_of(f, tz=tz, now=now)]
    read = corrected(rollups, old, fresh)

    days = by_day(read, tz)
    raw_days: dict[date, list[ConversationFacts]] = defaultdict(list)
    for f in facts:
        raw_days[local_day(f.started_at, tz)].append(f)
    for day in set(days) | set(raw_days):
        counts = days.get(day, ZERO)
        assert counts.figures() == shop_figures(raw_days[day], tz=tz, now=now), day
        assert counts.assessment() == assessment(raw_days[day], tz=tz, now=now), day
    agents = by_agent(read)
    for agent_id in AGENTS:
        expected = agent_figures(facts, agent_id=agent_id, tz=tz, now=now)
        assert agents.get(agent_id, ZERO).figures() == expected
    assert agents.get(SHOP, ZERO) == tally(facts, tz=tz, now=now)


def test_data_1_rollups_skip_parts_that_are_current() -> None:
    """A part is replaced by the reader only once dirty or stale: an unsettled request stays
    valid until the local midnight, then settles as abandoned."""
    tz = ZoneInfo("Asia/Shanghai")
    asked = datetime(2026, 3, 7, 10, 0, tzinfo=tz)
    queued = ConversationFacts(1, asked, human_requested_at=asked)
    (part,) = parts_of(queued, tz=tz, now=asked)
    midnight = datetime(2026, 3, 8, 0, 0, tzinfo=tz)
    assert part.stale_at == midnight and part.tally.settled == 0
    (later,) = parts_of(queued, tz=tz, now=midnight)
    assert later.tally.settled == 1 and later.tally.picked_up == 0 and later.stale_at is None


def test_data_3_an_unanswered_round_goes_stale_after_three_minutes() -> None:
    tz = ZoneInfo("Asia/Shanghai")
    t0 = datetime(2026, 3, 7, 10, 0, tzinfo=tz)
    c = ConversationFacts(
        1,
        t0,
        human_requested_at=t0,
        holdings=(Holding(11, t0),),
        messages=(Message(t0 + timedelta(seconds=5), Sender.CONSUMER),),
    )
    shop, _agent = parts_of(c, tz=tz, now=t0 + timedelta(seconds=10))
    edge = t0 + timedelta(minutes=3, seconds=5, microseconds=1)
    assert shop.stale_at == edge and shop.tally.a_rounds == 0
    assert parts_of(c, tz=tz, now=edge)[0].tally.a_rounds == 1


def test_data_1_hour_buckets_follow_local_hours() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")  # +05:30: a local hour starts at half past in UTC
    at = datetime(2026, 3, 7, 18, 40, tzinfo=UTC)
    assert hour_bucket(at, kolkata) == datetime(2026, 3, 7, 18, 30, tzinfo=UTC)
    assert hour_bucket(at, ZoneInfo("Asia/Shanghai")) == datetime(2026, 3, 7, 18, 0, tzinfo=UTC)
