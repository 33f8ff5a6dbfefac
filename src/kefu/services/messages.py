"""Message delivery (MSG-2): validation, group commit, idempotent acks, resync pages, and the
typing preview (MSG-3).

Sends from all connections of a process meet in one queue; a writer task commits them in
batches — one transaction for up to `message_batch_max` messages — and acknowledges each only
after its commit. Seqs come from the conversation row, which the transaction holds locked.

The writer waits on the queue while there is nothing to write, and starts a batch at most
every `message_batch_every_ms`: under steady traffic a batch's fixed cost (a hop to the
database's thread, a transaction) is shared by more messages. On a SQLite file a batch is one
hop to a thread that holds its own connection and runs the whole transaction (issue 16: through
aiosqlite and SQLAlchemy a batch cost ~27 hand-offs whatever its size); the decisions are the
same pure functions on either path.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from kefu import errors, telemetry
from kefu.domain.conversation import (
    OPEN_STATES,
    SPEAKING_ROLES,
    ConversationState,
    agent_reply_window,
    check_agent_may_reply,
)
from kefu.domain.messages import (
    MAX_TYPING_CHARS,
    MessageKind,
    SenderKind,
    check_body,
    reply_clock_after,
)
from kefu.services.access import access_conversation, access_own_conversation
from kefu.services.context import (
    ConsumerActor,
    Context,
    Staff,
    account_topic,
)
from kefu.services.events import audience, publish_message, publish_to
from kefu.services.views import MessageView, display_names, message_view
from kefu.storage import conversations as conversation_store
from kefu.storage import messages as message_store
from kefu.storage import webhooks as webhook_store
from kefu.storage.conversations import ConversationRecord
from kefu.storage.db import Connection
from kefu.storage.messages import (
    Append,
    Appended,
    DuplicateMessage,
    MessageRecord,
    NewMessage,
    PgBatch,
    SendTarget,
    SqliteBatch,
    SqliteBatches,
)

log = structlog.get_logger(__name__)

SYNC_PAGE_MAX = 200


@dataclass(frozen=True, slots=True)
class SendRequest:
    shop_id: int
    conversation_id: int
    sender: SenderKind
    sender_id: int
    kind: MessageKind
    body: str
    client_id: str
    meta: dict[str, Any] | None = None  # a picture or file message's attachment (MSG-1)
    # The socket that sent it (`origin` of kefu.services.events), which takes the message from
    # its ack and not again as a `message` frame (MSG-2); None for a send over HTTP.
    origin: str | None = None


@dataclass(frozen=True, slots=True)
class Ack:
    conversation_id: int
    seq: int
    client_id: str
    created_at: datetime
    conversation_state: str
    message: MessageView | None = None  # the stored message, which the socket's ack carries


_Pending = tuple[SendRequest, "asyncio.Future[Ack]"]
# A stored message, who hears of it, and the socket that sent it (not told again).
_Published = tuple[MessageView, list[str], str | None]
# How long a shutdown waits for the queued messages to be committed.
STOP_WITHIN_S = 10.0
MESSAGE_EVENT = "message.created"  # API-2


class MessageWriter:
    """The process's single writer of client messages (group commit)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        # None: the end of the queue, put there by `stop`.
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._is_stopping = False
        self._batches: SqliteBatches | None = None
        # Set while the writer waits for its next batch to fill (`_linger`).
        self._filling: asyncio.Future[None] | None = None

    async def start(self) -> None:
        self._batches = SqliteBatches.of(self._ctx.db)
        self._task = asyncio.create_task(self._run(), name="message-writer")

    async def stop(self) -> None:
        """Take no more sends, commit and acknowledge the queued ones, then end (a shutdown).
        A writer that cannot finish within STOP_WITHIN_S is cancelled, and its senders are
        told `unavailable`."""
        self._is_stopping = True
        if self._task is None or self._task.done():
            return
        self._queue.put_nowait(None)
        self._filled()
        await asyncio.wait({self._task}, timeout=STOP_WITHIN_S)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        while not self._queue.empty():
            if (item := self._queue.get_nowait()) is not None:
                _refuse_unsettled([item])
        if self._batches is not None:
            await self._batches.close()
            self._batches = None

    async def send(self, request: SendRequest) -> Ack:
        """MSG-2: returns once the message is committed; a resent client id returns the same ack."""
        check_body(request.kind, request.body)
        if self._is_stopping:
            raise _stopping()
        future: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((request, future))
        # With the batch's first send, taken off the queue while the writer lingers.
        if self._filling is not None and self._queue.qsize() + 1 >= self._enough:
            self._filled()
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        every_s = self._ctx.settings.message_batch_every_ms / 1000
        started = -every_s
        while (first := await self._queue.get()) is not None:
            wait = linger_s(
                loop.time() - started, every_s, queued=self._queue.qsize() + 1, enough=self._enough
            )
            if wait > 0 and not self._is_stopping:
                await self._linger(wait)  # what arrives meanwhile joins this batch
            started = loop.time()
            batch = self._batch_from(first)
            try:
                await self._write_batch(batch)
            finally:
                _refuse_unsettled(batch)  # cancelled mid-write: nobody waits forever

    @property
    def _enough(self) -> int:
        settings = self._ctx.settings
        return min(settings.message_batch_enough, settings.message_batch_max)

    async def _linger(self, wait_s: float) -> None:
        """Until `wait_s` has passed, or `send` finds enough sends waiting, or `stop`."""
        loop = asyncio.get_running_loop()
        self._filling = filling = loop.create_future()
        timer = loop.call_later(wait_s, self._filled)
        try:
            await filling
        finally:
            timer.cancel()
            self._filling = None

    def _filled(self) -> None:
        if self._filling is not None and not self._filling.done():
            self._filling.set_result(None)

    def _batch_from(self, first: _Pending) -> list[_Pending]:
        """`first` and what else is queued, up to message_batch_max, and never past the end."""
        batch = [first]
        while len(batch) < self._ctx.settings.message_batch_max and not self._queue.empty():
            item = self._queue.get_nowait()
            if item is None:
                self._queue.put_nowait(None)  # the end comes after this last batch
                break
            batch.append(item)
        return batch

    async def _write_batch(self, batch: list[_Pending]) -> None:
        try:
            await self._write(batch)
        except DuplicateMessage:
            # Another process stored one of these client ids after the batch looked for
            # them: redo one by one, each reading again, so that it is replayed (MSG-2).
            for item in batch:
                await self._write_failing([item])
        except Exception as exc:
            _fail(batch, exc)

    async def _write_failing(self, batch: list[_Pending]) -> None:
        """One batch, whose failure fails its senders only: the writer outlives it."""
        try:
            await self._write_guarded(batch)
        except Exception as exc:
            _fail(batch, exc)

    async def _write_guarded(self, batch: list[_Pending]) -> None:
        try:
            await self._write(batch)
        except DuplicateMessage as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(
                        errors.Conflict("Concurrent write; resend.", detail=str(exc))
                    )

    async def _write(self, batch: list[_Pending]) -> None:
        ctx = self._ctx
        now = ctx.clock.now()
        published: list[_Published] = []
        started = time.perf_counter()
        shops = {r.shop_id for r, _ in batch}
        if self._batches is not None and await webhook_store.nobody_subscribed(
            ctx.db, shops, MESSAGE_EVENT, now
        ):
            plan, published = await self._batches.run(lambda tx: _write_sqlite(tx, batch, now))
        elif not ctx.db.is_sqlite:
            async with ctx.db.uow() as tx:
                plan, published = await _write_pg(PgBatch(tx.conn), batch, now)
                await _announce(tx.conn, plan, published)
                await tx.commit()
        else:  # a shop hears of its messages (API-2), or an in-memory SQLite (tests)
            async with ctx.db.uow() as tx:
                plan = await _plan(tx.conn, batch, now)
                published = await _append(tx.conn, plan, now)
                await _announce(tx.conn, plan, published)
                await tx.commit()
        telemetry.writer_batch(len(batch), time.perf_counter() - started)
        _settle_replays(plan)
        telemetry.messages_stored(view.sender for view, _, _ in published)
        for repeat, original in plan.repeats:
            plan.outcomes[repeat] = plan.outcomes[original]
        for _, future in batch:
            if future.done():
                continue
            outcome = plan.outcomes[id(future)]
            if isinstance(outcome, errors.KefuError):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
        for view, topics, origin in published:
            await publish_message(ctx, topics, view, origin=origin)


def linger_s(since_last_s: float, every_s: float, *, queued: int, enough: int) -> float:
    """How long the writer waits before taking a batch (group commit): until `every_s` after
    the last batch began, unless `enough` sends are already queued. A send after a quiet spell
    waits for nothing."""
    if queued >= enough:
        return 0.0
    return max(0.0, every_s - since_last_s)


def _fail(batch: list[_Pending], exc: Exception) -> None:
    """Nothing of the batch was committed: each sender is told why. A database outage is
    `unavailable` (retryable: the client resends with the same client id), logged without a
    traceback; anything else is a bug, logged with one."""
    if isinstance(exc, errors.Unavailable):
        log.warning("message batch refused", size=len(batch), error=exc.code, **exc.params)
    else:
        log.exception("message batch failed", size=len(batch))
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)


def _stopping() -> errors.Unavailable:
    return errors.Unavailable(
        "The server is shutting down; send again after reconnecting.", retryable=True
    )


def _refuse_unsettled(batch: list[_Pending]) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(_stopping())


@dataclass
class _Plan:
    targets: dict[int, SendTarget]
    participants: dict[int, set[int]]
    names: dict[int, str]
    accepted: dict[int, list[tuple[SendRequest, asyncio.Future[Ack]]]]
    outcomes: dict[int, Ack | errors.KefuError]
    # A request sent again within the batch, and the accepted one it repeats (ids of futures):
    # it gets the same ack once that one commits (MSG-2).
    repeats: list[tuple[int, int]] = field(default_factory=list)
    # Who may write in each conversation: not a previous holder, nor one who left (CONV-7/8).
    speakers: dict[int, set[int]] = field(default_factory=dict)
    # Sends answered with a message stored before (by id of future), whose acks carry it.
    replayed: dict[int, MessageRecord] = field(default_factory=dict)


def _write_sqlite(
    tx: SqliteBatch, batch: list[_Pending], now: datetime
) -> tuple[_Plan, list[_Published]]:
    """The whole batch in the batch thread's transaction: the same reads, decisions and
    writes as `_plan` and `_append`, in five statements (the futures are only looked at)."""
    ids = sorted({r.conversation_id for r, _ in batch})
    targets = tx.lock_send_targets(ids)
    participants, speakers = _by_role(tx.participant_roles(ids))
    existing = tx.by_client_ids({_key(r) for r, _ in batch})
    plan = _decide(batch, targets, participants, speakers, existing, now)
    plan.names = tx.sender_names(_agent_senders(plan))
    appended = tx.append_stamped(_appends(plan), now=now)
    return plan, _settle(plan, appended)


async def _write_pg(
    tx: PgBatch, batch: list[_Pending], now: datetime
) -> tuple[_Plan, list[_Published]]:
    """`_write_sqlite` on PostgreSQL: two statements before the commit."""
    ids = sorted({r.conversation_id for r, _ in batch})
    keys = {_key(r) for r, _ in batch}
    targets = await tx.lock_send_targets(ids, keys)
    participants, speakers = _by_role(tx.participant_roles(ids))
    existing = tx.by_client_ids(keys)
    plan = _decide(batch, targets, participants, speakers, existing, now)
    plan.names = tx.sender_names(_agent_senders(plan))
    appended = await tx.append_stamped(_appends(plan), now=now)
    return plan, _settle(plan, appended)


def _by_role(roles: dict[int, dict[int, str]]) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    """Each conversation's participants, and those of them who may speak (CONV-7/8)."""
    participants = {cid: set(by_account) for cid, by_account in roles.items()}
    speakers = {
        cid: {a for a, role in by_account.items() if role in SPEAKING_ROLES}
        for cid, by_account in roles.items()
    }
    return participants, speakers


def _key(request: SendRequest) -> tuple[int, str, str]:
    return (request.conversation_id, request.sender.value, request.client_id)


def _agent_senders(plan: _Plan) -> set[int]:
    """The agents whose names the batch's messages show, replayed ones included."""
    return {
        r.sender_id for items in plan.accepted.values() for r, _ in items
        if r.sender is SenderKind.AGENT
    } | {
        r.sender_id for r in plan.replayed.values()
        if r.sender_id is not None and r.sender == SenderKind.AGENT.value
    }  # fmt: skip


async def _plan(conn: Connection, batch: list[_Pending], now: datetime) -> _Plan:
    ids = sorted({r.conversation_id for r, _ in batch})
    targets = await message_store.lock_send_targets(conn, ids)
    participants = await conversation_store.participant_ids(conn, ids)
    existing = await _existing(conn, batch)
    speakers = await conversation_store.participant_ids(conn, ids, roles=SPEAKING_ROLES)
    plan = _decide(batch, targets, participants, speakers, existing, now)
    plan.names = await message_store.sender_names(conn, _agent_senders(plan))
    return plan


def _decide(
    batch: list[_Pending],
    targets: dict[int, SendTarget],
    participants: dict[int, set[int]],
    speakers: dict[int, set[int]],
    existing: dict[tuple[int, str, str], MessageRecord],
    now: datetime,
) -> _Plan:
    """MSG-2, CONV-7/8: which sends of the batch are stored, replayed or refused (pure)."""
    plan = _Plan(targets, participants, {}, defaultdict(list), {})
    plan.speakers = speakers
    seen: dict[tuple[int, str, str], _Pending] = {}
    for request, future in batch:
        key = (request.conversation_id, request.sender.value, request.client_id)
        try:
            if key in existing:
                plan.outcomes[id(future)] = _replay(request, existing[key], targets)
                plan.replayed[id(future)] = existing[key]
                continue
            if key in seen:
                first, first_future = seen[key]
                _check_same_content(request, first)
                plan.repeats.append((id(future), id(first_future)))
                continue
            _check_allowed(request, targets.get(request.conversation_id), plan.speakers, now)
        except errors.KefuError as exc:
            plan.outcomes[id(future)] = exc
            continue
        seen[key] = (request, future)
        plan.accepted[request.conversation_id].append((request, future))
    return plan


async def _existing(
    conn: Connection, batch: list[_Pending]
) -> dict[tuple[int, str, str], MessageRecord]:
    keys = {(r.conversation_id, r.sender.value, r.client_id) for r, _ in batch}
    return await message_store.by_client_ids(conn, keys)


def _replay(request: SendRequest, original: MessageRecord, targets: dict[int, SendTarget]) -> Ack:
    """MSG-2: same client id and same content: the original ack; different content: refused."""
    if original.body != request.body or original.kind != request.kind.value:
        raise errors.ClientIdReused(client_id=request.client_id)
    target = targets.get(request.conversation_id)
    state = target.state if target is not None else "ended"
    return Ack(request.conversation_id, original.seq, request.client_id, original.created_at, state)


def _check_same_content(request: SendRequest, first: SendRequest) -> None:
    """MSG-2 within a batch: a repeat gets the first one's ack, unless its content differs."""
    if first.body != request.body or first.kind != request.kind:
        raise errors.ClientIdReused(client_id=request.client_id)


def _check_allowed(
    request: SendRequest,
    row: SendTarget | None,
    participants: dict[int, set[int]],
    now: datetime,
) -> None:
    if row is None or row.shop_id != request.shop_id:
        raise errors.NotFound(kind="conversation", id=request.conversation_id)
    state = ConversationState(row.state)
    if request.sender is SenderKind.CONSUMER:
        if row.consumer_id != request.sender_id:
            raise errors.NotFound(kind="conversation", id=request.conversation_id)
        if state not in OPEN_STATES:
            raise errors.ConversationClosed(state=state.value)
        return
    if request.sender_id not in participants.get(row.id, set()):
        raise errors.NotParticipant()
    window = agent_reply_window(
        state=state,
        ended_at=row.ended_at,
        last_consumer_message_at=row.last_consumer_message_at,
        now=now,
    )
    check_agent_may_reply(window)


async def _append(conn: Connection, plan: _Plan, now: datetime) -> list[_Published]:
    """Store the accepted messages at their conversations' next seqs (MSG-2), and settle each
    one's ack and live view."""
    if not plan.accepted:
        return []
    appended = await message_store.append_stamped(conn, _appends(plan), now=now)
    return _settle(plan, appended)


def _appends(plan: _Plan) -> list[Append]:
    return [
        Append(
            shop_id=plan.targets[conversation_id].shop_id,
            conversation_id=conversation_id,
            messages=[
                NewMessage(r.sender, r.sender_id, r.kind, r.body, r.client_id, r.meta)
                for r, _ in items
            ],
            consumer_spoke=any(r.sender is SenderKind.CONSUMER for r, _ in items),
            reply_clock=reply_clock_after([r.sender for r, _ in items]),
        )
        for conversation_id, items in plan.accepted.items()
    ]


def _settle(plan: _Plan, appended: dict[int, Appended]) -> list[_Published]:
    """Each accepted send's ack and live view, from its stored seq and time."""
    out: list[_Published] = []
    for conversation_id, items in plan.accepted.items():
        target = plan.targets[conversation_id]
        topics = audience(
            target.shop_id, target.consumer_id, plan.participants.get(conversation_id, ())
        )
        # Issue 17: the stored time, which is never before the previous message's.
        created_at = appended[conversation_id].created_at
        for (request, future), seq in zip(items, appended[conversation_id].seqs, strict=True):
            record = MessageRecord(
                0,
                conversation_id,
                seq,
                request.sender,
                request.sender_id,
                request.kind,
                request.body,
                request.client_id,
                created_at,
                request.meta,
            )
            view = message_view(record, plan.names, target.consumer_name)
            plan.outcomes[id(future)] = Ack(
                conversation_id, seq, request.client_id, created_at, target.state, view
            )
            out.append((view, topics, request.origin))
    return out


def _settle_replays(plan: _Plan) -> None:
    """MSG-2: a resent send's ack carries the message stored the first time."""
    for key, record in plan.replayed.items():
        outcome = plan.outcomes[key]
        if isinstance(outcome, Ack):
            target = plan.targets.get(record.conversation_id)
            nickname = target.consumer_name if target is not None else ""
            view = message_view(record, plan.names, nickname)
            plan.outcomes[key] = dataclasses.replace(outcome, message=view)


async def _announce(conn: Connection, plan: _Plan, published: list[_Published]) -> None:
    """API-2: each stored consumer or agent message as a webhook event, in the batch's
    transaction (no query for a shop nobody subscribed). The SQLite batch thread takes only
    batches whose shops have no subscriber (`nobody_subscribed`)."""
    for view, _, _ in published:
        target = plan.targets[view.conversation_id]
        await webhook_store.record_event(
            conn,
            shop_id=target.shop_id,
            event=MESSAGE_EVENT,
            data={
                "conversation_id": view.conversation_id,
                "consumer_id": target.consumer_id,
                "seq": view.seq,
                "sender": view.sender,
                "sender_id": view.sender_id,
                "kind": view.kind,
                "body": view.body,
                "created_at": view.created_at,
            },
            now=view.created_at,
        )


async def history(
    ctx: Context,
    actor: Staff | ConsumerActor,
    conversation_id: int,
    *,
    since_seq: int | None = None,
    before_seq: int | None = None,
    limit: int = SYNC_PAGE_MAX,
) -> tuple[list[MessageView], bool]:
    """MSG-2: messages after `since_seq` (resync) or before `before_seq` (scroll up)."""
    limit = max(1, min(limit, SYNC_PAGE_MAX))
    async with ctx.db.read() as tx:
        row = await _access_for_read(tx.conn, actor, conversation_id)
        records = await message_store.page(
            tx.conn, conversation_id, since_seq=since_seq, before_seq=before_seq, limit=limit + 1
        )
        names = await display_names(tx.conn, row.shop_id)
        nickname = await conversation_store.consumer_name(tx.conn, row.consumer_id)
    has_more = len(records) > limit
    # A page before `before_seq` runs up to it: the extra record is the oldest one.
    records = records[1:] if has_more and before_seq is not None else records[:limit]
    return [message_view(r, names, nickname) for r in records], has_more


async def _access_for_read(
    conn: Connection, actor: Staff | ConsumerActor, conversation_id: int
) -> ConversationRecord:
    if isinstance(actor, Staff):
        return await access_conversation(conn, actor, conversation_id)
    return await access_own_conversation(conn, actor, conversation_id)


async def preview_typing(
    ctx: Context, consumer: ConsumerActor, conversation_id: int, text: str
) -> None:
    """MSG-3: the agents of the conversation see what the consumer is typing."""
    if len(text) > MAX_TYPING_CHARS or "\x00" in text:
        raise errors.BadInput("Typing preview too long or invalid.", max_chars=MAX_TYPING_CHARS)
    async with ctx.db.read() as tx:
        await _access_for_read(tx.conn, consumer, conversation_id)
        accounts = await conversation_store.participant_ids(tx.conn, [conversation_id])
    frame = {"type": "typing", "conversation_id": conversation_id, "text": text}
    topics = [account_topic(a) for a in sorted(accounts.get(conversation_id, ()))]
    await publish_to(ctx, topics, frame)
