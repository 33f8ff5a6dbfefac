"""Rate limits (issue 9): one method per limited action, each refusing with `RateLimited` and
`retry_after`, the whole seconds until the action is let through again.

Each limit is a moving window (at most N actions in any period of its length), from the
`limits` library, set by a KEFU_RATE_* setting. The counters live in Redis when the process
has KEFU_REDIS_URL, so that every process counts together, and in this process's memory
otherwise. A limit protects the service, it must not take it down: when Redis cannot be
reached the action is let through, with one warning per outage, and Redis is not asked
again for a few seconds, so an unreachable Redis costs no latency either.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from dataclasses import dataclass

import limits
import redis.asyncio as aioredis
import structlog
from limits.aio.storage import MovingWindowSupport, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from kefu import errors
from kefu.settings import RATE_OFF, Settings

log = structlog.get_logger(__name__)

# A Redis that does not answer within this is taken as down (the action goes ahead).
REDIS_TIMEOUT_S = 0.5
# After a failure, Redis is left alone this long: everything is let through meanwhile.
REDIS_PAUSE_S = 5.0
# The in-memory counters drop windows that ended at most this often.
SWEEP_EVERY_S = 30.0


@dataclass(frozen=True, slots=True)
class Limit:
    """One setting: its name (for the refusal) and its windows, all of which must hold."""

    name: str
    items: tuple[limits.RateLimitItem, ...]


def parse(name: str, value: str) -> Limit:
    """A KEFU_RATE_* value: "off", or windows in the `limits` notation joined by ";"."""
    if value.strip() == RATE_OFF:
        return Limit(name, ())
    return Limit(name, tuple(limits.parse_many(value)))


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self.consumer_messages = parse("consumer_messages", settings.rate_consumer_messages)
        self.consumer_sessions = parse("consumer_sessions", settings.rate_consumer_sessions)
        self.conversations = parse("conversations", settings.rate_conversations)
        self.sockets = parse("sockets", settings.rate_sockets)
        self.staff_calls = parse("staff_calls", settings.rate_staff_calls)
        self._pool: aioredis.ConnectionPool | None = None
        storage: Storage
        if settings.redis_url:
            self._pool = aioredis.ConnectionPool.from_url(
                settings.redis_url,
                socket_timeout=REDIS_TIMEOUT_S,
                socket_connect_timeout=REDIS_TIMEOUT_S,
            )
            storage = RedisStorage(
                # The pool carries the address; the URI only names the client library's kind.
                "async+redis://",
                implementation="redispy",
                key_prefix=settings.rate_key_prefix,
                wrap_exceptions=True,
                connection_pool=self._pool,  # type: ignore[arg-type]
                retry=Retry(NoBackoff(), 0),  # type: ignore[arg-type]
            )
        else:
            storage = LocalWindows()
        self._limiter = MovingWindowRateLimiter(storage)
        self._paused_until = 0.0

    @property
    def shared(self) -> bool:
        """Counted in Redis, with the other processes."""
        return self._pool is not None

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.disconnect()

    # One method per limited action (docs/protocol.md, Rate limits).

    async def consumer_message(self, conversation_id: int) -> None:
        """A consumer's `send`, per conversation."""
        await self._hit(self.consumer_messages, str(conversation_id))

    async def consumer_session(self, ip: str) -> None:
        """POST /api/consumer/session, per client address."""
        await self._hit(self.consumer_sessions, ip)

    async def conversation(self, ip: str) -> None:
        """A consumer's `open` or `request_human`, per client address."""
        await self._hit(self.conversations, ip)

    async def socket(self, ip: str) -> None:
        """A WebSocket connection (either endpoint) before it authenticates, per address."""
        await self._hit(self.sockets, ip)

    async def staff_call(self, session_id: str) -> None:
        """An HTTP call authenticated by a staff session, per session."""
        # The session id is a credential: the counter's key holds a digest of it.
        digest = hashlib.sha256(session_id.encode()).hexdigest()[:32]
        await self._hit(self.staff_calls, digest)

    async def _hit(self, limit: Limit, subject: str) -> None:
        if not limit.items or time.monotonic() < self._paused_until:
            return
        try:
            # A refused action is counted in none of the windows, so hammering never makes the
            # wait longer: the windows after the first are tested before any is hit (the
            # first one's hit tests it too).
            for item in limit.items[1:]:
                if not await self._limiter.test(item, limit.name, subject):
                    await self._refuse(limit, item, subject)
            for item in limit.items:
                if not await self._limiter.hit(item, limit.name, subject):
                    await self._refuse(limit, item, subject)
        except (StorageError, RedisError, OSError) as exc:
            if self._paused_until == 0.0:
                log.warning("rate_limits_unavailable", limit=limit.name, error=repr(exc))
            self._paused_until = time.monotonic() + REDIS_PAUSE_S
            return
        if self._paused_until:
            log.info("rate_limits_available")
            self._paused_until = 0.0

    async def _refuse(self, limit: Limit, item: limits.RateLimitItem, subject: str) -> None:
        """RateLimited, with the seconds until the window's oldest action leaves it."""
        stats = await self._limiter.get_window_stats(item, limit.name, subject)
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        raise errors.RateLimited(retry_after=wait, limit=limit.name)


class LocalWindows(Storage, MovingWindowSupport):
    """Moving windows in this process's memory. limits' MemoryStorage sweeps every key,
    with a thread hop for each, after every hit (about 0.7 s of CPU per second at 1,000
    hits a second); this one prunes a window as it is used and sweeps ended ones rarely."""

    STORAGE_SCHEME = None

    def __init__(self) -> None:
        super().__init__()
        # key: (the window's length in seconds, the times of its entries, oldest first)
        self._windows: dict[str, tuple[int, deque[float]]] = {}
        self._next_sweep = time.monotonic() + SWEEP_EVERY_S

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    def _entries(self, key: str, expiry: int, now: float) -> deque[float]:
        _, entries = self._windows.setdefault(key, (expiry, deque()))
        while entries and entries[0] <= now - expiry:
            entries.popleft()
        return entries

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        now = time.time()
        self._sweep(now)
        entries = self._entries(key, expiry, now)
        if len(entries) + amount > limit:
            return False
        entries.extend([now] * amount)
        return True

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = time.time()
        entries = self._entries(key, expiry, now)
        return (entries[0], len(entries)) if entries else (now, 0)

    def _sweep(self, now: float) -> None:
        if time.monotonic() < self._next_sweep:
            return
        self._next_sweep = time.monotonic() + SWEEP_EVERY_S
        ended = [k for k, (exp, e) in self._windows.items() if not e or e[-1] <= now - exp]
        for key in ended:
            del self._windows[key]

    # The moving window needs only the two methods above; counters are not kept here.

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        raise NotImplementedError("LocalWindows keeps moving windows only")

    async def get(self, key: str) -> int:
        raise NotImplementedError("LocalWindows keeps moving windows only")

    async def get_expiry(self, key: str) -> float:
        raise NotImplementedError("LocalWindows keeps moving windows only")

    async def check(self) -> bool:
        return True

    async def reset(self) -> int | None:
        count = len(self._windows)
        self._windows.clear()
        return count

    async def clear(self, key: str) -> None:
        self._windows.pop(key, None)
