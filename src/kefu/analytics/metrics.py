"""The service figures a shop is judged by (DATA-1, DATA-2, DATA-3), as pure functions over the
facts of each conversation. Each function quotes the definition it implements; the clock edges
are pinned here and tested one by one in tests/analytics/test_analytics_metrics.py.

Pinned edges (the seeds leave them open; these are the choices and why):
- A reply is a human agent's message that follows at least one consumer message not yet
  answered; the time it answers is the earliest such consumer message, but never earlier than
  the moment that agent received the conversation (the queue is measured by the queue time, not
  by the response time). Bot, system and welcome messages are not replies and answer nothing.
- An agent who writes twice in a row replies once: the second message answers nothing.
- A transfer credits the receiver: the receiver's first response runs from the transfer, and
  replies are credited to whoever sent them. An invited agent is credited once per conversation.
- A human request is settled once it was assigned, once its conversation ended or went to
  offline messages without an assignment, or once the local day it was made on is over. Pickup
  counts a request assigned on the local day it was made (the same-day rule); every other
  settled request is abandoned, so pickup + abandonment = 100 % of settled requests.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from kefu.analytics.periods import local_day

FAST_REPLY = timedelta(seconds=30)
REPLY_WITHIN_MINUTE = timedelta(seconds=60)
# DATA-3 (Feige): the assessment counts what happens between 08:00 and 23:00 each day.
ASSESSMENT_OPENS = time(8, 0)
ASSESSMENT_CLOSES = time(23, 0)
FIRST_REPLY_TARGET = timedelta(minutes=2)
HUMAN_REPLY_TARGET = timedelta(minutes=3)


class Sender(StrEnum):
    CONSUMER = "consumer"
    AGENT = "agent"
    BOT = "bot"
    SYSTEM = "system"


class OfflineReason(StrEnum):
    """Why a human request became an offline message (OFFL-1, ROUTE-5, ROUTE-6)."""

    NO_AGENT = "no_agent"
    SERVICE_HOURS = "service_hours"
    LEFT_QUEUE = "left_queue"
    BLACKLIST = "blacklist"


# DATA-3: "ended in offline messages because no agent was available".
NO_SERVICE_REASONS = frozenset({OfflineReason.NO_AGENT, OfflineReason.SERVICE_HOURS})


@dataclass(frozen=True, slots=True)
class Message:
    at: datetime
    sender: Sender
    agent_id: int | None = None


@dataclass(frozen=True, slots=True)
class Holding:
    """An agent held the conversation from `since` (its assignment, or a transfer to them)."""

    agent_id: int
    since: datetime


@dataclass(frozen=True, slots=True)
class ConversationFacts:
    """What the metrics need to know of one conversation; times are aware UTC."""

    conversation_id: int
    started_at: datetime
    human_requested_at: datetime | None = None
    holdings: tuple[Holding, ...] = ()
    invited: frozenset[int] = frozenset()
    ended_at: datetime | None = None
    offline_reason: OfflineReason | None = None
    messages: tuple[Message, ...] = ()
    # Stars of the best rating per rated agent (RATE-2: the best one counts).
    ratings: dict[int, int] = field(default_factory=dict)

    @property
    def assigned_at(self) -> datetime | None:
        return self.holdings[0].since if self.holdings else None

    @property
    def credited_agents(self) -> frozenset[int]:
        """CONV-7, CONV-8: every holder and every invited agent, each once."""
        return frozenset(h.agent_id for h in self.holdings) | self.invited


@dataclass(frozen=True, slots=True)
class Reply:
    """A human reply (DATA-1): who answered, when, and the consumer message time it answers."""

    agent_id: int
    at: datetime
    answers: datetime

    @property
    def took(self) -> timedelta:
        return self.at - self.answers


def rounds(facts: ConversationFacts) -> Iterator[tuple[datetime, Reply | None]]:
    """Each round of the conversation: when the consumer started waiting and the human reply
    that ended the wait (None while unanswered); see the module docstring for the pinned edges."""
    waiting_since: datetime | None = None
    for message in facts.messages:
        if message.sender is Sender.CONSUMER:
            waiting_since = waiting_since or message.at
        elif message.sender is Sender.AGENT and message.agent_id is not None:
            if waiting_since is None:
                continue
            held = _received_at(facts, message.agent_id, message.at)
            answers = min(max(waiting_since, held or waiting_since), message.at)
            yield answers, Reply(message.agent_id, message.at, answers)
            waiting_since = None
    if waiting_since is not None:
        yield max(waiting_since, facts.assigned_at or waiting_since), None


def replies(facts: ConversationFacts) -> Iterator[Reply]:
    """DATA-1: "平均响应时长: 每一次(客服回复时间-消费者发送消息的时间)" — the human replies."""
    return (reply for _, reply in rounds(facts) if reply is not None)


def first_response(facts: ConversationFacts, agent_id: int | None = None) -> timedelta | None:
    """DATA-1: "平均首次响应时长: (客服首次回复时间-分配客服时间)" — the first human message
    after assignment (system welcome excluded). With `agent_id`, that agent's first message after
    they received the conversation (a transfer's receiver is credited from the transfer)."""
    received = facts.assigned_at if agent_id is None else _first_holding(facts, agent_id)
    if received is None:
        return None
    for message in facts.messages:
        if message.sender is not Sender.AGENT or message.at < received:
            continue
        if agent_id is None or message.agent_id == agent_id:
            return message.at - received
    return None


@dataclass(frozen=True, slots=True)
class ServiceFigures:
    """DATA-1 (shop) and DATA-2 (agent). A rate or mean is None when it has nothing to count."""

    conversations: int
    human_requests: int
    assigned: int
    picked_up: int
    settled: int
    queue_time_s: float | None
    first_response_s: float | None
    response_s: float | None
    replies: int
    replies_within_30s: int
    replies_within_60s: int
    rated: int
    satisfied: int

    @property
    def pickup_rate(self) -> float | None:
        """ "有效接起率 = 分配客服会话量 / 转人工会话量 (当日转人工的会话, 只有在当日被分配到
        客服, 才算有效的接起率)", over settled requests."""
        return _ratio(self.picked_up, self.settled)

    @property
    def abandonment_rate(self) -> float | None:
        """ "排队放弃率 = 排队放弃量 / 服务请求量; 接起率 + 排队放弃率 = 100%"."""
        return _ratio(self.settled - self.picked_up, self.settled)

    @property
    def rate_30s(self) -> float | None:
        """ "30秒响应率 = 客服30S内回复的消息量 / 客服回复的所有消息量"."""
        return _ratio(self.replies_within_30s, self.replies)

    @property
    def rate_60s(self) -> float | None:
        """ "60秒响应率 = 客服60S内回复的消息量 / 客服回复的所有消息量"."""
        return _ratio(self.replies_within_60s, self.replies)

    @property
    def satisfaction_rate(self) -> float | None:
        """RATE-3: "满意率 = (5星评价会话量 + 4星评价会话量) / 已评价会话量"."""
        return _ratio(self.satisfied, self.rated)

    @property
    def rating_rate(self) -> float | None:
        """DATA-2: rated conversations over the human conversations received."""
        return _ratio(self.rated, self.assigned)


def shop_figures(
    conversations: Iterable[ConversationFacts], *, tz: ZoneInfo, now: datetime
) -> ServiceFigures:
    """DATA-1 for the conversations of a period (the caller selects them by start time)."""
    return _figures(list(conversations), tz=tz, now=now, agent_id=None)


def agent_figures(
    conversations: Iterable[ConversationFacts], *, agent_id: int, tz: ZoneInfo, now: datetime
) -> ServiceFigures:
    """DATA-2 for one agent: the conversations credited to them (CONV-7, CONV-8), their own
    first responses and replies, and the ratings of them."""
    mine = [c for c in conversations if agent_id in c.credited_agents]
    return _figures(mine, tz=tz, now=now, agent_id=agent_id)


def _figures(
    conversations: Sequence[ConversationFacts], *, tz: ZoneInfo, now: datetime, agent_id: int | None
) -> ServiceFigures:
    return tally(conversations, tz=tz, now=now, agent_id=agent_id).figures()


@dataclass(frozen=True, slots=True)
class Tally:
    """The additive counts behind ServiceFigures and Assessment: the tally of several
    conversations is the sum of their tallies, so it can be kept per hour (rollups) and summed
    over any period. Durations are sums of whole microseconds, so sums are exact."""

    conversations: int = 0
    human_requests: int = 0
    assigned: int = 0
    picked_up: int = 0
    settled: int = 0
    queued: int = 0
    queue_time_us: int = 0
    first_responses: int = 0
    first_response_us: int = 0
    replies: int = 0
    response_us: int = 0
    replies_within_30s: int = 0
    replies_within_60s: int = 0
    rated: int = 0
    satisfied: int = 0
    a_requests: int = 0
    a_non_service: int = 0
    a_first_reply_within_2min: int = 0
    a_rounds: int = 0
    a_rounds_within_3min: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(*map(operator.add, self.counts(), other.counts()))

    def __sub__(self, other: Tally) -> Tally:
        return Tally(*map(operator.sub, self.counts(), other.counts()))

    def counts(self) -> tuple[int, ...]:
        counts: tuple[int, ...] = _COUNTS(self)
        return counts

    def figures(self) -> ServiceFigures:
        return ServiceFigures(
            conversations=self.conversations,
            human_requests=self.human_requests,
            assigned=self.assigned,
            picked_up=self.picked_up,
            settled=self.settled,
            queue_time_s=_mean_us(self.queue_time_us, self.queued),
            first_response_s=_mean_us(self.first_response_us, self.first_responses),
            response_s=_mean_us(self.response_us, self.replies),
            replies=self.replies,
            replies_within_30s=self.replies_within_30s,
            replies_within_60s=self.replies_within_60s,
            rated=self.rated,
            satisfied=self.satisfied,
        )

    def assessment(self) -> Assessment:
        return Assessment(
            requests=self.a_requests,
            non_service=self.a_non_service,
            first_reply_within_2min=self.a_first_reply_within_2min,
            rounds=self.a_rounds,
            rounds_within_3min=self.a_rounds_within_3min,
        )


TALLY_FIELDS = tuple(f.name for f in fields(Tally))
_COUNTS = operator.attrgetter(*TALLY_FIELDS)


def tally(
    conversations: Iterable[ConversationFacts],
    *,
    tz: ZoneInfo,
    now: datetime,
    agent_id: int | None = None,
) -> Tally:
    """DATA-1 (agent_id None) or DATA-2 counts, with DATA-3's for the shop (agent_id None)."""
    conversations = list(conversations)
    requests = [c for c in conversations if c.human_requested_at is not None]
    # An agent received every conversation credited to them; the shop, the assigned ones.
    assigned = [c for c in conversations if agent_id is not None or c.assigned_at is not None]
    settled = [c for c in requests if _is_settled(c, tz=tz, now=now)]
    firsts = [f for f in (first_response(c, agent_id) for c in assigned) if f is not None]
    queues = [_queue_time(c) for c in requests if c.assigned_at is not None]
    all_replies = [
        r for c in conversations for r in replies(c) if agent_id is None or r.agent_id == agent_id
    ]
    stars = [_best_stars(c, agent_id) for c in conversations]
    rated = [s for s in stars if s is not None]
    a = assessment(conversations, tz=tz, now=now) if agent_id is None else Assessment(0, 0, 0, 0, 0)
    return Tally(
        conversations=len(conversations),
        human_requests=len(requests),
        assigned=len(assigned),
        picked_up=sum(1 for c in settled if _picked_up(c, tz)),
        settled=len(settled),
        queued=len(queues),
        queue_time_us=sum(_us(q) for q in queues),
        first_responses=len(firsts),
        first_response_us=sum(_us(f) for f in firsts),
        replies=len(all_replies),
        response_us=sum(_us(r.took) for r in all_replies),
        replies_within_30s=sum(1 for r in all_replies if r.took <= FAST_REPLY),
        replies_within_60s=sum(1 for r in all_replies if r.took <= REPLY_WITHIN_MINUTE),
        rated=len(rated),
        satisfied=sum(1 for s in rated if s >= 4),
        a_requests=a.requests,
        a_non_service=a.non_service,
        a_first_reply_within_2min=a.first_reply_within_2min,
        a_rounds=a.rounds,
        a_rounds_within_3min=a.rounds_within_3min,
    )


def valid_until(c: ConversationFacts, *, tz: ZoneInfo, now: datetime) -> datetime | None:
    """The first instant after `now` at which the tally of `c` changes with time alone (no new
    event): a request not yet settled settles when its local day is over; an unanswered round
    in the assessment window fails once its 3 minutes have passed. None: it never does."""
    edges: list[datetime] = []
    if c.human_requested_at is not None and not _is_settled(c, tz=tz, now=now):
        edges.append(_next_midnight(c.human_requested_at, tz))
    if c.assigned_at is not None:
        for start, reply in rounds(c):
            if reply is None and in_assessment_window(start, tz):
                edge = start + HUMAN_REPLY_TARGET + timedelta(microseconds=1)
                if edge > now:
                    edges.append(edge)
    return min(edges, default=None)


def _next_midnight(at: datetime, tz: ZoneInfo) -> datetime:
    following = local_day(at, tz) + timedelta(days=1)
    return datetime.combine(following, time(), tz).astimezone(UTC)


def _us(d: timedelta) -> int:
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def _mean_us(total_us: int, n: int) -> float | None:
    return total_us / (n * 1_000_000) if n else None


@dataclass(frozen=True, slots=True)
class Assessment:
    """DATA-3 (Feige), over human requests made between 08:00 and 23:00 local time."""

    requests: int
    non_service: int
    first_reply_within_2min: int
    rounds: int
    rounds_within_3min: int

    @property
    def non_service_rate(self) -> float | None:
        return _ratio(self.non_service, self.requests)

    @property
    def first_reply_rate_2min(self) -> float | None:
        """ "2分钟首次回复率": from the human request — queue time included — to the first human
        reply, within 2 minutes."""
        return _ratio(self.first_reply_within_2min, self.requests)

    @property
    def human_reply_rate_3min(self) -> float | None:
        """ "3分钟人工回复率": consumer messages answered by a human within 3 minutes."""
        return _ratio(self.rounds_within_3min, self.rounds)


def assessment(
    conversations: Iterable[ConversationFacts], *, tz: ZoneInfo, now: datetime
) -> Assessment:
    """DATA-3: "前四个指标的计算时间都是8:00-23:00之间的会话". Non-service is a request that
    went to offline messages because no agent was available, or an assigned conversation where
    the agent sent nothing but the system welcome. A round is a human-served consumer message
    (made while the conversation was assigned) in the window; one not answered within 3 minutes
    fails once those 3 minutes have passed."""
    requests = [
        c
        for c in conversations
        if c.human_requested_at is not None and in_assessment_window(c.human_requested_at, tz)
    ]
    rounds = [r for c in conversations for r in _human_rounds(c, tz=tz, now=now)]
    return Assessment(
        requests=len(requests),
        non_service=sum(1 for c in requests if _is_non_service(c)),
        first_reply_within_2min=sum(1 for c in requests if _first_reply_in_time(c)),
        rounds=len(rounds),
        rounds_within_3min=sum(1 for answered in rounds if answered),
    )


def in_assessment_window(at: datetime, tz: ZoneInfo) -> bool:
    """DATA-3: 08:00 ≤ local time < 23:00, every day, holidays included."""
    local = at.astimezone(tz).time()
    return ASSESSMENT_OPENS <= local < ASSESSMENT_CLOSES


# --- the rules' parts ----------------------------------------------------------------------


def _is_settled(c: ConversationFacts, *, tz: ZoneInfo, now: datetime) -> bool:
    assert c.human_requested_at is not None
    if c.assigned_at is not None or c.offline_reason is not None or c.ended_at is not None:
        return True
    request_day = local_day(c.human_requested_at, tz)
    return local_day(now, tz) > request_day


def _picked_up(c: ConversationFacts, tz: ZoneInfo) -> bool:
    if c.assigned_at is None or c.human_requested_at is None:
        return False
    return local_day(c.assigned_at, tz) == local_day(c.human_requested_at, tz)


def _queue_time(c: ConversationFacts) -> timedelta:
    assert c.assigned_at is not None and c.human_requested_at is not None
    return c.assigned_at - c.human_requested_at


def _is_non_service(c: ConversationFacts) -> bool:
    if c.offline_reason in NO_SERVICE_REASONS:
        return True
    if c.assigned_at is None:
        return False
    return not any(m.sender is Sender.AGENT for m in c.messages if m.at >= c.assigned_at)


def _first_reply_in_time(c: ConversationFacts) -> bool:
    assert c.human_requested_at is not None
    if c.assigned_at is None:
        return False
    first = next(
        (m.at for m in c.messages if m.sender is Sender.AGENT and m.at >= c.assigned_at), None
    )
    return first is not None and first - c.human_requested_at <= FIRST_REPLY_TARGET


def _human_rounds(c: ConversationFacts, *, tz: ZoneInfo, now: datetime) -> Iterator[bool]:
    """The rounds of an assigned conversation that start in the window: True if a human answered
    within 3 minutes, False once that can no longer happen (a round still inside its 3 minutes is
    not counted yet)."""
    if c.assigned_at is None:
        return
    for start, reply in rounds(c):
        if not in_assessment_window(start, tz):
            continue
        if reply is not None:
            yield reply.took <= HUMAN_REPLY_TARGET
        elif now - start > HUMAN_REPLY_TARGET:
            yield False


def _best_stars(c: ConversationFacts, agent_id: int | None) -> int | None:
    if agent_id is not None:
        return c.ratings.get(agent_id)
    return max(c.ratings.values(), default=None)


def _received_at(c: ConversationFacts, agent_id: int, at: datetime) -> datetime | None:
    """When `agent_id` last received the conversation before `at`; None if they never held it
    (an invited agent or a supervisor speaking in it)."""
    received = None
    for holding in c.holdings:
        if holding.since > at:
            break
        if holding.agent_id == agent_id:
            received = holding.since
    return received


def _first_holding(c: ConversationFacts, agent_id: int) -> datetime | None:
    return next((h.since for h in c.holdings if h.agent_id == agent_id), None)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None
