"""Redis pub/sub fan-out for several processes; one subscriber connection per process."""

from __future__ import annotations

import asyncio
import contextlib

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import PubSub

from kefu.broker.base import Event, Handler

_PREFIX = "kefu:"


class RedisBroker:
    def __init__(self, url: str) -> None:
        self._redis = aioredis.Redis.from_url(url)
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self._handler: Handler | None = None

    async def start(self, handler: Handler) -> None:
        self._handler = handler
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        # A placeholder channel so that listen() has something to wait on from the start.
        await self._pubsub.subscribe(_PREFIX + "_")
        self._task = asyncio.create_task(self._listen(), name="redis-broker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        await self._redis.aclose()

    async def publish(self, topic: str, event: Event) -> None:
        await self._redis.publish(_PREFIX + topic, orjson.dumps(event))

    async def subscribe(self, topic: str) -> None:
        assert self._pubsub is not None
        await self._pubsub.subscribe(_PREFIX + topic)

    async def unsubscribe(self, topic: str) -> None:
        assert self._pubsub is not None
        await self._pubsub.unsubscribe(_PREFIX + topic)

    async def _listen(self) -> None:
        assert self._pubsub is not None
        async for message in self._pubsub.listen():
            if message.get("type") != "message" or self._handler is None:
                continue
            channel = message["channel"]
            topic = (channel.decode() if isinstance(channel, bytes) else channel)[len(_PREFIX) :]
            await self._handler(topic, orjson.loads(message["data"]))
