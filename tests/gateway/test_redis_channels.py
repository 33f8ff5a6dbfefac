"""MSG-2 fan-out over Redis: processes with the same channel prefix hear each other's events,
processes with another prefix (another deployment or a benchmark sharing the Redis) do not."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from databases import REDIS_URL, REQUIRE_SERVICES
from kefu.broker.base import Event, Handler
from kefu.broker.redis import RedisBroker


async def _require_redis() -> None:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except RedisError:
        if REQUIRE_SERVICES:
            pytest.fail("Redis is not reachable, and CI (KEFU_REQUIRE_SERVICES=1) requires it")
        pytest.skip("Redis not reachable here; CI sets KEFU_REQUIRE_SERVICES=1 and never skips")
    finally:
        await client.aclose()


async def test_msg_2_redis_fan_out_stays_within_its_channel_prefix() -> None:
    await _require_redis()
    mine = f"kefu-test-{secrets.token_hex(4)}:"
    other = f"kefu-test-{secrets.token_hex(4)}:"
    heard: dict[str, list[tuple[str, Event]]] = {"publisher": [], "same": [], "other": []}

    def recorder(name: str) -> Handler:
        async def handler(topic: str, event: Event) -> None:
            heard[name].append((topic, event))

        return handler

    publisher = RedisBroker(REDIS_URL, channel_prefix=mine)
    same = RedisBroker(REDIS_URL, channel_prefix=mine)
    elsewhere = RedisBroker(REDIS_URL, channel_prefix=other)
    await publisher.start(recorder("publisher"))
    await same.start(recorder("same"))
    await elsewhere.start(recorder("other"))
    try:
        await same.subscribe("conversation:1")
        await elsewhere.subscribe("conversation:1")
        await publisher.publish("conversation:1", {"type": "message", "n": 1})
        for _ in range(100):
            if heard["same"]:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # time enough for a stray copy to reach the other prefix
        assert heard["same"] == [("conversation:1", {"type": "message", "n": 1})]
        assert heard["other"] == []
        # The channel on the wire carries the prefix.
        client = Redis.from_url(REDIS_URL)
        try:
            channels = await client.pubsub_channels(f"{mine}*")
        finally:
            await client.aclose()
        assert f"{mine}conversation:1".encode() in channels
    finally:
        for broker in (publisher, same, elsewhere):
            await broker.stop()
