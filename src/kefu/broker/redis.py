"""Redis pub/sub fan-out for several processes; one subscriber connection per process.

Redis may be away when the process starts or go away later: the listener reconnects with
backoff and subscribes again to every topic, and a publish that fails is dropped with a
warning. Events lost meanwhile are harmless (clients resync from their last seq, MSG-2), and
/readyz reports the outage through `ping`.
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
import redis.asyncio as aioredis
import structlog
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from kefu.broker.base import Event, Handler

_PREFIX = "kefu:"
# A placeholder channel, so that the listener has something to wait on from the start.
_IDLE = _PREFIX + "_"
_RETRY_FIRST_S = 0.5
_RETRY_MAX_S = 10.0

log = structlog.get_logger(__name__)


class RedisBroker:
    def __init__(self, url: str) -> None:
        self._redis = aioredis.Redis.from_url(url)
        # Readiness asks once: the main client's retries would turn "refused" into a timeout.
        self._probe = aioredis.Redis.from_url(url, retry=Retry(NoBackoff(), 0))
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self._handler: Handler | None = None
        self._topics: set[str] = set()
        # Orders (re)subscribing after a reconnect against subscribe/unsubscribe calls.
        self._subscriptions = asyncio.Lock()

    async def start(self, handler: Handler) -> None:
        self._handler = handler
        self._task = asyncio.create_task(self._run(), name="redis-broker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._redis.aclose()
        await self._probe.aclose()

    async def ping(self) -> None:
        await self._probe.ping()

    async def publish(self, topic: str, event: Event) -> None:
        try:
            await self._redis.publish(_PREFIX + topic, orjson.dumps(event))
        except RedisError as exc:
            log.warning("redis publish dropped", topic=topic, error=str(exc))

    async def subscribe(self, topic: str) -> None:
        async with self._subscriptions:
            self._topics.add(topic)
            await self._tell(self._pubsub, "subscribe", topic)

    async def unsubscribe(self, topic: str) -> None:
        async with self._subscriptions:
            self._topics.discard(topic)
            await self._tell(self._pubsub, "unsubscribe", topic)

    @staticmethod
    async def _tell(pubsub: PubSub | None, command: str, topic: str) -> None:
        """A failure waits for the listener: it reconnects and subscribes to `_topics`."""
        if pubsub is None:
            return
        try:
            if command == "subscribe":
                await pubsub.subscribe(_PREFIX + topic)
            else:
                await pubsub.unsubscribe(_PREFIX + topic)
        except RedisError as exc:
            log.warning("redis subscription deferred", command=command, topic=topic, error=str(exc))

    async def _run(self) -> None:
        delay = _RETRY_FIRST_S
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                async with self._subscriptions:
                    await pubsub.subscribe(_IDLE, *(_PREFIX + t for t in self._topics))
                    self._pubsub = pubsub
                delay = _RETRY_FIRST_S
                await self._listen(pubsub)
            except RedisError as exc:
                log.warning("redis listener lost", error=str(exc), retry_in_s=delay)
            finally:
                self._pubsub = None
                with contextlib.suppress(RedisError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_S)

    async def _listen(self, pubsub: PubSub) -> None:
        async for message in pubsub.listen():
            if message.get("type") != "message" or self._handler is None:
                continue
            channel = message["channel"]
            topic = (channel.decode() if isinstance(channel, bytes) else channel)[len(_PREFIX) :]
            await self._handler(topic, orjson.loads(message["data"]))
