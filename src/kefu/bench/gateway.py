"""`kefu bench gateway`: consumer-to-agent messages through a real `kefu serve`, against a bare
WebSocket relay driven by the same load generator.

The server runs in its own process on a SQLite file or a private PostgreSQL database that
already holds `--stored` messages of another shop (bench/history.py: generated once, cached),
with a seeded shop. Load processes (`--load-procs`) each own a group of agents and the
consumers whose entry source routes to that group (ENTRY-1), so both ends of a pair live in the
same process and one monotonic clock times them. Each consumer authenticates, opens a
conversation and asks for a human; each agent holds the one staff socket its login allows
(ACCT-4), which receives the messages of all its conversations. A pair is a conversation.

Phase one offers 500 messages/s, open loop: `cpu_at_500_per_s` is the share of a core the
server process used meanwhile (its user + system time, from /proc). Phase two offers `--rate`
messages/s in total, spread round-robin over the pairs, open loop: `p50_ms`/`p99_ms` are send →
agent-receipt latencies, `delivered_per_s` what reached agents within the phase. Phase three
keeps `--window` messages in flight per pair (a pair sends its next message when the agent has
received one of this phase: each phase starts with fresh credits) for `--seconds`:
`saturation_per_s`, and `cpu_us_per_message`, the server's CPU time over the messages
delivered. The bare relay (a Starlette app in this module, served by uvicorn in its own
process: parse, then the same two frames as kefu — the ack carrying the message to the
sender, the message to the agent — with no persistence) gets phase three only:
`bare_cpu_us_per_message`, and `ratio_to_bare` = bare CPU per message / kefu CPU per
message. `lost` counts messages sent in any phase that were never both acknowledged and
delivered within a 10 s grace period. `wal_mb` is the largest size SQLite's write-ahead log
reached during kefu's phases (0 on PostgreSQL). Clients offer no compression.

With `--processes N` (PostgreSQL only) N `kefu serve` processes on ports of their own share the
database and a Redis (`--redis-url`) for the fan-out, under a channel prefix and a rate-limit key
prefix of the run's own, so nothing else on that Redis hears its events (pub/sub stores
nothing, so there is nothing to flush afterwards). Each load process spreads its agents over the
servers in turn; a consumer connects to a server in turn too, asks for a human, and once routing
named its agent, moves to another server if it landed on its agent's: every pair then has its
consumer on one process and its agent on another, so each message is written by the one and
reaches the agent through Redis and the other (`cross_pairs`, `cross_delivered`). Agents are at
least two per group, so both servers hold agents. The server CPU figures are the sum over the N
processes; `machine_busy` is the share of all the machine's cores in use during saturation (load
generators, PostgreSQL and Redis included). `kefu bench scaleout` compares 1 and 2 processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import httpx
import orjson
import typer
import uvloop
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from kefu.bench.common import (
    BENCH_PASSWORD,
    DEFAULT_PG_ADMIN_URL,
    DEFAULT_REDIS_URL,
    BenchShop,
    drop_database,
    emit_json,
    free_port,
    next_result,
    percentile,
    print_table,
    progress,
    seed_shop,
    serving,
)
from kefu.bench.history import postgresql_with_history, sqlite_with_history
from kefu.clock import SystemClock
from kefu.domain.shop import ENTRY_SOURCES
from kefu.settings import RATE_LIMITS
from kefu.storage.db import Database

GRACE_S = 10.0
SETUP_CONCURRENCY = 20
LOW_RATE = 500.0  # messages/s offered while `cpu_at_500_per_s` is measured
LOGIN_RETRIES = 5
WATCH_EVERY_S = 0.25  # how often the size of SQLite's write-ahead log is looked at


@dataclass(frozen=True, slots=True)
class LoadPlan:
    index: int
    bare: bool
    http_url: str
    ws_url: str
    shop_id: int
    source: str
    agents: list[tuple[int, str]]
    pairs: int
    rate: float
    seconds: float
    window: int
    # The processes whose CPU time the first load process reads around each phase.
    server_pids: tuple[int, ...] = ()
    low_rate: float = 0.0  # this process's share of LOW_RATE
    # The kefu servers' ports (http_url's first); agents and consumers are spread over them.
    ports: tuple[int, ...] = ()
    saturation_only: bool = False  # phase three only (`kefu bench scaleout`)


@dataclass
class PhaseResult:
    sent: int = 0
    delivered_in_phase: int = 0
    lost: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    # The server's CPU seconds and the wall seconds of the phase (first load process only).
    server_cpu_s: float = 0.0
    wall_s: float = 0.0
    machine_busy: float = 0.0  # share of all cores in use (first load process only)


@dataclass
class LoadResult:
    index: int
    pairs_open: int = 0
    setup_s: float = 0.0
    errors: int = 0
    phases: dict[str, PhaseResult] = field(default_factory=dict)
    # Pairs whose consumer and agent sit on different servers, and their delivered messages.
    cross_pairs: int = 0
    cross_delivered: int = 0


def command(
    pairs: int = typer.Option(1000, "--pairs", min=1, help="Consumer-agent conversations."),
    rate: float = typer.Option(2000.0, "--rate", min=1.0, help="Offered messages/s in total."),
    seconds: float = typer.Option(10.0, "--seconds", min=0.5, help="Length of each phase."),
    db: str = typer.Option("sqlite", "--db", help="sqlite or postgresql."),
    limit: int = typer.Option(50, "--limit", min=1, max=50, help="Reception limit per agent."),
    window: int = typer.Option(4, "--window", min=1, help="In-flight messages per pair (sat.)."),
    stored: int = typer.Option(
        1_000_000, "--stored", min=0, help="Messages already stored (generated once, cached)."
    ),
    load_procs: int = typer.Option(
        2, "--load-procs", min=1, max=len(ENTRY_SOURCES), help="Load-generator processes."
    ),
    processes: int = typer.Option(
        1, "--processes", min=1, help="kefu serve processes (PostgreSQL + Redis when > 1)."
    ),
    redis_url: str = typer.Option(DEFAULT_REDIS_URL, "--redis-url", help="With --processes > 1."),
    pg_admin_url: str = typer.Option(DEFAULT_PG_ADMIN_URL, "--pg-admin-url"),
    as_json: bool = typer.Option(False, "--json", help="End with one JSON line."),
) -> None:
    """Messages through the gateway at an offered rate and at saturation, against a bare relay."""
    if db not in ("sqlite", "postgresql"):
        raise typer.BadParameter("--db is sqlite or postgresql")
    check_processes(db, processes)
    figures = asyncio.run(
        benchmark(
            pairs=pairs,
            rate=rate,
            seconds=seconds,
            db=db,
            limit=limit,
            window=window,
            load_procs=load_procs,
            pg_admin_url=pg_admin_url,
            stored=stored,
            processes=processes,
            redis_url=redis_url,
        )
    )
    servers = "1 server" if processes == 1 else f"{processes} servers + Redis"
    print_table(
        f"kefu bench gateway ({db})",
        figures,
        caption=(
            f"{pairs} pairs, window {window}, {servers}, {load_procs} load process(es), "
            f"{stored:,} messages stored before"
        ),
    )
    if as_json:
        emit_json(figures)


def check_processes(db: str, processes: int) -> None:
    """Several processes share one database and its fan-out: SQLite is one process's."""
    if processes > 1 and db != "postgresql":
        raise typer.BadParameter(
            "--processes > 1 needs --db postgresql: several kefu serve processes share a "
            "PostgreSQL database and a Redis, never a SQLite file",
            param_hint="--processes",
        )


async def benchmark(
    *,
    pairs: int,
    rate: float,
    seconds: float,
    db: str,
    limit: int,
    window: int,
    load_procs: int,
    pg_admin_url: str,
    stored: int = 0,
    processes: int = 1,
    redis_url: str = DEFAULT_REDIS_URL,
) -> dict[str, float | int | str]:
    with tempfile.TemporaryDirectory(prefix="kefu-bench-") as tmp_name:
        tmp = Path(tmp_name)
        url = await database_with_history(db, stored, tmp, pg_admin_url)
        try:
            env = server_env(url, tmp, redis_url if processes > 1 else None)
            shop = await prepare(env, db, pairs=pairs, limit=limit, load_procs=load_procs)
            async with _largest(tmp / "kefu.db-wal") as wal:
                kefu = await run_kefu(
                    env,
                    shop,
                    processes=processes,
                    tmp=tmp,
                    pairs=pairs,
                    rate=rate,
                    seconds=seconds,
                    window=window,
                )
            port = free_port()
            relay = [
                sys.executable, "-m", "uvicorn", "--factory", f"{__name__}:create_relay_app",
                "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
            ]  # fmt: skip
            async with serving(relay, port, env, tmp / "relay.log") as pid:
                plans = _plans(
                    shop.shop_id, shop.agents, ((port, pid),), pairs, rate, seconds, window, True
                )
                progress.print(f"gateway: {pairs} pairs against the bare relay on :{port}")
                bare = await asyncio.to_thread(_run_load, plans)
        finally:
            if db != "sqlite":
                await drop_database(pg_admin_url, url)
    figures = _figures(kefu, bare, seconds, db, load_procs, stored)
    return {**figures, "processes": processes, "wal_mb": wal.size / 2**20}


def _size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


@dataclass
class _Watched:
    size: int = 0


@contextlib.asynccontextmanager
async def _largest(path: Path) -> AsyncIterator[_Watched]:
    """The largest size the file at `path` had meanwhile (looked at every WATCH_EVERY_S; 0
    if it never existed): SQLite's write-ahead log, which must not grow with the traffic."""
    watched = _Watched()

    async def watch() -> None:
        while True:
            watched.size = max(watched.size, await asyncio.to_thread(_size_of, path))
            await asyncio.sleep(WATCH_EVERY_S)

    task = asyncio.create_task(watch())
    try:
        yield watched
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def database_with_history(db: str, stored: int, tmp: Path, pg_admin_url: str) -> str:
    """A private database (a SQLite file in `tmp`, or a fresh PostgreSQL one) holding `stored`
    messages of another shop; the caller drops a PostgreSQL one."""
    if db == "sqlite":
        return await sqlite_with_history(stored, tmp / "kefu.db")
    return await postgresql_with_history(stored, pg_admin_url)


def server_env(url: str, tmp: Path, redis_url: str | None) -> dict[str, str]:
    """The servers' environment: the database, a secret key, the data folder in `tmp`, no rate
    limits, and with `redis_url` the fan-out under channel and key prefixes of this run's own."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KEFU_")},
        "KEFU_DATABASE_URL": url,
        "KEFU_SECRET_KEY": secrets.token_urlsafe(24),
        "KEFU_DATA_DIR": str(tmp),
        # Every simulated client comes from this machine's address: the per-address
        # rate limits would refuse all but the first few.
        **{f"KEFU_RATE_{name.upper()}": "off" for name in RATE_LIMITS},
    }
    if redis_url:
        own = f"kefu-bench-{secrets.token_hex(5)}"
        env |= {
            "KEFU_REDIS_URL": redis_url,
            "KEFU_REDIS_CHANNEL_PREFIX": own + ":",
            "KEFU_RATE_KEY_PREFIX": own + ":rate",
        }
    return env


async def prepare(
    env: dict[str, str], db: str, *, pairs: int, limit: int, load_procs: int
) -> BenchShop:
    """Migrate the database and seed the bench shop: a group per load process, enough agents
    for `pairs` at `limit`, and at least two per group so that two servers both hold agents."""
    progress.print(f"gateway: migrating ({db})")
    await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "kefu", "migrate"],
        env=env,
        check=True,
        capture_output=True,
    )
    groups = min(load_procs, pairs)
    agents = max(2 * groups, -(-pairs // limit))
    database = Database(env["KEFU_DATABASE_URL"])
    try:
        return await seed_shop(
            database, agents=agents, limit=limit, now=SystemClock().now(), groups=groups
        )
    finally:
        await database.dispose()


async def run_kefu(
    env: dict[str, str],
    shop: BenchShop,
    *,
    processes: int,
    tmp: Path,
    pairs: int,
    rate: float,
    seconds: float,
    window: int,
    saturation_only: bool = False,
) -> list[LoadResult]:
    """Start `processes` kefu servers on `env`'s database and run the load against them."""
    async with contextlib.AsyncExitStack() as stack:
        servers: list[tuple[int, int]] = []
        for n in range(processes):  # one after the other: each start migrates (a no-op here)
            port = free_port()
            command = [sys.executable, "-m", "kefu", "serve", "--port", str(port)]
            log = tmp / f"server-{n}.log"
            pid = await stack.enter_async_context(serving(command, port, env, log))
            servers.append((port, pid))
        plans = _plans(
            shop.shop_id,
            shop.agents,
            tuple(servers),
            pairs,
            rate,
            seconds,
            window,
            False,
            saturation_only=saturation_only,
        )
        ports = ", ".join(f":{port}" for port, _ in servers)
        progress.print(f"gateway: {pairs} pairs against kefu serve on {ports}")
        return await asyncio.to_thread(_run_load, plans)


def _plans(
    shop_id: int,
    agents: list[list[tuple[int, str]]],
    servers: tuple[tuple[int, int], ...],
    pairs: int,
    rate: float,
    seconds: float,
    window: int,
    bare: bool,
    *,
    saturation_only: bool = False,
) -> list[LoadPlan]:
    """One plan per group of agents; `servers` are (port, process id) pairs."""
    n = len(agents)
    port = servers[0][0]
    return [
        LoadPlan(
            index=i,
            bare=bare,
            http_url=f"http://127.0.0.1:{port}",
            ws_url=f"ws://127.0.0.1:{port}",
            shop_id=shop_id,
            source=ENTRY_SOURCES[i],
            agents=agents[i],
            pairs=pairs // n + (1 if i < pairs % n else 0),
            rate=rate / n,
            seconds=seconds,
            window=window,
            server_pids=tuple(pid for _, pid in servers),
            low_rate=LOW_RATE / n,
            ports=tuple(p for p, _ in servers),
            saturation_only=saturation_only,
        )
        for i in range(n)
    ]


def _figures(
    kefu: list[LoadResult],
    bare: list[LoadResult],
    seconds: float,
    db: str,
    procs: int,
    stored: int,
) -> dict[str, float | int | str]:
    def total(results: list[LoadResult], phase: str, name: str) -> int:
        return sum(int(getattr(r.phases[phase], name)) for r in results if phase in r.phases)

    def timed(results: list[LoadResult], phase: str) -> PhaseResult:
        return results[0].phases[phase]  # the first load process reads the server's CPU

    def cpu_us(results: list[LoadResult]) -> float:
        delivered = total(results, "saturation", "delivered_in_phase")
        cpu_s = timed(results, "saturation").server_cpu_s
        return cpu_s / delivered * 1e6 if delivered else 0.0

    low = timed(kefu, "low")
    latencies = [ms for r in kefu for ms in r.phases["offered"].latencies_ms]
    saturation = total(kefu, "saturation", "delivered_in_phase") / seconds
    bare_saturation = total(bare, "saturation", "delivered_in_phase") / seconds
    kefu_us, bare_us = cpu_us(kefu), cpu_us(bare)
    phases = ("low", "offered", "saturation")
    return {
        "stored": stored,
        "cpu_at_500_per_s": low.server_cpu_s / low.wall_s if low.wall_s else 0.0,
        "offered_per_s": total(kefu, "offered", "sent") / seconds,
        "delivered_per_s": total(kefu, "offered", "delivered_in_phase") / seconds,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "saturation_per_s": saturation,
        "bare_saturation_per_s": bare_saturation,
        "cpu_us_per_message": kefu_us,
        "bare_cpu_us_per_message": bare_us,
        "ratio_to_bare": bare_us / kefu_us if kefu_us else 0.0,
        "lost": sum(total(kefu, phase, "lost") for phase in phases),
        "bare_lost": total(bare, "saturation", "lost"),
        "pairs": sum(r.pairs_open for r in kefu),
        "cross_pairs": sum(r.cross_pairs for r in kefu),
        "cross_delivered": sum(r.cross_delivered for r in kefu),
        "errors": sum(r.errors for r in kefu),
        "setup_s": max(r.setup_s for r in kefu),
        "load_procs": procs,
        "db": db,
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_jiffies() -> tuple[int, int]:
    """All cores' (busy, total) clock ticks so far (Linux /proc/stat; idle and iowait idle)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(ticks[:8])  # guest time is counted in user time already
    return total - ticks[3] - ticks[4], total


# ---------------------------------------------------------------------------------------------
# Load processes


def _run_load(plans: list[LoadPlan]) -> list[LoadResult]:
    """Start one process per plan and collect their results (blocking)."""
    mp = multiprocessing.get_context("spawn")
    barrier = mp.Barrier(len(plans))
    results: multiprocessing.Queue[LoadResult] = mp.Queue()
    workers = [mp.Process(target=_load_main, args=(p, barrier, results)) for p in plans]
    for w in workers:
        w.start()
    try:
        out = [next_result(results, workers, "load process") for _ in workers]
    finally:
        for w in workers:
            w.join(timeout=30)
            if w.is_alive():
                w.terminate()
    return sorted(out, key=lambda r: r.index)


def _load_main(
    plan: LoadPlan, barrier: Barrier, results: multiprocessing.Queue[LoadResult]
) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        results.put(runner.run(_load(plan, barrier)))


class Peer:
    """One client socket: answers by ref go to waiters, everything else to `on_frame`."""

    def __init__(self, ws: ClientConnection, on_frame: Callable[[dict[str, Any]], None]) -> None:
        self.ws = ws
        self.on_frame = on_frame
        self._waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._refs = itertools.count(1)
        self._ready: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                frame = orjson.loads(raw)
                waiter = self._waiters.pop(frame.get("ref") or "", None)
                if frame.get("type") == "ready" and not self._ready.done():
                    self._ready.set_result(frame)
                elif waiter is not None:
                    waiter.set_result(frame)
                else:
                    self.on_frame(frame)

    async def request(self, frame: dict[str, Any]) -> dict[str, Any]:
        ref = f"q{next(self._refs)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[ref] = future
        await self.ws.send(orjson.dumps({**frame, "ref": ref}).decode())
        return await asyncio.wait_for(future, 30)

    async def ready(self) -> dict[str, Any]:
        """The server's `ready` frame, however early it came."""
        return await asyncio.wait_for(asyncio.shield(self._ready), 30)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 15)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@dataclass
class Pair:
    consumer: Peer
    conversation_id: int
    credit: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(0))
    crosses: bool = False  # the consumer's server is not its agent's
    delivered: int = 0  # messages of this load's that reached the agent


class Tally:
    """What one load process sent, got acknowledged and saw delivered, by client id."""

    def __init__(self) -> None:
        self.sent_at: dict[str, float] = {}
        self.acked: set[str] = set()
        self.delivered_at: dict[str, float] = {}
        self.by_conversation: dict[int, Pair] = {}
        self.errors = 0
        # Deliveries of messages whose client id starts so give their pair a credit back.
        self.credit_prefix: str | None = None

    def on_consumer_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "ack":
            self.acked.add(frame["client_id"])
        elif kind == "error":
            self.errors += 1

    def on_agent_frame(self, frame: dict[str, Any]) -> None:
        if frame.get("type") != "message":
            return
        message = frame["message"]
        if message.get("sender") != "consumer":
            return
        client_id = message["client_id"]
        if client_id in self.sent_at and client_id not in self.delivered_at:
            self.delivered_at[client_id] = time.perf_counter()
            pair = self.by_conversation.get(message["conversation_id"])
            if pair is None:
                return
            pair.delivered += 1
            if self.credit_prefix and client_id.startswith(self.credit_prefix):
                pair.credit.release()

    def settled(self, ids: Sequence[str]) -> bool:
        return all(i in self.acked and i in self.delivered_at for i in ids)


async def _load(plan: LoadPlan, barrier: Barrier) -> LoadResult:
    result = LoadResult(plan.index)
    tally = Tally()
    started = time.perf_counter()
    peers: list[Peer] = []
    try:
        async with httpx.AsyncClient(base_url=plan.http_url, timeout=60.0) as http:
            for j, (agent_id, username) in enumerate(plan.agents):
                ws_url = f"ws://127.0.0.1:{_agent_port(plan, j)}" if plan.ports else plan.ws_url
                peers.append(await _agent(plan, http, agent_id, username, tally, ws_url))
            gate = asyncio.Semaphore(SETUP_CONCURRENCY)

            async def one(k: int) -> Pair | None:
                async with gate:
                    return await _consumer(plan, http, k, tally)

            opened = await asyncio.gather(*(one(k) for k in range(plan.pairs)))
        pairs = [p for p in opened if p is not None]
        peers += [p.consumer for p in pairs]
        tally.by_conversation = {p.conversation_id: p for p in pairs}
        result.pairs_open = len(pairs)
        result.setup_s = time.perf_counter() - started
        await asyncio.to_thread(barrier.wait, 600)
        if not plan.bare and not plan.saturation_only:
            low = _offered(plan, pairs, tally, plan.low_rate, "l")
            result.phases["low"] = await _bounded(plan, low)
            await asyncio.to_thread(barrier.wait, 600)
            offered = _offered(plan, pairs, tally, plan.rate, "o")
            result.phases["offered"] = await _bounded(plan, offered)
            await asyncio.to_thread(barrier.wait, 600)
        result.phases["saturation"] = await _bounded(plan, _saturate(plan, pairs, tally))
        result.errors = tally.errors
        result.cross_pairs = sum(1 for p in pairs if p.crosses)
        result.cross_delivered = sum(p.delivered for p in pairs if p.crosses)
    finally:
        await asyncio.gather(*(p.close() for p in peers))
    return result


async def _bounded(plan: LoadPlan, phase: Coroutine[Any, Any, PhaseResult]) -> PhaseResult:
    """A phase that hangs fails the run instead (its process exits with an error)."""
    return await asyncio.wait_for(phase, plan.seconds + GRACE_S + 60)


def _agent_port(plan: LoadPlan, j: int) -> int:
    """The server of the plan's agent number j: each load process deals its agents out over
    the servers in turn, starting at its own index."""
    return plan.ports[(plan.index + j) % len(plan.ports)]


async def _agent(
    plan: LoadPlan,
    http: httpx.AsyncClient,
    agent_id: int,
    username: str,
    tally: Tally,
    ws_url: str,
) -> Peer:
    if plan.bare:
        ws = await connect(f"{plan.ws_url}/agent/{agent_id}", compression=None, max_queue=None)
        return Peer(ws, tally.on_agent_frame)
    login = {"shop_id": plan.shop_id, "username": username, "password": BENCH_PASSWORD}
    response = await http.post("/api/auth/login", json=login)
    for _ in range(LOGIN_RETRIES):
        # The login throttle (ACCT-4) has now and then slowed one of the load processes'
        # agent logins, all from one address, by a second: wait as told, then go on.
        if response.status_code != 429:
            break
        await asyncio.sleep(float(response.headers.get("retry-after", "1")))
        response = await http.post("/api/auth/login", json=login)
    response.raise_for_status()
    cookie = response.cookies["kefu_session"]
    ws = await connect(
        f"{ws_url}/ws/staff",
        additional_headers={"Cookie": f"kefu_session={cookie}"},
        origin=Origin(ws_url.replace("ws://", "http://", 1)),
        compression=None,
        max_queue=None,
    )
    peer = Peer(ws, tally.on_agent_frame)
    await peer.ready()
    return peer


async def _consumer(plan: LoadPlan, http: httpx.AsyncClient, k: int, tally: Tally) -> Pair | None:
    if plan.bare:
        agent_id = plan.agents[k % len(plan.agents)][0]
        conversation_id = plan.index * 1_000_000 + k + 1
        ws = await connect(
            f"{plan.ws_url}/consumer/{conversation_id}?agent={agent_id}",
            compression=None,
            max_queue=None,
        )
        return Pair(Peer(ws, tally.on_consumer_frame), conversation_id)
    session = (await http.post("/api/consumer/session", json={"shop_id": plan.shop_id})).json()
    token = session["token"]
    ports = plan.ports or (0,)
    at = (plan.index + k) % len(ports)
    peer = await _consumer_socket(plan, ports[at], token, tally)
    opened = await peer.request({"type": "open", "entry": {"source": plan.source}})
    answer = await peer.request({"type": "request_human"})
    if answer.get("type") != "conversation" or answer["conversation"]["state"] != "assigned":
        tally.errors += 1
        await peer.close()
        return None
    homes = {agent_id: _agent_port(plan, j) for j, (agent_id, _) in enumerate(plan.agents)}
    agent_port = homes.get(answer["conversation"]["agent_id"]) if plan.ports else None
    if len(ports) > 1 and agent_port == ports[at]:
        # On its agent's server: the consumer moves to the next one (its token is valid on
        # every server), so that its messages cross Redis to reach the agent.
        await peer.close()
        at = (at + 1) % len(ports)
        peer = await _consumer_socket(plan, ports[at], token, tally)
    crosses = agent_port is not None and agent_port != ports[at]
    return Pair(peer, int(opened["conversation"]["id"]), crosses=crosses)


async def _consumer_socket(plan: LoadPlan, port: int, token: str, tally: Tally) -> Peer:
    """An authenticated consumer socket on the server at `port` (0: the plan's ws_url)."""
    ws_url = f"ws://127.0.0.1:{port}" if port else plan.ws_url
    ws = await connect(f"{ws_url}/ws/consumer", compression=None, max_queue=None)
    peer = Peer(ws, tally.on_consumer_frame)
    auth = {"type": "auth", "shop_id": plan.shop_id, "token": token}
    await ws.send(orjson.dumps(auth).decode())
    await peer.ready()
    return peer


def _send_frame(pair: Pair, client_id: str) -> str:
    return orjson.dumps(
        {
            "type": "send",
            "ref": client_id,
            "conversation_id": pair.conversation_id,
            "client_id": client_id,
            "kind": "text",
            "body": f"bench {client_id}",
        }
    ).decode()


async def _offered(
    plan: LoadPlan, pairs: list[Pair], tally: Tally, rate: float, prefix: str
) -> PhaseResult:
    """Open loop: send at the planned instants whatever the answers do."""
    ids: list[str] = []
    clock = _ServerClock(plan)
    start = time.perf_counter()
    end = start + plan.seconds
    while (now := time.perf_counter()) < end:
        due = int((now - start) * rate)
        while len(ids) < due and pairs:
            pair = pairs[len(ids) % len(pairs)]
            client_id = f"{prefix}{plan.index}-{len(ids)}"
            tally.sent_at[client_id] = time.perf_counter()
            ids.append(client_id)
            await pair.consumer.ws.send(_send_frame(pair, client_id))
        await asyncio.sleep(0.001)
    cpu_s, wall_s = clock.read()
    return await _settle(tally, ids, end, cpu_s, wall_s)


async def _saturate(plan: LoadPlan, pairs: list[Pair], tally: Tally) -> PhaseResult:
    """Closed loop: each pair keeps `window` messages between its consumer and its agent."""
    ids: list[str] = []
    counter = itertools.count()
    for pair in pairs:  # fresh credits: nothing earned in an earlier phase carries over
        pair.credit = asyncio.Semaphore(0)
    tally.credit_prefix = "s"
    clock = _ServerClock(plan)
    end = time.perf_counter() + plan.seconds
    ended = asyncio.Event()

    async def run(pair: Pair) -> None:
        for _ in range(plan.window):
            pair.credit.release()
        while True:
            await pair.credit.acquire()
            # Not the clock: the loop's timer may wake the sleep below a little before `end`,
            # and a sender that took the closing credit for one more message waits forever.
            if ended.is_set():
                return
            client_id = f"s{plan.index}-{next(counter)}"
            tally.sent_at[client_id] = time.perf_counter()
            ids.append(client_id)
            await pair.consumer.ws.send(_send_frame(pair, client_id))

    tasks = [asyncio.create_task(run(p)) for p in pairs]
    await asyncio.sleep(max(0.0, end - time.perf_counter()))
    cpu_s, wall_s = clock.read()
    busy = clock.machine_busy()
    ended.set()
    tally.credit_prefix = None
    for pair in pairs:
        pair.credit.release()  # wake senders waiting for credit so they see the end
    await asyncio.gather(*tasks)
    result = await _settle(tally, ids, end, cpu_s, wall_s)
    result.machine_busy = busy
    return result


class _ServerClock:
    """The servers' CPU seconds (summed), the wall seconds and the machine's busy ticks since
    it was made (first load process)."""

    def __init__(self, plan: LoadPlan) -> None:
        self._pids = plan.server_pids if plan.index == 0 else ()
        self._cpu = self._server_cpu()
        self._machine = machine_jiffies()
        self._wall = time.perf_counter()

    def _server_cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self._pids)

    def read(self) -> tuple[float, float]:
        if not self._pids:
            return 0.0, 0.0
        return self._server_cpu() - self._cpu, time.perf_counter() - self._wall

    def machine_busy(self) -> float:
        """The share of all cores busy since the clock was made."""
        busy, total = machine_jiffies()
        return (busy - self._machine[0]) / max(1, total - self._machine[1])


async def _settle(
    tally: Tally, ids: list[str], end: float, cpu_s: float, wall_s: float
) -> PhaseResult:
    deadline = time.perf_counter() + GRACE_S
    # Polling: the readers fill the tallies; one Event per message would cost more than this.
    while not tally.settled(ids) and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    delivered = [i for i in ids if i in tally.delivered_at]
    return PhaseResult(
        sent=len(ids),
        delivered_in_phase=sum(1 for i in delivered if tally.delivered_at[i] <= end),
        lost=sum(1 for i in ids if i not in tally.acked or i not in tally.delivered_at),
        latencies_ms=[(tally.delivered_at[i] - tally.sent_at[i]) * 1000.0 for i in delivered],
        server_cpu_s=cpu_s,
        wall_s=wall_s,
    )


# ---------------------------------------------------------------------------------------------
# The bare relay


def create_relay_app() -> Starlette:
    """Forward each consumer frame to its paired agent socket with the frames kefu sends for a
    message — the ack carrying the message to the sender's socket, the message to the
    agent's — each as large as kefu's, and nothing else: no persistence, no checks."""
    agents: dict[int, WebSocket] = {}

    def dumps(frame: dict[str, Any]) -> str:
        return orjson.dumps(frame, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC).decode()

    async def agent(websocket: WebSocket) -> None:
        agent_id = int(websocket.path_params["agent_id"])
        await websocket.accept()
        agents[agent_id] = websocket
        try:
            while True:
                await websocket.receive_text()
        except WebSocketDisconnect:
            agents.pop(agent_id, None)

    async def consumer(websocket: WebSocket) -> None:
        conversation_id = int(websocket.path_params["conversation_id"])
        agent_id = int(websocket.query_params["agent"])
        seqs = itertools.count(1)
        await websocket.accept()
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                frame = orjson.loads(await websocket.receive_text())
                client_id = frame["client_id"]
                seq = next(seqs)
                now = datetime.now(UTC)
                stored = {
                    "id": 0,
                    "conversation_id": conversation_id,
                    "seq": seq,
                    "sender": "consumer",
                    "sender_id": conversation_id,
                    "sender_name": "访客",
                    "kind": frame.get("kind", "text"),
                    "body": frame["body"],
                    "client_id": client_id,
                    "created_at": now,
                    "meta": None,
                    "notice": None,
                }
                ack = {
                    "type": "ack",
                    "ref": frame.get("ref"),
                    "conversation_id": conversation_id,
                    "seq": seq,
                    "client_id": client_id,
                    "created_at": now,
                    "message": stored,
                }
                await websocket.send_text(dumps(ack))
                target = agents.get(agent_id)
                if target is not None:
                    await target.send_text(dumps({"type": "message", "message": stored}))

    return Starlette(
        routes=[
            WebSocketRoute("/agent/{agent_id:int}", agent),
            WebSocketRoute("/consumer/{conversation_id:int}", consumer),
        ]
    )
