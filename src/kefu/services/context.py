"""What every use case receives: the database, the clock, the broker and the random source."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from argon2 import PasswordHasher

from kefu.broker.base import Broker
from kefu.clock import Clock
from kefu.domain.permissions import Feature
from kefu.domain.presence import PresenceWindow, Role
from kefu.services.coalesce import Batcher, Coalescer
from kefu.services.live import LiveSockets
from kefu.services.ports import Responder
from kefu.services.views import ConversationView
from kefu.settings import Settings
from kefu.storage.db import Database


@dataclass(frozen=True, slots=True)
class Staff:
    """An authenticated account acting in its own shop."""

    account_id: int
    shop_id: int
    role: Role
    group_id: int | None
    session_id: str = ""
    # ACCT-6: the feature areas granted, as loaded with the session; None is the role's
    # defaults (domain/permissions.py).
    features: frozenset[Feature] | None = None


@dataclass(frozen=True, slots=True)
class ConsumerActor:
    consumer_id: int
    shop_id: int


@dataclass
class Context:
    db: Database
    clock: Clock
    broker: Broker
    settings: Settings
    rng: random.Random = field(default_factory=random.Random)
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    # What a login for an unknown username checks its password against (ACCT-4).
    dummy_password_hash: str | None = None
    # Set by the app: who answers consumers while the bot has the conversation (BOT-3);
    # without one, a consumer's message asks for a human at once.
    responder: Responder | None = None
    # Set by the app: coalesced queue-position refreshes for a shop (ROUTE-4).
    on_queue_changed: Callable[[int], None] | None = None
    # This process's queue drains, one running per shop at a time (ROUTE-2).
    drains: Coalescer[list[int]] = field(default_factory=Coalescer)
    # This process's agents' ends, written together per shop (CONV-3, group commit): each
    # end's view, and whether its transaction routed the slots it freed (ROUTE-2).
    ends: Batcher[tuple[Staff, int], tuple[ConversationView, bool]] = field(default_factory=Batcher)
    # This process's open staff sockets, by account (PRES-1).
    live: LiveSockets = field(default_factory=LiveSockets)


def presence_window(ctx: Context, now: datetime | None = None) -> PresenceWindow:
    """PRES-1: who is there at `now` (the clock's), as this process sees it."""
    return PresenceWindow(
        now=now or ctx.clock.now(),
        grace=timedelta(seconds=ctx.settings.presence_grace_s),
        here=ctx.live.accounts(),
    )


def consumer_topic(consumer_id: int) -> str:
    return f"consumer:{consumer_id}"


def account_topic(account_id: int) -> str:
    return f"account:{account_id}"


def supervisors_topic(shop_id: int) -> str:
    return f"supervisors:{shop_id}"


def live_topic(shop_id: int) -> str:
    """LIVE-1: the shop's monitoring pages hear here that its figures changed."""
    return f"live:{shop_id}"
