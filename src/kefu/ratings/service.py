"""Ratings' use cases (RATE-1, RATE-2, CONV-7, DESK-4, DESK-7): the consumer rates, the agent
invites a rating, the workbench reads a conversation's ratings and response time. Each use case:
access, load, decide (ratings/domain.py), save, publish after commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kefu import errors
from kefu.domain import notices
from kefu.ratings.domain import (
    RatingRecord,
    RatingSource,
    average_response_time,
    best_rating,
    check_may_rate,
    check_source,
    check_stars,
)
from kefu.services.access import access_conversation, access_own_conversation
from kefu.services.context import ConsumerActor, Context, Staff
from kefu.services.routing import announce
from kefu.services.views import ConversationView
from kefu.storage import accounts as account_store
from kefu.storage import conversations as conversation_store
from kefu.storage import messages as message_store
from kefu.storage import ratings as rating_store
from kefu.storage import webhooks as webhook_store
from kefu.storage.conversations import ConversationRecord
from kefu.storage.db import UnitOfWork
from kefu.storage.messages import Append, notice_message

# What a rating card's message carries in `meta` besides its notice: the card's source.
CARD_KEY = "rating_card"


@dataclass(frozen=True, slots=True)
class Rated:
    """RATE-2: what the consumer is told after rating; `best` is the rating that counts."""

    conversation_id: int
    stars: int
    source: str
    agent_id: int
    agent_name: str
    best: int


@dataclass(frozen=True, slots=True)
class RatingView:
    stars: int
    source: str
    agent_id: int
    agent_name: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ServiceQuality:
    """DESK-4: the header's rating result and this conversation's average response time."""

    conversation_id: int
    rating: int | None
    ratings: list[RatingView]
    average_response_s: float | None


async def rate(
    ctx: Context,
    consumer: ConsumerActor,
    *,
    conversation_id: int,
    stars: int,
    card_seq: int | None = None,
) -> Rated:
    """RATE-1, RATE-2, CONV-7: the consumer rates the conversation's holder, on their own
    (once) or answering a rating card (each card once); the thanks notice follows."""
    check_stars(stars)
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        await access_own_conversation(tx.conn, consumer, conversation_id)
        # The row lock serialises two ratings of one conversation (once-only, RATE-1).
        row = await conversation_store.get(
            tx.conn, consumer.shop_id, conversation_id, for_update=True
        )
        agent_id = check_may_rate(agent_id=row.agent_id, ended_at=row.ended_at, now=now)
        source = await _card_source(tx, conversation_id, card_seq)
        earlier = await rating_store.of_conversation(tx.conn, conversation_id)
        check_source(source, card_seq=card_seq, earlier=earlier)
        await _save(tx, row, agent_id, stars, source, card_seq, now)
        name = (await account_store.display_names(tx.conn, row.shop_id)).get(agent_id, "")
        thanks = notice_message(notices.rating_thanks(agent=name))
        await message_store.append(tx.conn, [Append(row.shop_id, row.id, [thanks])], now=now)
        await tx.commit()
    await announce(ctx, consumer.shop_id, [conversation_id])
    best = best_rating([*earlier, stars]) or stars
    return Rated(conversation_id, stars, source.value, agent_id, name, best)


async def _card_source(tx: UnitOfWork, conversation_id: int, card_seq: int | None) -> RatingSource:
    """RATE-1: no card: the consumer's own rating; else the card's source (invited, forced)."""
    if card_seq is None:
        return RatingSource.SELF
    found = await message_store.page(tx.conn, conversation_id, since_seq=card_seq - 1, limit=1)
    source = (found[0].meta or {}).get(CARD_KEY) if found and found[0].seq == card_seq else None
    if source not in (RatingSource.INVITED, RatingSource.FORCED):
        raise errors.NotFound("No rating card at this seq.", kind="rating_card", seq=card_seq)
    return RatingSource(source)


async def _save(
    tx: UnitOfWork,
    row: ConversationRecord,
    agent_id: int,
    stars: int,
    source: RatingSource,
    card_seq: int | None,
    now: datetime,
) -> None:
    """RATE-2: one event row per rating, with its source and the rated agent."""
    await rating_store.add(
        tx.conn,
        shop_id=row.shop_id,
        conversation_id=row.id,
        agent_id=agent_id,
        stars=stars,
        source=source,
        card_seq=card_seq,
        at=now,
    )
    await conversation_store.record_event(
        tx.conn,
        shop_id=row.shop_id,
        conversation_id=row.id,
        kind="rated",
        cause=source.value,
        agent_id=agent_id,
        group_id=row.group_id,
        at=now,
        data={"stars": stars},
    )
    await webhook_store.record_event(
        tx.conn,
        shop_id=row.shop_id,
        event="rating.created",
        data={
            "conversation_id": row.id,
            "consumer_id": row.consumer_id,
            "agent_id": agent_id,
            "stars": stars,
            "source": source.value,
            "at": now,
        },
        now=now,
    )


async def invite_rating(ctx: Context, staff: Staff, conversation_id: int) -> ConversationView:
    """RATE-1, DESK-7: an agent of the conversation sends the rating card, any number of
    times, naming the holder who is rated (CONV-7)."""
    now = ctx.clock.now()
    async with ctx.db.uow() as tx:
        row = await access_conversation(tx.conn, staff, conversation_id, speak=True)
        agent_id = check_may_rate(agent_id=row.agent_id, ended_at=row.ended_at, now=now)
        name = (await account_store.display_names(tx.conn, row.shop_id)).get(agent_id, "")
        card = notice_message(
            notices.rating_invited(agent=name), meta={CARD_KEY: RatingSource.INVITED.value}
        )
        await message_store.append(tx.conn, [Append(row.shop_id, row.id, [card])], now=now)
        await conversation_store.record_event(
            tx.conn,
            shop_id=row.shop_id,
            conversation_id=row.id,
            kind="rating_invited",
            agent_id=agent_id,
            group_id=row.group_id,
            at=now,
            data={"by": staff.account_id},
        )
        await tx.commit()
    (view,) = await announce(ctx, staff.shop_id, [conversation_id])
    return view


async def service_quality(ctx: Context, staff: Staff, conversation_id: int) -> ServiceQuality:
    """DESK-4: the conversation's ratings (the best counts, RATE-2) and its average response
    time (each agent reply minus the consumer message it answers)."""
    async with ctx.db.read() as tx:
        row = await access_conversation(tx.conn, staff, conversation_id)
        ratings = await rating_store.of_conversation(tx.conn, conversation_id)
        names = await account_store.display_names(tx.conn, row.shop_id)
        times = await rating_store.message_times(tx.conn, conversation_id)
    average = average_response_time(times)
    return ServiceQuality(
        conversation_id,
        best_rating(ratings),
        [_rating_view(r, names) for r in ratings],
        None if average is None else round(average.total_seconds(), 1),
    )


def _rating_view(record: RatingRecord, names: dict[int, str]) -> RatingView:
    return RatingView(
        record.stars,
        record.source.value,
        record.agent_id,
        names.get(record.agent_id, ""),
        record.at,
    )
