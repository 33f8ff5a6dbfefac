"""The bot in a conversation (BOT-3, BOT-4, BOT-6): it answers a consumer's message or says it
did not understand, hands over after two misses in a row, records feedback and FAQ clicks.
Every verdict is an event row (bot_consulted, bot_answer, bot_miss, bot_handover, bot_feedback,
faq_click) written in the transaction that posts the bot's message; statistics read only those
rows. Matching happens before the transaction, off the event loop."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kefu import errors
from kefu.bot import entry as entry_service
from kefu.bot.cache import KbCache
from kefu.bot.domain import (
    HANDOVER_AFTER_MISSES,
    asks_for_human,
    consecutive_misses,
    suggested_ids,
)
from kefu.bot.service import decide
from kefu.domain import notices
from kefu.domain.conversation import OPEN_STATES, ConversationState
from kefu.domain.notices import Notice
from kefu.services import events
from kefu.services.context import ConsumerActor, Context
from kefu.services.conversations import request_human
from kefu.services.views import conversation_views, display_names, message_view
from kefu.storage import conversations as conversation_store
from kefu.storage import kb
from kefu.storage import messages as message_store
from kefu.storage.conversations import ConversationRecord
from kefu.storage.db import Connection
from kefu.storage.kb import QuestionView
from kefu.storage.messages import Append, NewMessage, notice_message


async def reply(
    ctx: Context,
    matchers: KbCache,
    consumer: ConsumerActor,
    *,
    conversation_id: int,
    seq: int,
    text: str,
) -> None:
    """BOT-3/BOT-4: answer the consumer's message `seq`, or miss; two misses hand over."""
    if asks_for_human(text):
        await _consult(ctx, consumer, conversation_id)
        await request_human(ctx, consumer, cause="consumer")
        return
    decision = await decide(ctx, matchers, consumer.shop_id, text)
    question_id = decision.candidate.entry_id if decision.candidate else None
    confidence = decision.candidate.confidence if decision.candidate else None
    suggestions = [] if decision.candidate else suggested_ids(decision.alternatives)
    hand_over = await _verdict(
        ctx, consumer, conversation_id, seq, question_id, confidence, suggestions
    )
    if hand_over:
        await request_human(ctx, consumer, cause="bot_handover")


async def _consult(ctx: Context, consumer: ConsumerActor, conversation_id: int) -> None:
    async with ctx.db.uow() as tx:
        row = await _own_conversation(tx.conn, consumer, conversation_id)
        if row.state == ConversationState.BOT:
            await _mark_consulted(tx.conn, row, ctx.clock.now())
            await tx.commit()


async def _verdict(
    ctx: Context,
    consumer: ConsumerActor,
    conversation_id: int,
    seq: int,
    question_id: int | None,
    confidence: float | None,
    suggestions: list[int],
) -> bool:
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        conn = tx.conn
        row = await _own_conversation(conn, consumer, conversation_id, for_update=True)
        if row.state != ConversationState.BOT:
            return False
        latest = await kb.latest_verdicts(conn, conversation_id, HANDOVER_AFTER_MISSES)
        if latest and int(latest[0][1].get("seq") or 0) >= seq:
            return False  # this message was answered already (a resent client id, MSG-2)
        await _mark_consulted(conn, row, now)
        found = await kb.questions_by_id(conn, row.shop_id, [question_id] if question_id else [])
        question = found.get(question_id) if question_id else None
        hand_over = False
        if question is not None:
            new_seq = await _answer(
                conn, row, question, now, {"seq": seq, "confidence": confidence}
            )
        else:
            new_seq = await _miss(conn, row, suggestions, now)
            await _event(conn, row, "bot_miss", now, data={"seq": seq, "message_seq": new_seq})
            misses = consecutive_misses(kind for kind, _ in latest) + 1
            hand_over = misses >= HANDOVER_AFTER_MISSES
            if hand_over:
                await _event(conn, row, "bot_handover", now, cause="misses", data={"seq": seq})
        tx.on_commit(lambda: publish_messages(ctx, conversation_id, [new_seq]))
        await tx.commit()
    return hand_over


async def _own_conversation(
    conn: Connection,
    consumer: ConsumerActor,
    conversation_id: int,
    *,
    for_update: bool = False,
) -> ConversationRecord:
    """The consumer's own conversation; anyone else's is NotFound (ACCT-5)."""
    row = await conversation_store.get(
        conn, consumer.shop_id, conversation_id, for_update=for_update
    )
    if row.consumer_id != consumer.consumer_id:
        raise errors.NotFound(kind="conversation", id=conversation_id)
    return row


async def _mark_consulted(conn: Connection, row: ConversationRecord, now: datetime) -> None:
    """BOT-6: a conversation enters the bot once, at the first message the bot handles."""
    if not await kb.has_event(conn, row.id, "bot_consulted"):
        await _event(conn, row, "bot_consulted", now)


async def _answer(
    conn: Connection,
    row: ConversationRecord,
    question: QuestionView,
    now: datetime,
    data: dict[str, Any],
) -> int:
    """BOT-3: post the answer with its related questions and a pending feedback prompt."""
    related = await kb.questions_by_id(conn, row.shop_id, question.related_ids)
    meta = {
        "question_id": question.id,
        "related": [
            {"question_id": r, "question": related[r].question}
            for r in question.related_ids
            if r in related
        ],
        "feedback": "pending",
    }
    new_seq = await _post(
        conn, row, NewMessage("bot", None, "text", question.answer, meta=meta), now
    )
    await _event(
        conn,
        row,
        "bot_answer",
        now,
        data={**data, "question_id": question.id, "message_seq": new_seq},
    )
    await kb.count_hit(conn, question.id)
    return new_seq


async def _miss(
    conn: Connection, row: ConversationRecord, suggestions: list[int], now: datetime
) -> int:
    """BOT-4: "please ask another way", offering the near misses as "did you mean" (BOT-5)."""
    found = await kb.questions_by_id(conn, row.shop_id, suggestions)
    related = [{"question_id": q, "question": found[q].question} for q in suggestions if q in found]
    if not related:
        return await _post(conn, row, _says(notices.bot_no_answer(), {"miss": True}), now)
    meta = {"miss": True, "related": related}
    return await _post(conn, row, _says(notices.bot_suggestions(), meta), now)


def _says(notice: Notice, meta: dict[str, Any]) -> NewMessage:
    """The bot's own words (MSG-1): a notice that clients translate, as a bot text message."""
    return notice_message(notice, sender="bot", kind="text", meta=meta)


async def _post(
    conn: Connection, row: ConversationRecord, message: NewMessage, now: datetime
) -> int:
    seqs = await message_store.append(conn, [Append(row.shop_id, row.id, [message])], now=now)
    (seq,) = seqs[row.id]
    return seq


async def _event(
    conn: Connection,
    row: ConversationRecord,
    kind: str,
    now: datetime,
    *,
    cause: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    await conversation_store.record_event(
        conn,
        shop_id=row.shop_id,
        conversation_id=row.id,
        kind=kind,
        cause=cause,
        group_id=row.group_id,
        at=now,
        data=data,
    )


async def publish_messages(ctx: Context, conversation_id: int, seqs: Sequence[int]) -> None:
    """After commit: the new messages to the conversation's audience, like any message."""
    async with ctx.db.read() as tx:
        (view,) = await conversation_views(tx.conn, [conversation_id], now=ctx.clock.now())
        names = await display_names(tx.conn, view.shop_id)
        rows = [await kb.message_at(tx.conn, conversation_id, s) for s in seqs]
    for r in rows:
        if r is not None:
            message = message_view(r, names, view.consumer.nickname)
            await events.publish_message(ctx, events.audience_of(view), message)


@dataclass(frozen=True, slots=True)
class Feedback:
    conversation_id: int
    seq: int
    resolved: bool


async def feedback(
    ctx: Context, consumer: ConsumerActor, *, conversation_id: int, seq: int, resolved: bool
) -> Feedback:
    """BOT-3: the consumer says whether the answer at `seq` resolved it; once per answer."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        conn = tx.conn
        row = await _own_conversation(conn, consumer, conversation_id, for_update=True)
        message = await kb.message_at(conn, conversation_id, seq)
        meta = dict(message.meta or {}) if message is not None else {}
        if message is None or message.sender != "bot" or "question_id" not in meta:
            raise errors.NotFound(kind="answer", id=seq)
        if meta.get("feedback") != "pending":
            raise errors.Conflict(
                "This answer already has feedback.", feedback=meta.get("feedback")
            )
        verdict = "resolved" if resolved else "unresolved"
        await kb.set_message_meta(conn, message.id, {**meta, "feedback": verdict})
        await _event(
            conn,
            row,
            "bot_feedback",
            now,
            cause=verdict,
            data={"seq": seq, "question_id": meta["question_id"]},
        )
        await kb.count_feedback(conn, int(meta["question_id"]), resolved=resolved)
        await tx.commit()
    return Feedback(conversation_id, seq, resolved)


@dataclass(frozen=True, slots=True)
class FaqClick:
    conversation_id: int
    item_id: str
    seq: int | None


async def faq_click(
    ctx: Context, consumer: ConsumerActor, *, conversation_id: int, item_id: str
) -> FaqClick:
    """BOT-6, ENTRY-2: count the click; the bot answers the linked question as if asked."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        conn = tx.conn
        row = await _own_conversation(conn, consumer, conversation_id, for_update=True)
        item = (await entry_service.entry_of(conn, consumer.shop_id)).item(item_id)
        if item is None:
            raise errors.NotFound(kind="faq_item", id=item_id)
        if ConversationState(row.state) not in OPEN_STATES:
            raise errors.ConversationClosed(state=row.state)
        await _event(conn, row, "faq_click", now, cause=item.id, data={"title": item.title})
        found = await kb.questions_by_id(conn, row.shop_id, [item.question_id or 0])
        question = found.get(item.question_id or 0)
        new_seq = None
        if question is not None:
            if row.state == ConversationState.BOT:
                await _mark_consulted(conn, row, now)
            new_seq = await _answer(conn, row, question, now, {"seq": None, "faq_item": item.id})
            answered = new_seq
            tx.on_commit(lambda: publish_messages(ctx, conversation_id, [answered]))
        await tx.commit()
    return FaqClick(conversation_id, item.id, new_seq)


@dataclass(frozen=True, slots=True)
class SuggestionClick:
    conversation_id: int
    seq: int
    question_id: int
    answer_seq: int


async def suggestion_click(
    ctx: Context, consumer: ConsumerActor, *, conversation_id: int, seq: int, question_id: int
) -> SuggestionClick:
    """BOT-5, BOT-6: the consumer picked a question the bot offered in its message at `seq` (a
    miss's "did you mean", or an answer's related questions): the bot answers it, and the
    answer counts as a hit like any other, the click as a `suggestion_click` event."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        conn = tx.conn
        row = await _own_conversation(conn, consumer, conversation_id, for_update=True)
        message = await kb.message_at(conn, conversation_id, seq)
        meta = dict(message.meta or {}) if message is not None else {}
        offered = {
            int(r["question_id"])
            for r in meta.get("related") or ()
            if isinstance(r, dict) and isinstance(r.get("question_id"), int)
        }
        if message is None or message.sender != "bot" or question_id not in offered:
            raise errors.NotFound(kind="suggestion", id=question_id)
        if ConversationState(row.state) not in OPEN_STATES:
            raise errors.ConversationClosed(state=row.state)
        found = await kb.questions_by_id(conn, row.shop_id, [question_id])
        question = found.get(question_id)
        if question is None:
            raise errors.NotFound(kind="question", id=question_id)
        source = "miss" if meta.get("miss") else "related"
        await _event(
            conn,
            row,
            "suggestion_click",
            now,
            cause=source,
            data={"seq": seq, "question_id": question_id},
        )
        if row.state == ConversationState.BOT:
            await _mark_consulted(conn, row, now)
        answer_seq = await _answer(conn, row, question, now, {"seq": None, "suggestion_seq": seq})
        tx.on_commit(lambda: publish_messages(ctx, conversation_id, [answer_seq]))
        await tx.commit()
    return SuggestionClick(conversation_id, seq, question_id, answer_seq)
