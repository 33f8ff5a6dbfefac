"""Message delivery (MSG-2): validation, group commit, idempotent acks, resync pages, and the
typing preview (MSG-3).

Sends from all connections of a process meet in one queue; a writer task commits them in
batches — one transaction for up to `message_batch_max` messages — and acknowledges each only
after its commit. Seqs come from the conversation row, which the transaction holds locked.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Row, bindparam, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu import errors
from kefu.domain.conversation import (
    OPEN_STATES,
    ConversationState,
    agent_reply_window,
    check_agent_may_reply,
)
from kefu.domain.messages import MAX_TYPING_CHARS, MessageKind, SenderKind, check_body
from kefu.services.access import access_conversation, access_own_conversation
from kefu.services.context import (
    ConsumerActor,
    Context,
    Staff,
    account_topic,
    consumer_topic,
    supervisors_topic,
)
from kefu.storage import tables as t
from kefu.storage.views import MessageView, display_names, message_view, sender_name

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


@dataclass(frozen=True, slots=True)
class Ack:
    conversation_id: int
    seq: int
    client_id: str
    created_at: datetime
    conversation_state: str


_Pending = tuple[SendRequest, "asyncio.Future[Ack]"]


class MessageWriter:
    """The process's single writer of client messages (group commit)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="message-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def send(self, request: SendRequest) -> Ack:
        """MSG-2: returns once the message is committed; a resent client id returns the same ack."""
        check_body(request.kind, request.body)
        future: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        await self._queue.put((request, future))
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._ctx.settings.message_batch_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            except IntegrityError:
                # Another process raced us on a client id: redo one by one, each decides alone.
                for item in batch:
                    await self._write_guarded([item])
            except Exception as exc:  # the writer must outlive one bad batch
                log.exception("message batch failed", size=len(batch))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)

    async def _write_guarded(self, batch: list[_Pending]) -> None:
        try:
            await self._write(batch)
        except IntegrityError as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(
                        errors.Conflict("Concurrent write; resend.", detail=str(exc.orig))
                    )

    async def _write(self, batch: list[_Pending]) -> None:
        ctx = self._ctx
        now = ctx.clock.now()
        published: list[tuple[MessageView, list[str]]] = []
        async with ctx.db.uow() as tx:
            plan = await _plan(tx.conn, batch, now)
            published = await _append(tx.conn, plan, now)
            await tx.commit()
        for _, future in batch:
            if future.done():
                continue
            outcome = plan.outcomes[id(future)]
            if isinstance(outcome, errors.KefuError):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
        for view, topics in published:
            frame = {"type": "message", "message": view}
            for topic in topics:
                await ctx.broker.publish(topic, frame)


@dataclass
class _Plan:
    rows: dict[int, Row[Any]]
    participants: dict[int, set[int]]
    names: dict[int, str]
    accepted: dict[int, list[tuple[SendRequest, asyncio.Future[Ack]]]]
    outcomes: dict[int, Ack | errors.KefuError]


async def _plan(conn: AsyncConnection, batch: list[_Pending], now: datetime) -> _Plan:
    ids = sorted({r.conversation_id for r, _ in batch})
    c = t.conversations.c
    query = (
        select(t.conversations, t.consumers.c.nickname)
        .join(t.consumers, t.consumers.c.id == c.consumer_id)
        .where(c.id.in_(ids))
        .order_by(c.id)
    )
    if conn.dialect.name != "sqlite":
        query = query.with_for_update(of=t.conversations)
    rows = {r.id: r for r in await conn.execute(query)}
    participants: dict[int, set[int]] = defaultdict(set)
    for p in await conn.execute(
        select(t.participants.c.conversation_id, t.participants.c.account_id).where(
            t.participants.c.conversation_id.in_(ids)
        )
    ):
        participants[p.conversation_id].add(p.account_id)
    existing = await _existing(conn, batch)
    shop_ids = {r.shop_id for r in rows.values()}
    names: dict[int, str] = {}
    for shop_id in shop_ids:
        names |= await display_names(conn, shop_id)
    plan = _Plan(rows, participants, names, defaultdict(list), {})
    seen: dict[tuple[int, str, str], SendRequest] = {}
    for request, future in batch:
        key = (request.conversation_id, request.sender.value, request.client_id)
        try:
            if key in existing:
                plan.outcomes[id(future)] = _replay(request, existing[key], rows)
                continue
            if key in seen:
                raise _reused_or_dup(request, seen[key])
            _check_allowed(request, rows.get(request.conversation_id), participants, now)
        except errors.KefuError as exc:
            plan.outcomes[id(future)] = exc
            continue
        seen[key] = request
        plan.accepted[request.conversation_id].append((request, future))
    return plan


async def _existing(
    conn: AsyncConnection, batch: list[_Pending]
) -> dict[tuple[int, str, str], Row[Any]]:
    m = t.messages.c
    keys = {(r.conversation_id, r.sender.value, r.client_id) for r, _ in batch}
    rows = await conn.execute(
        select(t.messages).where(tuple_(m.conversation_id, m.sender, m.client_id).in_(list(keys)))
    )
    found: dict[tuple[int, str, str], Row[Any]] = {}
    for r in rows:
        found[(r.conversation_id, r.sender, r.client_id)] = r
    return found


def _replay(request: SendRequest, original: Row[Any], rows: dict[int, Row[Any]]) -> Ack:
    """MSG-2: same client id and same content: the original ack; different content: refused."""
    if original.body != request.body or original.kind != request.kind.value:
        raise errors.ClientIdReused(client_id=request.client_id)
    state = rows[request.conversation_id].state if request.conversation_id in rows else "ended"
    return Ack(request.conversation_id, original.seq, request.client_id, original.created_at, state)


def _reused_or_dup(request: SendRequest, first: SendRequest) -> errors.KefuError:
    if first.body != request.body or first.kind != request.kind:
        return errors.ClientIdReused(client_id=request.client_id)
    return errors.Conflict("The same message is already being sent.", client_id=request.client_id)


def _check_allowed(
    request: SendRequest, row: Row[Any] | None, participants: dict[int, set[int]], now: datetime
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


async def _append(
    conn: AsyncConnection, plan: _Plan, now: datetime
) -> list[tuple[MessageView, list[str]]]:
    """Give each accepted message the next seq of its conversation and insert them all.

    The rows in `plan` were read in this transaction under its write lock (FOR UPDATE on
    PostgreSQL, BEGIN IMMEDIATE on SQLite), so their last_seq is current and the new values
    are computed here: one UPDATE statement and one INSERT for the whole batch, instead of two
    round trips per conversation.
    """
    if not plan.accepted:
        return []
    c = t.conversations.c
    updates: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    out: list[tuple[MessageView, list[str]]] = []
    for conversation_id, items in plan.accepted.items():
        row = plan.rows[conversation_id]
        from_consumer = any(r.sender is SenderKind.CONSUMER for r, _ in items)
        last_is_consumer = items[-1][0].sender is SenderKind.CONSUMER
        updates.append(
            {
                "b_id": row.id,
                "b_last_seq": row.last_seq + len(items),
                "b_consumer_at": now if from_consumer else row.last_consumer_message_at,
                # CONV-2: the reply timer runs from the first unanswered consumer message.
                "b_awaiting": (row.awaiting_reply_since or now) if last_is_consumer else None,
            }
        )
        topics = _audience(row, plan.participants.get(row.id, set()))
        for i, (request, future) in enumerate(items):
            seq = row.last_seq + 1 + i
            records.append(
                {
                    "shop_id": row.shop_id,
                    "conversation_id": row.id,
                    "seq": seq,
                    "sender": request.sender.value,
                    "sender_id": request.sender_id,
                    "kind": request.kind.value,
                    "body": request.body,
                    "client_id": request.client_id,
                    "created_at": now,
                }
            )
            plan.outcomes[id(future)] = Ack(row.id, seq, request.client_id, now, row.state)
            view = MessageView(
                id=0,
                conversation_id=row.id,
                seq=seq,
                sender=request.sender.value,
                sender_id=request.sender_id,
                sender_name=sender_name(
                    request.sender.value,
                    consumer_name=row.nickname,
                    agent_name=plan.names.get(request.sender_id),
                ),
                kind=request.kind.value,
                body=request.body,
                client_id=request.client_id,
                created_at=now,
            )
            out.append((view, topics))
    await conn.execute(
        update(t.conversations)
        .where(c.id == bindparam("b_id"))
        .values(
            last_seq=bindparam("b_last_seq"),
            last_message_at=now,
            last_consumer_message_at=bindparam("b_consumer_at"),
            awaiting_reply_since=bindparam("b_awaiting"),
        ),
        updates,
    )
    await conn.execute(insert(t.messages), records)
    return out


def _audience(row: Row[Any], participants: set[int]) -> list[str]:
    return [
        consumer_topic(row.consumer_id),
        supervisors_topic(row.shop_id),
        *(account_topic(a) for a in sorted(participants)),
    ]


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
    m = t.messages.c
    async with ctx.db.read() as tx:
        row = await _access_for_read(tx.conn, actor, conversation_id)
        query = select(t.messages).where(m.conversation_id == conversation_id)
        if before_seq is not None:
            query = query.where(m.seq < before_seq).order_by(m.seq.desc())
        else:
            query = query.where(m.seq > (since_seq or 0)).order_by(m.seq)
        rows = list((await tx.conn.execute(query.limit(limit + 1))).all())
        names = await display_names(tx.conn, row.shop_id)
        nickname = await tx.conn.scalar(
            select(t.consumers.c.nickname).where(t.consumers.c.id == row.consumer_id)
        )
    has_more = len(rows) > limit
    rows = rows[:limit]
    if before_seq is not None:
        rows.reverse()
    return [message_view(r, names, nickname or "") for r in rows], has_more


async def _access_for_read(
    conn: AsyncConnection, actor: Staff | ConsumerActor, conversation_id: int
) -> Row[Any]:
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
        row = await _access_for_read(tx.conn, consumer, conversation_id)
        accounts = list(
            (
                await tx.conn.scalars(
                    select(t.participants.c.account_id).where(
                        t.participants.c.conversation_id == row.id
                    )
                )
            ).all()
        )
    frame = {"type": "typing", "conversation_id": conversation_id, "text": text}
    for account_id in accounts:
        await ctx.broker.publish(account_topic(account_id), frame)
