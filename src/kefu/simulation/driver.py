"""`kefu demo --lively`: a day of traffic played against the running demo shop, so that a person
watching the workbench sees conversations arrive, queue, get answered and end.

The simulation model's rules drive it (simulation/model.py, one implementation of each):
consumers arrive hour by hour on the demo's day curve (`hour_arrivals`), a queued consumer
leaves after their patience, and a conversation held by a simulated agent runs as the model
runs it (`handle_time`, `exchange`: reply times, the consumer's gaps). The day is played on an
accelerated clock: `speed` simulated seconds for each real second; the night's empty hours are
skipped.

Consumers act through the same services the widget's socket calls (a session, the open
conversation, sending, asking for a human, leaving the queue, rating); the demo's other agents
(SIMULATED_AGENTS, not the accounts the person signs in with) hold a socket's presence, work
their shifts (SHIFTS: online, a break, off), answer with the shop's quick phrases and end their
conversations — also those the router gives them from a person trying the demo shop's chat.
Only the demo shop is touched. A step that fails is logged and the day goes
on; stopping is cancelling.

The decisions (what a visit does, what an agent says, when things happen) are pure functions
of a seeded random generator, above the line; the driver below plays them.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import io
import itertools
import json
import random
import secrets
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from enum import Enum
from importlib import resources
from typing import Any

import structlog

from kefu import errors
from kefu.analytics.metrics import Sender
from kefu.catalog import service as catalog
from kefu.catalog.domain import CardKind, card_summary
from kefu.demo import DEMO_SHOP_ID, DEMO_SHOP_NAME, LIVELY_AGENTS, LIVELY_SPEED
from kefu.domain.conversation import ConversationState
from kefu.domain.messages import MessageKind, SenderKind
from kefu.domain.presence import AgentStatus
from kefu.ratings import service as ratings
from kefu.seed import DEMO_PRODUCTS
from kefu.services import accounts, conversations
from kefu.services.consumers import consumer_send
from kefu.services.context import ConsumerActor, Context, Staff
from kefu.services.messages import MessageWriter, SendRequest
from kefu.services.phrases import list_phrases
from kefu.services.presence import set_status, socket_closed, socket_opened
from kefu.services.shops import public_shop
from kefu.services.views import ConversationView
from kefu.simulation.model import (
    HOURS,
    DayPlan,
    consumer_gap,
    exchange,
    handle_time,
    hour_arrivals,
    patience,
)
from kefu.storage import accounts as account_store

log = structlog.get_logger(__name__)

# Consumers arriving in each local hour of the demo's day: quiet nights, a morning rise, busy
# afternoon and evening (the curve `kefu simulate`'s README example uses).
DEMO_DAY = (
    0, 0, 0, 0, 0, 0, 0, 2, 20, 60, 90, 100, 80, 70, 90, 100, 90, 80, 70, 80, 100, 90, 50, 10,
)  # fmt: skip
# At 10x, the busy hours bring a new conversation every 4-6 seconds, and an agent answers in
# about 2.5 seconds (the model's 25).
DEFAULT_SPEED = LIVELY_SPEED
FIRST_HOUR = 9  # the played day starts as the shop gets busy
SIMULATED_AGENTS = LIVELY_AGENTS
# Their shifts: (first hour, hour after the last, the hour of their break). Two of them in the
# morning, three from noon, fewer at lunch and in the evening: queues form now and then.
SHIFTS = {"agent2": (9, 21, 12), "agent3": (8, 18, 13), "agent4": (12, 24, 17)}


def shift_status(username: str, hour: int) -> AgentStatus:
    """A simulated agent's status in local hour `hour` of any day (online, on their break, or
    off shift)."""
    first, after_last, pause = SHIFTS[username]
    hour %= HOURS
    if not first <= hour < after_last:
        return AgentStatus.OFFLINE
    return AgentStatus.BREAK if hour == pause else AgentStatus.ONLINE


# The model's defaults (reply 25 s, conversations of 8 minutes, patience of 3 minutes), with
# the demo's day and its agents' shifts.
PLAN = DayPlan(
    arrivals=tuple(float(a) for a in DEMO_DAY),
    agents=tuple(
        sum(shift_status(u, h) is AgentStatus.ONLINE for u in SIMULATED_AGENTS)
        for h in range(HOURS)
    ),
)

HUMAN_SHARE = 0.4  # visits that ask for a human after their questions
UNKNOWN_SHARE = 0.25  # questions the knowledge base does not answer
ORDER_CARD_SHARE = 0.5  # order and after-sale visits that start with their order's card
RATE_SHARE = 0.5  # human conversations the consumer rates after the end
SOURCES = ("product", "order", "after_sale")
SOURCE_WEIGHTS = (5, 3, 2)
STARS = (5, 4, 3, 2, 1)
STAR_WEIGHTS = (60, 20, 10, 5, 5)
ASK_HUMAN = "转人工"
UNKNOWN_QUESTIONS = (
    "这件衣服洗了会缩水吗",
    "你们老板是哪里人",
    "能帮我看看哪个颜色更显白",
    "我上次买的杯子盖子有点松",
    "可以送货上楼吗",
    "耳机和手机蓝牙连不上怎么办",
    "茶叶是今年的新茶吗",
)
FOLLOW_UPS = (
    "好的，谢谢",
    "那大概什么时候能到？",
    "可以开发票吗",
    "嗯嗯，我再看看",
    "有没有优惠券呀",
    "好的，那我等你消息",
    "明白了",
)
# Simulated buyers (signed-in consumers with an order each), for the order cards.
BUYERS = tuple((f"lively-buyer-{n}", f"买家{name}") for n, name in enumerate("甲乙丙丁戊己庚辛", 1))
# How often (real seconds) the driver looks whether its queued consumers were assigned, and
# for conversations its agents hold that it did not start (a person's, or an earlier run's).
POLL_S = 0.5
ADOPT_S = 3.0
FOLLOW_UPS_FOR_A_PERSON = 3  # messages back to a person's answers before going quiet
RETRY_S = 5.0  # before trying to start again when the start failed
# At shutdown, the step under way ends on its own (a cancelled step could leave a database
# operation half done), then the agents go off shift: each within its bound.
STEP_WITHIN_S = 2.0
STOP_WITHIN_S = 3.0


def kb_phrasings() -> tuple[str, ...]:
    """The demo knowledge base's questions and their phrasings (what consumers ask the bot)."""
    data = json.loads(resources.files("kefu").joinpath("demo/kb.json").read_text("utf-8"))
    asked: list[str] = []
    for q in data["questions"]:
        asked += [q["question"], *q.get("phrasings", [])]
    return tuple(asked)


@dataclass(frozen=True, slots=True)
class Visit:
    """What one arriving consumer does (decided as they arrive)."""

    source: str  # the entry: product, order or after_sale
    product: str | None  # the product page they came from (product entries)
    questions: tuple[str, ...]  # asked to the bot, in turn
    order_card: bool  # starts with their order's card (a simulated buyer)
    wants_human: bool  # asks for a human after the questions
    stars: int | None  # rates a human conversation after its end


def plan_visit(rng: random.Random, known: Sequence[str], products: Sequence[str]) -> Visit:
    source = rng.choices(SOURCES, weights=SOURCE_WEIGHTS)[0]
    asks = rng.choice((1, 1, 2, 2, 3))
    questions = tuple(
        rng.choice(UNKNOWN_QUESTIONS) if rng.random() < UNKNOWN_SHARE else rng.choice(known)
        for _ in range(asks)
    )
    return Visit(
        source=source,
        product=rng.choice(products) if source == "product" else None,
        questions=questions,
        order_card=source != "product" and rng.random() < ORDER_CARD_SHARE,
        wants_human=rng.random() < HUMAN_SHARE,
        stars=rng.choices(STARS, weights=STAR_WEIGHTS)[0] if rng.random() < RATE_SHARE else None,
    )


def agent_line(rng: random.Random, phrases: dict[str, str], turn: int, *, last: bool) -> str:
    """A quick phrase: the greeting first, the thanks last, one of the others between."""
    if last and "感谢" in phrases:
        return phrases["感谢"]
    if turn == 0 and "问候" in phrases:
        return phrases["问候"]
    middle = [body for title, body in phrases.items() if title not in ("问候", "感谢")]
    return rng.choice(middle or list(phrases.values()) or ["好的"])


class Step(Enum):
    ASK = "ask"  # the consumer writes to the bot (a question, a card, or 转人工)
    GIVE_UP = "give_up"  # a queued consumer's patience ran out
    AGENT_SAYS = "agent_says"
    CONSUMER_SAYS = "consumer_says"
    END = "end"  # the agent ends the conversation
    RATE = "rate"


@dataclass(frozen=True, slots=True)
class Planned:
    at: float  # simulated seconds
    step: Step


def human_conversation(plan: DayPlan, rng: random.Random, since: float) -> list[Planned]:
    """A conversation a simulated agent took at `since`, as the model plays it: the agent's
    answers, the consumer's messages in between, the end."""
    talked, ended = exchange(plan, rng, since, since + handle_time(plan, rng))
    steps = [
        Planned(at, Step.AGENT_SAYS if sender is Sender.AGENT else Step.CONSUMER_SAYS)
        for at, sender in talked
    ]
    return [*steps, Planned(max(ended, steps[-1].at if steps else since), Step.END)]


def played_arrivals(hour: int, rng: random.Random) -> list[float]:
    """The arrivals of the played hour `hour` (counted on from the first day's midnight), in
    simulated seconds: the model's arrivals of that local hour on the demo's curve."""
    day, local = divmod(hour, HOURS)
    return [day * 86400.0 + at for at in hour_arrivals(DEMO_DAY[local], local, rng)]


def next_busy_hour(hour: int) -> int:
    """The first played hour from `hour` on in which consumers arrive."""
    for ahead in range(HOURS):
        if DEMO_DAY[(hour + ahead) % HOURS] > 0:
            return hour + ahead
    raise ValueError("the demo's day has no arrivals")


class SimClock:
    """Simulated seconds from the first day's midnight: `speed` of them each real second, from
    FIRST_HOUR; `skip_to` jumps ahead (the empty night)."""

    def __init__(self, speed: float, real_now: float, start: float = FIRST_HOUR * 3600.0) -> None:
        self.speed = speed
        self._origin = real_now
        self._start = start

    def now(self, real_now: float) -> float:
        return self._start + (real_now - self._origin) * self.speed

    def real_wait(self, at: float, real_now: float) -> float:
        return max(0.0, (at - self.now(real_now)) / self.speed)

    def skip_to(self, at: float, real_now: float) -> None:
        self._start += max(0.0, at - self.now(real_now))


# --- the driver -----------------------------------------------------------------------------


@dataclass
class _Visitor:
    visit: Visit
    consumer: ConsumerActor
    conversation_id: int
    asked: int = 0
    buyer: str | None = None
    order_no: str | None = None
    agent: Staff | None = None
    turn: int = 0  # the agent's answers so far (or the consumer's to a person)
    seen_seq: int = 0  # a person's conversation: the last message answered
    done: bool = False
    adopted: bool = False  # a conversation the driver did not start: its consumer is real


# What the driver knows of a conversation it adopts: only that someone is there.
ADOPTED = Visit("direct", None, (), order_card=False, wants_human=False, stars=None)


@dataclass
class Tally:
    """What the driver did, for its log line and the tests."""

    arrived: int = 0
    asked_bot: int = 0
    asked_human: int = 0
    agent_replies: int = 0
    ended: int = 0
    left_queue: int = 0
    rated: int = 0
    adopted: int = 0
    failed: int = 0
    refused: int = 0


class LivelyDemo:
    """Plays the demo's day in its own task (`start`, `stop`)."""

    def __init__(
        self,
        ctx: Context,
        writer: MessageWriter,
        *,
        speed: float = DEFAULT_SPEED,
        rng: random.Random | None = None,
        shop_id: int = DEMO_SHOP_ID,
    ) -> None:
        if speed <= 0:
            raise ValueError("the speed is positive")
        self.ctx = ctx
        self.writer = writer
        self.speed = speed
        self.rng = rng or random.Random()
        self.shop_id = shop_id
        self.tally = Tally()
        self.played_hour = FIRST_HOUR  # the hour being played, counted from day 0's midnight
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._agents: dict[int, Staff] = {}
        self._usernames: dict[str, Staff] = {}
        self._statuses: dict[str, AgentStatus] = {}
        self._present: set[int] = set()  # the agents whose socket's presence is counted
        self._phrases: dict[str, str] = {}
        self._known = kb_phrasings()
        self._products = tuple(external_id for external_id, _, _ in DEMO_PRODUCTS)
        self._events: list[tuple[float, int, Step, _Visitor | None]] = []
        self._sequence = itertools.count()
        self._waiting: dict[int, _Visitor] = {}  # queued, by conversation
        self._playing: set[int] = set()  # the conversations of unfinished visits
        self._with_person: dict[int, _Visitor] = {}  # held by an agent not played
        self._busy_buyers: set[str] = set()
        self._client_ids = itertools.count(1)
        self._prefix = secrets.token_hex(4)

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="lively-demo")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """Stop playing once the step under way is done, and take the simulated agents off
        shift (within a few seconds)."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        finished, _ = await asyncio.wait({task}, timeout=STEP_WITHIN_S)
        if not finished:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await asyncio.wait_for(self._off_shift(), STOP_WITHIN_S)
        except TimeoutError:
            log.warning("lively.off_shift_late", within_s=STOP_WITHIN_S)
        log.info("lively.stopped", **self._figures())

    # --- the loop ---------------------------------------------------------------------------

    async def _pause(self, seconds: float) -> None:
        """Sleep, unless the demo is stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._prepare()
                break
            except errors.NotFound:
                log.warning("lively.not_started", shop_id=self.shop_id, exc_info=True)
                return
            except Exception:  # the database, say: try again in a while
                log.warning("lively.not_ready", shop_id=self.shop_id, exc_info=True)
                await self._pause(RETRY_S)
        if self._stopping.is_set():
            return
        loop = asyncio.get_running_loop()
        clock = SimClock(self.speed, loop.time())
        hour = FIRST_HOUR  # the next hour whose arrivals are drawn (counted from day 0)
        polled = adopted = loop.time() - ADOPT_S
        log.info("lively.started", shop_id=self.shop_id, speed=self.speed)
        while not self._stopping.is_set():
            now = clock.now(loop.time())
            if hour * 3600.0 <= now:
                if not self._events and not self._waiting and DEMO_DAY[hour % HOURS] == 0:
                    busy = next_busy_hour(hour)
                    clock.skip_to(busy * 3600.0, loop.time())
                    hour = busy
                for at in played_arrivals(hour, self.rng):
                    self._push(at, Step.ASK, None)
                await self._guarded(self._shift_change(hour))
                self.played_hour = hour
                hour += 1
                continue
            if self._waiting and loop.time() - polled >= POLL_S:
                polled = loop.time()
                await self._guarded(self._poll_queue(now))
                continue
            if loop.time() - adopted >= ADOPT_S:
                adopted = loop.time()
                await self._guarded(self._adopt(now))
                await self._guarded(self._follow_person(now))
                continue
            if self._events and self._events[0][0] <= now:
                at, _, step, visitor = heapq.heappop(self._events)
                await self._play(step, visitor, at)
                continue
            due = min(self._events[0][0] if self._events else hour * 3600.0, hour * 3600.0)
            wait = min(clock.real_wait(due, loop.time()), adopted + ADOPT_S - loop.time())
            if self._waiting:
                wait = min(wait, polled + POLL_S - loop.time())
            await self._pause(max(wait, 0.0))

    def _push(self, at: float, step: Step, visitor: _Visitor | None) -> None:
        # An arrival carries no visitor yet: it is made when it plays.
        heapq.heappush(self._events, (at, next(self._sequence), step, visitor))

    async def _play(self, step: Step, visitor: _Visitor | None, at: float) -> None:
        if visitor is None:
            await self._guarded(self._arrive(at))
            return
        if visitor.done:
            return
        handlers = {
            Step.ASK: self._ask,
            Step.GIVE_UP: self._give_up,
            Step.AGENT_SAYS: self._agent_says,
            Step.CONSUMER_SAYS: self._consumer_says,
            Step.END: self._end,
            Step.RATE: self._rate,
        }
        if not await self._guarded(handlers[step](visitor, at)):
            self._finish(visitor)

    async def _guarded(self, doing: Awaitable[None]) -> bool:
        """Run one step; a refusal (the person ended the conversation, took it over…) ends the
        visit quietly, anything else is logged. The day goes on either way."""
        try:
            await doing
            return True
        except errors.KefuError as exc:
            self.tally.refused += 1
            log.info("lively.step_refused", code=exc.code)
        except Exception:
            self.tally.failed += 1
            log.warning("lively.step_failed", exc_info=True)
        return False

    def _finish(self, visitor: _Visitor) -> None:
        visitor.done = True
        self._with_person.pop(visitor.conversation_id, None)
        self._playing.discard(visitor.conversation_id)
        self._waiting.pop(visitor.conversation_id, None)
        if visitor.buyer is not None:
            self._busy_buyers.discard(visitor.buyer)

    def _figures(self) -> dict[str, int]:
        t = self.tally
        return {
            "arrived": t.arrived, "asked_bot": t.asked_bot, "asked_human": t.asked_human,
            "agent_replies": t.agent_replies, "ended": t.ended, "left_queue": t.left_queue,
            "rated": t.rated, "adopted": t.adopted, "refused": t.refused, "failed": t.failed,
        }  # fmt: skip

    # --- the agents -------------------------------------------------------------------------

    async def _prepare(self) -> None:
        """The simulated agents open a socket's presence (their shifts set their status); the
        buyers get their orders; the shop's quick phrases are read. Only on a demo server,
        and only in its demo shop."""
        if not self.ctx.settings.demo_buyer:
            raise errors.NotFound("Not a demo server (`kefu demo`).", kind="shop")
        if (await public_shop(self.ctx, self.shop_id))["name"] != DEMO_SHOP_NAME:
            raise errors.NotFound("The database has no demo shop.", kind="shop")
        async with self.ctx.db.read() as tx:
            found = [
                await account_store.account_by_username(tx.conn, self.shop_id, username)
                for username in SIMULATED_AGENTS
            ]
        for account in found:
            if account is None or account.is_suspended or not account.has_im_permission:
                continue
            staff = Staff(account.id, self.shop_id, account.role, account.group_id)
            self._agents[account.id] = staff
            self._usernames[account.username] = staff
        if not self._agents:
            raise errors.NotFound("The demo shop has none of its agents.", kind="account")
        someone = next(iter(self._agents.values()))
        self._phrases = {p.title: p.body for p in await list_phrases(self.ctx, someone, text=None)}
        await self._add_buyers()
        for staff in self._agents.values():
            if staff.account_id not in self._present:
                self._present.add(staff.account_id)  # counted first, whatever happens next
                await socket_opened(self.ctx, staff)

    async def _shift_change(self, hour: int) -> None:
        """The agents whose shift or break begins or ends with this hour change their status."""
        for username, staff in self._usernames.items():
            status = shift_status(username, hour)
            if self._statuses.get(username) is not status:
                await set_status(self.ctx, staff, status)
                self._statuses[username] = status

    async def _off_shift(self) -> None:
        for username, staff in self._usernames.items():
            try:
                await set_status(self.ctx, staff, AgentStatus.OFFLINE)
            except Exception:
                log.warning("lively.off_shift_failed", username=username, exc_info=True)
            if staff.account_id in self._present:
                self._present.discard(staff.account_id)
                await socket_closed(self.ctx, staff)

    async def _add_buyers(self) -> None:
        """The simulated buyers and an order each (imported as the seed imports the demo's)."""
        for uid, nickname in BUYERS:
            await self._buyer_session(uid, nickname)
        orders = [
            {
                "order_no": _order_no(uid),
                "consumer_uid": uid,
                "amount": price,
                "ordered_at": self.ctx.clock.now().isoformat(),
                "paid_at": self.ctx.clock.now().isoformat(),
                "status": "shipped",
                "items": [{"external_id": pid, "title": title, "quantity": 1, "price": price}],
            }
            for (uid, _), (pid, title, price) in zip(
                BUYERS, itertools.cycle(DEMO_PRODUCTS), strict=False
            )
        ]
        data = json.dumps(orders, ensure_ascii=False).encode()
        await catalog.import_into(
            self.ctx, self.shop_id, kind="orders", raw=io.BytesIO(data), size=len(data), fmt="json"
        )

    async def _buyer_session(self, uid: str, nickname: str) -> ConsumerActor:
        identity = await accounts.signed_identity(
            self.ctx, self.shop_id, uid=uid, nickname=nickname
        )
        session = await accounts.start_consumer_session(
            self.ctx,
            shop_id=self.shop_id,
            identity=(uid, nickname, int(identity["ts"]), str(identity["sig"])),
        )
        return ConsumerActor(session.consumer_id, self.shop_id)

    async def _poll_queue(self, now: float) -> None:
        """Queued consumers the router assigned: a simulated agent's conversation is played
        from now on; one the person holds is theirs."""
        for conversation_id, visitor in list(self._waiting.items()):
            view = await conversations.get_view(self.ctx, conversation_id)
            if view.state == ConversationState.QUEUED:
                continue
            del self._waiting[conversation_id]
            self._taken(visitor, view, now)

    def _taken(self, visitor: _Visitor, view: ConversationView, now: float) -> None:
        if view.state == ConversationState.QUEUED:
            self._waiting[visitor.conversation_id] = visitor
            self._push(now + patience(PLAN, self.rng), Step.GIVE_UP, visitor)
            return
        if view.state != ConversationState.ASSIGNED or view.agent_id is None:
            self._finish(visitor)  # an offline message
            return
        staff = self._agents.get(view.agent_id)
        if staff is None:  # the person's: the consumer answers what they write
            visitor.seen_seq = view.last_seq
            self._with_person[visitor.conversation_id] = visitor
            return
        visitor.agent = staff
        for planned in human_conversation(PLAN, self.rng, now):
            self._push(planned.at, planned.step, visitor)

    async def _follow_person(self, now: float) -> None:
        """Consumers a person (an agent not played) holds: each of the person's answers gets a
        message back after the model's gap, a few times; after the person's end, the consumer
        rates as planned. A conversation the person hands to a played agent is adopted."""
        for conversation_id, visitor in list(self._with_person.items()):
            view = await conversations.get_view(self.ctx, conversation_id)
            if view.state != ConversationState.ASSIGNED or view.agent_id in self._agents:
                del self._with_person[conversation_id]
                if view.state == ConversationState.ENDED and visitor.visit.stars is not None:
                    self._push(now + consumer_gap(PLAN, self.rng) / 3, Step.RATE, visitor)
                else:
                    self._finish(visitor)
                continue
            last = view.last_message
            if last is None or last.sender != SenderKind.AGENT or last.seq <= visitor.seen_seq:
                continue
            visitor.seen_seq = last.seq
            if visitor.turn < FOLLOW_UPS_FOR_A_PERSON:
                visitor.turn += 1
                self._push(now + consumer_gap(PLAN, self.rng), Step.CONSUMER_SAYS, visitor)

    async def _adopt(self, now: float) -> None:
        """Conversations a simulated agent holds that no visit plays (a person chatting in the
        demo shop, or left by an earlier run): the agent answers and ends them as the model's
        agents do; the consumer's side is theirs."""
        for staff in self._agents.values():
            views, _ = await conversations.list_conversations(
                self.ctx, staff, scope="mine", page=1, page_size=50
            )
            for view in views:
                if (
                    view.state != ConversationState.ASSIGNED
                    or view.agent_id != staff.account_id
                    or view.id in self._playing
                ):
                    continue
                consumer = ConsumerActor(view.consumer.id, self.shop_id)
                visitor = _Visitor(ADOPTED, consumer, view.id, agent=staff, adopted=True)
                self._playing.add(view.id)
                self.tally.adopted += 1
                for planned in human_conversation(PLAN, self.rng, now):
                    if planned.step is not Step.CONSUMER_SAYS:
                        self._push(planned.at, planned.step, visitor)

    async def _agent_says(self, visitor: _Visitor, at: float) -> None:
        assert visitor.agent is not None
        body = agent_line(self.rng, self._phrases, visitor.turn, last=False)
        visitor.turn += 1
        await self._send_as_agent(visitor, body)

    async def _send_as_agent(self, visitor: _Visitor, body: str) -> None:
        assert visitor.agent is not None
        await self.writer.send(
            SendRequest(
                self.shop_id,
                visitor.conversation_id,
                SenderKind.AGENT,
                visitor.agent.account_id,
                MessageKind.TEXT,
                body,
                self._client_id(),
            )
        )
        self.tally.agent_replies += 1

    async def _end(self, visitor: _Visitor, at: float) -> None:
        assert visitor.agent is not None
        await self._send_as_agent(visitor, agent_line(self.rng, self._phrases, 1, last=True))
        await conversations.end_conversation(self.ctx, visitor.agent, visitor.conversation_id)
        self.tally.ended += 1
        if visitor.visit.stars is None:
            self._finish(visitor)
        else:
            self._push(at + consumer_gap(PLAN, self.rng) / 3, Step.RATE, visitor)

    # --- the consumers ----------------------------------------------------------------------

    async def _arrive(self, at: float) -> None:
        visit = plan_visit(self.rng, self._known, self._products)
        buyer = None
        if visit.order_card:
            free = [b for b in BUYERS if b[0] not in self._busy_buyers]
            buyer = self.rng.choice(free) if free else None
        if buyer is not None:
            consumer = await self._buyer_session(*buyer)
        else:
            session = await accounts.start_consumer_session(
                self.ctx, shop_id=self.shop_id, identity=None
            )
            consumer = ConsumerActor(session.consumer_id, self.shop_id)
        view = await conversations.open_conversation(self.ctx, consumer, entry=self._entry(visit))
        self.tally.arrived += 1
        if view.state != ConversationState.BOT:
            return  # a conversation of an earlier run, already past the bot: left alone
        visitor = _Visitor(
            visit, consumer, view.id, buyer=buyer[0] if buyer else None,
            order_no=_order_no(buyer[0]) if buyer else None,
        )  # fmt: skip
        if visitor.buyer is not None:
            self._busy_buyers.add(visitor.buyer)
        self._playing.add(visitor.conversation_id)
        self._push(at + consumer_gap(PLAN, self.rng) / 6, Step.ASK, visitor)

    def _entry(self, visit: Visit) -> dict[str, Any]:
        entry: dict[str, Any] = {"source": visit.source, "page_url": "", "ip": "", "region": ""}
        if visit.product is not None:
            pid, title, price = next(p for p in DEMO_PRODUCTS if p[0] == visit.product)
            entry["product"] = {"id": pid, "title": title, "price": price, "url": "", "image": ""}
        return entry

    async def _ask(self, visitor: _Visitor, at: float) -> None:
        """The consumer's next message to the bot: the order card first (buyers), then the
        questions, then 转人工 if they want a person; then whatever the bot decided."""
        visit = visitor.visit
        if visitor.order_no is not None and visitor.asked == 0:
            await self._send_card(visitor)
        elif visitor.asked - (visitor.order_no is not None) < len(visit.questions):
            text = visit.questions[visitor.asked - (visitor.order_no is not None)]
            await self._send_as_consumer(visitor, text)
        else:
            await self._send_as_consumer(visitor, ASK_HUMAN)
            self.tally.asked_human += 1
        visitor.asked += 1
        self.tally.asked_bot += 1
        view = await conversations.get_view(self.ctx, visitor.conversation_id)
        if view.state != ConversationState.BOT:
            self._taken(visitor, view, at)
            return
        planned = len(visit.questions) + (visitor.order_no is not None) + visit.wants_human
        if visitor.asked < planned:
            self._push(at + consumer_gap(PLAN, self.rng) / 3, Step.ASK, visitor)
        else:
            self._finish(visitor)  # answered by the bot: the timer ends the conversation

    async def _send_card(self, visitor: _Visitor) -> None:
        assert visitor.order_no is not None
        body = await catalog.card_body(
            self.ctx, visitor.consumer, CardKind.ORDER_CARD, visitor.order_no
        )
        await consumer_send(
            self.ctx,
            self.writer,
            visitor.consumer,
            conversation_id=visitor.conversation_id,
            client_id=self._client_id(),
            kind=MessageKind.ORDER_CARD,
            body=body,
            bot_text=card_summary(CardKind.ORDER_CARD, body),
        )

    async def _send_as_consumer(self, visitor: _Visitor, text: str) -> None:
        await consumer_send(
            self.ctx,
            self.writer,
            visitor.consumer,
            conversation_id=visitor.conversation_id,
            client_id=self._client_id(),
            kind=MessageKind.TEXT,
            body=text,
        )

    async def _consumer_says(self, visitor: _Visitor, at: float) -> None:
        await self._send_as_consumer(visitor, self.rng.choice(FOLLOW_UPS))

    async def _give_up(self, visitor: _Visitor, at: float) -> None:
        if visitor.conversation_id not in self._waiting:
            return  # assigned meanwhile
        await conversations.leave_queue(self.ctx, visitor.consumer)
        self.tally.left_queue += 1
        self._finish(visitor)

    async def _rate(self, visitor: _Visitor, at: float) -> None:
        assert visitor.visit.stars is not None
        await ratings.rate(
            self.ctx,
            visitor.consumer,
            conversation_id=visitor.conversation_id,
            stars=visitor.visit.stars,
        )
        self.tally.rated += 1
        self._finish(visitor)

    def _client_id(self) -> str:
        return f"lively-{self._prefix}-{next(self._client_ids)}"


def _order_no(uid: str) -> str:
    return "LV2026" + uid.rsplit("-", 1)[-1].zfill(4)
