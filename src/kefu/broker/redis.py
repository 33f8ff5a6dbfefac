"""Redis pub/sub fan-out for several processes; one subscriber connection per process.

Redis may be away when the process starts or go away later, cleanly (a restart closes the
connection) or not (a network that drops packets leaves a half-open connection that never
errs). One listener task owns the subscriber connection: it alone reads it and writes to it,
subscribing and unsubscribing on behalf of the sockets, and it sends a PING on it every
`health_check_interval_s`; a pong missing after `health_check_timeout_s` counts as a lost
connection. A lost connection is dropped; the listener connects again with backoff,
subscribes to every topic, and once the subscriptions are confirmed tells the process's
clients to resync (`on_resync`): events published meanwhile were lost to them, and they catch
up from their last seq (MSG-2). `ping` (for /readyz) fails while the listener is down.

Publishing goes through a queue and a task of its own, so a Redis that hangs never holds up
the caller (the message writer); what is queued goes out in one pipeline, bounded by
`socket_timeout_s`, and a batch that fails is dropped with a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis.asyncio as aioredis
import structlog
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from kefu.broker.base import Event, Handler, Resync

# Every channel's name starts so (KEFU_REDIS_CHANNEL_PREFIX): deployments sharing one Redis
# keep apart by their prefixes (pub/sub channels ignore the database number).
DEFAULT_CHANNEL_PREFIX = "kefu:"
# A placeholder channel (after the prefix), so that the connection is in subscriber mode from
# the start.
_IDLE = "_"
_HEALTH_CHECK = b"kefu-health-check"
_RETRY_FIRST_S = 0.25
_RETRY_MAX_S = 2.0
# Events waiting for the publisher while Redis is slow; more are dropped (clients resync).
_MAX_QUEUED = 10_000
# The most events one pipeline publishes.
_PUBLISH_BATCH = 500
# The most events the listener reads in a row before it looks at subscriptions and health.
_READ_BATCH = 100

log = structlog.get_logger(__name__)


class _Lost(Exception):
    """The subscriber connection stopped answering."""


@dataclass
class _Session:
    """One subscriber connection's state, owned by the listener task."""

    pubsub: PubSub
    started_at: float
    # Topics subscribed on this connection, and those whose confirmation is still due.
    subscribed: set[str] = field(default_factory=set)
    unconfirmed: set[str] = field(default_factory=set)
    # The channels of the first SUBSCRIBE: the session is up once Redis confirmed them all.
    initial: set[str] = field(default_factory=set)
    is_up: bool = False
    ping_sent_at: float | None = None
    next_ping_at: float = 0.0


class RedisBroker:
    def __init__(
        self,
        url: str,
        *,
        health_check_interval_s: float = 5.0,
        health_check_timeout_s: float = 3.0,
        socket_timeout_s: float = 3.0,
        channel_prefix: str = DEFAULT_CHANNEL_PREFIX,
    ) -> None:
        timeouts: dict[str, Any] = {
            "socket_timeout": socket_timeout_s,
            "socket_connect_timeout": socket_timeout_s,
        }
        # One retry: a connection the pool kept from before a Redis restart fails once.
        self._redis = aioredis.Redis.from_url(url, retry=Retry(NoBackoff(), 1), **timeouts)
        # The listener's own client: it reconnects itself, redis-py must not do it behind it.
        self._listener_client = aioredis.Redis.from_url(
            url, retry=Retry(NoBackoff(), 0), **timeouts
        )
        # Readiness asks once: retries would turn "refused" into a timeout.
        self._probe = aioredis.Redis.from_url(url, retry=Retry(NoBackoff(), 0), **timeouts)
        self._prefix = channel_prefix
        self._idle = channel_prefix + _IDLE
        self._interval = health_check_interval_s
        self._timeout = health_check_timeout_s
        self._publish_timeout = socket_timeout_s
        self._handler: Handler | None = None
        self._on_resync: Resync | None = None
        self._topics: set[str] = set()
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._wake = asyncio.Event()
        self._is_up = False
        self._first_attempt = asyncio.Event()
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(_MAX_QUEUED)
        self._dropping = False
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, handler: Handler, on_resync: Resync | None = None) -> None:
        """Returns once the listener is subscribed, or its first attempt failed (bounded)."""
        self._handler = handler
        self._on_resync = on_resync
        self._tasks = [
            asyncio.create_task(self._listen(), name="redis-listener"),
            asyncio.create_task(self._publish_queued(), name="redis-publisher"),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_attempt.wait(), self._timeout * 2)

    async def stop(self) -> None:
        with contextlib.suppress(TimeoutError):  # what is queued goes out, if Redis answers
            await asyncio.wait_for(self._outbox.join(), self._publish_timeout)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._resolve_waiters()
        for client in (self._redis, self._listener_client, self._probe):
            await client.aclose()

    async def ping(self) -> None:
        await self._probe.ping()
        if not self._is_up:
            raise RedisConnectionError("The fan-out listener is not subscribed.")

    async def publish(self, topic: str, event: Event) -> None:
        try:
            self._outbox.put_nowait((self._prefix + topic, orjson.dumps(event)))
        except asyncio.QueueFull:
            if not self._dropping:
                log.warning("redis publish dropped: the queue is full", topic=topic)
            self._dropping = True

    async def subscribe(self, topic: str) -> None:
        """Returns once Redis confirmed the subscription, or at once while the listener is
        down (it subscribes on reconnecting, then the clients resync)."""
        self._topics.add(topic)
        if not self._is_up:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(topic, []).append(waiter)
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(waiter), self._timeout)

    async def unsubscribe(self, topic: str) -> None:
        self._topics.discard(topic)
        self._wake.set()

    # ---- publishing ----------------------------------------------------------------------

    async def _publish_queued(self) -> None:
        """Everything queued goes out in one pipeline, in order: one round trip for a batch,
        where a round trip per event would bound the fan-out by Redis's latency (on a busy
        machine, by the time Redis and this process each wait to be scheduled)."""
        while True:
            batch = [await self._outbox.get()]
            while len(batch) < _PUBLISH_BATCH and not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            try:
                async with asyncio.timeout(self._publish_timeout):
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for channel, data in batch:
                            pipe.publish(channel, data)
                        await pipe.execute()
                self._dropping = False
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning(
                    "redis publish dropped", channel=batch[0][0], events=len(batch), error=repr(exc)
                )
            finally:
                for _ in batch:
                    self._outbox.task_done()

    # ---- the listener ----------------------------------------------------------------------

    async def _listen(self) -> None:
        delay = _RETRY_FIRST_S
        has_been_up = False
        while True:
            session = _Session(self._listener_client.pubsub(), asyncio.get_running_loop().time())
            try:
                await self._serve(session, tell_clients=has_been_up)
            except (RedisError, OSError, TimeoutError, _Lost) as exc:
                log.warning("redis listener lost", error=repr(exc), retry_in_s=delay)
            finally:
                has_been_up = has_been_up or session.is_up
                if session.is_up:
                    delay = _RETRY_FIRST_S
                self._is_up = False
                self._first_attempt.set()
                self._resolve_waiters()
                with contextlib.suppress(RedisError, OSError):
                    await session.pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_S)

    async def _serve(self, session: _Session, *, tell_clients: bool) -> None:
        """Subscribe, keep the subscriptions in step with `_topics`, check health and hand
        events on, until the connection is lost."""
        loop = asyncio.get_running_loop()
        topics = set(self._topics)
        async with asyncio.timeout(self._timeout):  # connecting included
            await session.pubsub.subscribe(self._idle, *(self._prefix + t for t in topics))
        session.subscribed = set(topics)
        session.initial = {self._idle, *(self._prefix + t for t in topics)}
        session.unconfirmed = set(session.initial)
        session.next_ping_at = loop.time() + self._interval
        while True:
            self._wake.clear()
            await self._align(session)
            wait = self._check_health(session, loop.time())
            if wait <= 0:  # a PING is due
                await session.pubsub.ping(_HEALTH_CHECK)
                session.ping_sent_at = loop.time()
                continue
            message = await self._next_message(session.pubsub, within_s=wait)
            was_up = session.is_up
            # What Redis sent meanwhile is read at once, a bounded number, without the wait
            # above (two futures per read): under load events come in bursts.
            for _ in range(_READ_BATCH):
                if message is None:
                    break
                await self._take(session, message, loop.time())
                message = await session.pubsub.get_message(timeout=0.0)
            else:
                if message is not None:
                    await self._take(session, message, loop.time())
            if session.is_up and not was_up:
                self._is_up = True
                self._first_attempt.set()
                log.info("redis listener subscribed", topics=len(session.subscribed))
                if tell_clients and self._on_resync is not None:
                    await self._on_resync()

    def _check_health(self, session: _Session, now: float) -> float:
        """Raises when an answer is overdue; otherwise how long the next read may wait (<= 0:
        a PING is due)."""
        if not session.is_up and now - session.started_at > self._timeout:
            raise _Lost("subscriptions not confirmed in time")
        if session.ping_sent_at is not None:
            overdue = session.ping_sent_at + self._timeout - now
            if overdue <= 0:
                raise _Lost(f"no pong within {self._timeout} s")
            return overdue
        if not session.is_up:
            return session.started_at + self._timeout - now
        return session.next_ping_at - now

    async def _align(self, session: _Session) -> None:
        """Send what `subscribe` and `unsubscribe` asked for since the last round."""
        wanted = set(self._topics)
        if added := wanted - session.subscribed:
            channels = [self._prefix + t for t in added]
            await session.pubsub.subscribe(*channels)
            session.unconfirmed |= set(channels)
        if removed := session.subscribed - wanted:
            await session.pubsub.unsubscribe(*(self._prefix + t for t in removed))
        session.subscribed = wanted
        for topic in list(self._waiters):  # asked again while still subscribed
            if topic in wanted and self._prefix + topic not in session.unconfirmed:
                self._resolve_waiters(topic)

    async def _next_message(self, pubsub: PubSub, *, within_s: float) -> dict[str, Any] | None:
        """The next message, or None after `within_s` or once `_wake` is set. Reading is
        cancel-safe in redis-py (a timed-out read keeps what it had read)."""
        read = asyncio.ensure_future(pubsub.get_message(timeout=max(within_s, 0.001)))
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({read, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            if not read.done():
                read.cancel()
                await asyncio.wait({read})
        if read.cancelled():
            return None
        message: dict[str, Any] | None = read.result()
        return message

    async def _take(self, session: _Session, message: dict[str, Any], now: float) -> None:
        kind = message.get("type")
        if kind == "pong":
            session.ping_sent_at = None
            session.next_ping_at = now + self._interval
        elif kind == "subscribe":
            channel = _text(message["channel"])
            session.unconfirmed.discard(channel)
            session.initial.discard(channel)
            self._resolve_waiters(channel[len(self._prefix) :])
            session.is_up = session.is_up or not session.initial
        elif kind == "message" and self._handler is not None:
            topic = _text(message["channel"])[len(self._prefix) :]
            try:
                await self._handler(topic, orjson.loads(message["data"]))
            except Exception:
                log.exception("redis event not handled", topic=topic)

    def _resolve_waiters(self, topic: str | None = None) -> None:
        topics = list(self._waiters) if topic is None else [topic]
        for name in topics:
            for waiter in self._waiters.pop(name, []):
                if not waiter.done():
                    waiter.set_result(None)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
