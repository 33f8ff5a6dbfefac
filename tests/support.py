"""A real kefu server in the test's event loop (uvicorn on a free port, FakeClock), named
personas, and thin WebSocket clients for consumers and staff."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import orjson
import uvicorn
from argon2 import PasswordHasher
from sqlalchemy import event, insert
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from kefu.app import Runtime, create_app
from kefu.broker.memory import MemoryBroker
from kefu.clock import Clock, FakeClock
from kefu.domain.conversation import ConversationState
from kefu.domain.presence import AgentStatus, Role
from kefu.domain.shop import ShopSettings
from kefu.services.accounts import NewAccount, create_accounts
from kefu.services.context import Context
from kefu.services.routing import drain
from kefu.services.shops import create_group, create_shop
from kefu.settings import Settings
from kefu.storage import tables as t
from kefu.storage.db import Database

PASSWORD = "secret-pass-1"
# Settings refuse a secret key under 32 bytes.
SECRET_KEY = "test-secret-key-0123456789abcdef"
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_context(db: Database, clock: Clock) -> Context:
    """What the use cases need, without a server: `db`, `clock`, an in-process broker and the
    fast hasher."""
    settings = Settings(database_url=db.url, secret_key=SECRET_KEY)
    return Context(db=db, clock=clock, broker=MemoryBroker(), settings=settings, hasher=FAST_HASHER)


@dataclass
class AgentSpec:
    username: str
    group: int | None = 0
    limit: int = 5
    status: str = "online"
    role: str = "agent"
    suspended: bool = False
    im: bool = True


@dataclass
class ShopIds:
    shop_id: int
    group_ids: list[int]
    accounts: dict[str, int]
    secret: str


async def make_shop(
    db: Database,
    *,
    name: str = "Shop",
    groups: int = 1,
    agents: list[AgentSpec] | None = None,
    settings: ShopSettings | None = None,
    clock: Clock,
) -> ShopIds:
    """A shop with an owner (`owner`), groups and agents; the entry sources map to group 0."""
    ctx = service_context(db, clock)
    # The owner's display name is the manager's (ACCT-3): "Owner", as `owner`.title().
    shop = await create_shop(
        ctx, name=name, manager_name="Owner", settings=settings, secret="s3cret-" + name
    )
    group_ids = [await create_group(ctx, shop_id=shop.id, name=f"g{i}") for i in range(groups)]
    specs = [AgentSpec("owner", group=None, role="owner", status="offline"), *(agents or [])]
    ids = await create_accounts(
        ctx,
        shop_id=shop.id,
        accounts=[
            NewAccount(
                spec.username,
                PASSWORD,
                Role(spec.role),
                display_name=spec.username.title(),
                group_id=group_ids[spec.group] if spec.group is not None else None,
                has_im_permission=spec.im,
                status=AgentStatus(spec.status),
                is_suspended=spec.suspended,
                reception_limit=spec.limit,
            )
            for spec in specs
        ],
    )
    accounts = {spec.username: account_id for spec, account_id in zip(specs, ids, strict=True)}
    return ShopIds(shop.id, list(group_ids), dict(accounts), shop.secret)


class Frames:
    """A socket's received frames, with waiting for one that matches."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []
        self._new = asyncio.Condition()
        self._task = asyncio.create_task(self._read())
        self._refs = itertools.count(1)

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                async with self._new:
                    self.received.append(orjson.loads(raw))
                    self._new.notify_all()

    async def send(self, frame: dict[str, Any]) -> str:
        ref = frame.setdefault("ref", f"r{next(self._refs)}")
        await self.ws.send(orjson.dumps(frame).decode())
        return str(ref)

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> dict[str, Any]:
        async def scan() -> dict[str, Any]:
            async with self._new:
                while True:
                    for frame in self.received:
                        if predicate(frame):
                            return frame
                    await self._new.wait()

        return await asyncio.wait_for(scan(), timeout)

    async def request(self, frame: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        """Send and wait for the answer carrying the same ref (ack, result or error)."""
        ref = await self.send(frame)
        return await self.wait_for(lambda f: f.get("ref") == ref, timeout)

    async def request_resending(
        self, frame: dict[str, Any], timeout: float = 5.0, attempts: int = 5
    ) -> dict[str, Any]:
        """`request`, sent again after `retry_after_s` while the answer is a retryable error,
        as the protocol tells clients to (docs/protocol.md, Errors): under a loaded machine a
        wait on the database may time out, which is an answer, not a loss."""
        for _ in range(attempts - 1):
            answer = await self.request(frame, timeout)
            params = answer.get("params") or {}
            if answer.get("type") != "error" or not params.get("retryable"):
                return answer
            await asyncio.sleep(float(params.get("retry_after_s", 1)))
        return await self.request(frame, timeout)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.received if f.get("type") == kind]

    async def close(self) -> None:
        await self.ws.close()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def queued_and_drained(ctx: Context, shop: ShopIds, n: int) -> list[int]:
    """N queued requests of the shop's first group, drained to its agents (as many as they have
    room for); their ids, in the order they were queued."""
    now = ctx.clock.now()
    ids = []
    async with ctx.db.uow() as tx:
        for i in range(n):
            at = now + timedelta(milliseconds=i)
            consumer_id = await tx.conn.scalar(
                insert(t.consumers)
                .values(shop_id=shop.shop_id, uid=f"c{i}", nickname=f"c{i}", created_at=at)
                .returning(t.consumers.c.id)
            )
            ids.append(
                await tx.conn.scalar(
                    insert(t.conversations)
                    .values(
                        shop_id=shop.shop_id,
                        consumer_id=consumer_id,
                        state=ConversationState.QUEUED,
                        group_id=shop.group_ids[0],
                        entry={"source": "direct"},
                        created_at=at,
                        human_requested_at=at,
                    )
                    .returning(t.conversations.c.id)
                )
            )
        await tx.commit()
    assigned = await drain(ctx, shop.shop_id, freed_capacity=False)
    assert sorted(assigned) == ids[: len(assigned)]
    await ctx.drains.settled()  # the announcement too: what the caller does next runs alone
    return ids


async def consumer_token(base_url: str, shop_id: int) -> str:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        answer = await client.post("/api/consumer/session", json={"shop_id": shop_id})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


async def consumer_socket(ws_url: str, shop_id: int, token: str, *, timeout: float = 5.0) -> Frames:
    """An authenticated consumer socket (no conversation opened yet)."""
    frames = Frames(await connect(ws_url + "/ws/consumer", open_timeout=timeout))
    await frames.send({"type": "auth", "shop_id": shop_id, "token": token})
    await frames.wait_for(lambda f: f["type"] == "ready", timeout)
    return frames


async def open_consumer(
    base_url: str,
    ws_url: str,
    shop_id: int,
    *,
    entry: dict[str, Any] | None = None,
    timeout: float = 5.0,
) -> Frames:
    token = await consumer_token(base_url, shop_id)
    frames = await consumer_socket(ws_url, shop_id, token, timeout=timeout)
    opened = await frames.request(
        {"type": "open", "entry": entry or {"source": "product"}}, timeout
    )
    frames.conversation_id = opened["conversation"]["id"]  # type: ignore[attr-defined]
    frames.token = token  # type: ignore[attr-defined]
    return frames


async def staff_login(base_url: str, shop_id: int, username: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base_url)
    response = await client.post(
        "/api/auth/login", json={"shop_id": shop_id, "username": username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return client


async def staff_socket(ws_url: str, client: httpx.AsyncClient) -> Frames:
    """A staff socket, opened as the web front end opens it: with the session cookie and the
    server's own Origin."""
    cookie = client.cookies.get("kefu_session")
    ws = await connect(
        ws_url + "/ws/staff",
        additional_headers={"Cookie": f"kefu_session={cookie}"},
        origin=Origin(str(client.base_url).rstrip("/")),
    )
    frames = Frames(ws)
    await frames.wait_for(lambda f: f["type"] == "ready")
    return frames


@dataclass
class Server:
    runtime: Runtime
    clock: FakeClock
    base_url: str
    ws_url: str
    _clients: list[httpx.AsyncClient] = field(default_factory=list)
    _sockets: list[Frames] = field(default_factory=list)

    @property
    def db(self) -> Database:
        return self.runtime.ctx.db

    async def staff(self, shop_id: int, username: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient(base_url=self.base_url)
        self._clients.append(client)
        response = await client.post(
            "/api/auth/login", json={"shop_id": shop_id, "username": username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return client

    async def staff_socket(self, client: httpx.AsyncClient) -> Frames:
        frames = await staff_socket(self.ws_url, client)
        self._sockets.append(frames)
        return frames

    async def consumer(self, shop_id: int, *, entry: dict[str, Any] | None = None) -> Frames:
        """A consumer with an anonymous session, authenticated and with an open conversation."""
        frames = await open_consumer(self.base_url, self.ws_url, shop_id, entry=entry)
        self._sockets.append(frames)
        return frames

    async def close(self) -> None:
        for frames in self._sockets:
            with contextlib.suppress(Exception):
                await frames.close()
        for client in self._clients:
            await client.aclose()


@contextlib.asynccontextmanager
async def running_server(
    db_url: str,
    *,
    clock: FakeClock | None = None,
    seed: int = 7,
    create_schema: bool = True,
    run_scheduler: bool = False,
    lively: float | None = None,
    **settings: Any,
) -> AsyncIterator[Server]:
    """Serve kefu for real on a free port; the scheduler is ticked by the test unless asked.
    `lively`: the demo's simulated traffic at that speed (seeded with `seed`)."""
    clock = clock or FakeClock()
    port = free_port()
    config = Settings(database_url=db_url, secret_key=SECRET_KEY, port=port, **settings)
    app = create_app(
        config,
        clock=clock,
        rng=random.Random(seed),
        run_scheduler=run_scheduler,
        lively=lively,
        lively_rng=random.Random(seed),
    )
    runtime: Runtime = app.state.runtime
    runtime.ctx.hasher = FAST_HASHER
    if create_schema:
        await runtime.ctx.db.create_all()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            ws_max_size=config.ws_max_frame_bytes,
            ws_ping_interval=config.ws_ping_interval_s,
            ws_ping_timeout=config.ws_ping_interval_s,
            lifespan="on",
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    handle = Server(runtime, clock, f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}")
    try:
        yield handle
    finally:
        await handle.close()
        server.should_exit = True
        await task


async def bot_answer(
    consumer: Frames, text: str, client_id: str, *, timeout: float = 5.0
) -> dict[str, Any]:
    """Send `text` in the consumer's conversation; the bot's `message` frame that follows."""
    cid = consumer.conversation_id  # type: ignore[attr-defined]
    ack = await consumer.request(
        {"type": "send", "conversation_id": cid, "client_id": client_id, "body": text}
    )
    assert ack["type"] == "ack", ack
    return await consumer.wait_for(
        lambda f: (
            f["type"] == "message"
            and f["message"]["sender"] == "bot"
            and f["message"]["seq"] > ack["seq"]
        ),
        timeout,
    )


@contextlib.contextmanager
def recorded_statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements (and COMMITs) the database runs meanwhile, in order."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    def commit(*_args: Any) -> None:
        seen.append("COMMIT")

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    event.listen(engine, "commit", commit)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
        event.remove(engine, "commit", commit)


async def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll an async or sync check until it returns a truthy value (for cross-socket effects)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def problems(self) -> list[str]:
        """Errors and tracebacks: what an operator would be paged for."""
        return [
            f"{r.name} {r.levelname}: {r.getMessage()}"
            for r in self.records
            if r.levelno >= logging.ERROR or r.exc_info or r.exc_text
        ]


@contextlib.contextmanager
def server_log() -> Iterator[Records]:
    """The server's log records from here on. Attached once uvicorn has configured logging
    (which drops the handlers it finds); its loggers do not propagate to the root."""
    handler = Records()
    loggers = [logging.getLogger(), logging.getLogger("uvicorn.error")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


class LagProbe:
    """The worst delay of a 10 ms sleep on the running loop (the server's own loop here)."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, loop.time() - started - 0.01)

    def __enter__(self) -> LagProbe:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
