"""`kefu bench routing`: drains a queue of human requests through the real routing services
from several processes at once, then checks ROUTE-7 from the event rows.

A private database gets a shop whose agents' limits sum to fewer than the requests, and the
requests are inserted directly, already queued (the draining is what is measured). Each worker
process runs `--tasks` loops that call `drain` and end conversations with
`end_conversation` (which hands the freed slot to the shop's coalesced drain and returns once a
drain pass has taken it): a share of what each drain assigned, and, when a drain finds every
agent full, conversations of the loop's own partition, each of another agent. A loop ends
`--ends` conversations at once, each with its own call, as the agents of a busy shop free
capacity together; by default the agents over the loops, so that about as many ends are in
flight as there are agents, each ending one conversation at a time. (One end at a time per
loop made the tail the loops' own round trips — 8 loops, each waiting for its end and the
drain pass after it — not the service's: capacity freed by many agents at once was never
asked of it.) Every assignment is decided under the shop
lock against loads read from the database, so the processes race exactly as serving processes
would.

Figures: `assignments_per_s` is assignment events over the wall time from the moment every
worker is ready until the last one sees an empty queue; `bulk_assignments_per_s` the rate while
the agents' initial capacity (agents × limit) fills, `tail_assignments_per_s` the rate after,
when every assignment waits for a conversation to end. `p99_assign_ms` is the 99th percentile
of one routing call's latency as the worker sees it — a `drain` or an `end_conversation`
call, waiting for the shop lock included. `over_limit` replays the assigned and ended events of
each agent in the order the database recorded them (event id: every such row is written under
the shop lock, so ids follow the lock order; `at` is read before the lock is taken and may
invert) and reports the largest excess of load over limit. On PostgreSQL, `lock_held_p50_ms`
is the median time a transaction of the workers held the shop's advisory lock (from the lock
granted until its commit or rollback is sent, commit round trip not included), and
`lock_busy_share` the sum of those holds over the wall time: near 1, the shop lock bounds the
rate; well below, something else does (on SQLite, whose lock is the file's, both are 0).
`double_assigned` counts conversations with more than one assignment and no transfer; `lost`
counts requests neither assigned nor still queued. It must not be run against a database that
holds real shops.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import typer
from sqlalchemy import event, func, insert, select

from kefu import errors
from kefu.bench.common import (
    DEFAULT_PG_ADMIN_URL,
    create_database,
    drop_database,
    emit_json,
    next_result,
    percentile,
    print_table,
    progress,
    seed_shop,
)
from kefu.broker.memory import MemoryBroker
from kefu.clock import SystemClock
from kefu.domain.conversation import ConversationState
from kefu.domain.presence import Role
from kefu.services.context import Context, Staff
from kefu.services.conversations import end_conversation
from kefu.services.routing import drain
from kefu.settings import Settings
from kefu.storage import tables as t
from kefu.storage.db import Database
from kefu.storage.migrate import upgrade


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    url: str
    shop_id: int
    index: int
    tasks: int
    partitions: int
    end_share: float
    ends: int
    staff: dict[int, tuple[int, int]]  # account id -> (shop id, group id)


@dataclass
class WorkerReport:
    index: int
    finished_at: float = 0.0
    drained: int = 0
    drain_calls: int = 0
    end_calls: int = 0
    end_refused: int = 0
    call_ms: list[float] = field(default_factory=list)
    lock_held_ms: list[float] = field(default_factory=list)


def command(
    requests: int = typer.Option(10_000, "--requests", min=1, help="Queued human requests."),
    agents: int = typer.Option(200, "--agents", min=1, help="Online agents."),
    limit: int = typer.Option(
        0, "--limit", min=0, help="Reception limit per agent; 0: 80% of requests over the agents."
    ),
    processes: int = typer.Option(2, "--processes", min=1, help="Worker processes."),
    tasks: int = typer.Option(4, "--tasks", min=1, help="Concurrent routing loops per process."),
    ends: int = typer.Option(
        0,
        "--ends",
        min=0,
        help="Conversations a loop ends at once; 0: the agents over the loops (every agent "
        "ending one at a time).",
    ),
    end_share: float = typer.Option(
        0.25, "--end-share", min=0.0, max=1.0, help="Share of drained requests the agents end."
    ),
    db: str = typer.Option(
        DEFAULT_PG_ADMIN_URL,
        "--db",
        help="PostgreSQL admin URL (a private database is made "
        "next to it and dropped), or `sqlite` for a temporary file.",
    ),
    as_json: bool = typer.Option(False, "--json", help="End with one JSON line."),
) -> None:
    """Drain queued human requests over several processes and check ROUTE-7."""
    limit = limit or max(1, (requests * 4 // 5) // agents)
    ends = ends or max(1, agents // (processes * tasks))
    figures = asyncio.run(
        benchmark(
            requests=requests,
            agents=agents,
            limit=limit,
            processes=processes,
            tasks=tasks,
            ends=ends,
            end_share=end_share,
            db=db,
        )
    )
    print_table(
        "kefu bench routing",
        figures,
        caption=f"{agents} agents × limit {limit}, {processes} processes × {tasks} loops"
        f" × {ends} ends at once",
    )
    if as_json:
        emit_json(figures)


async def benchmark(
    *,
    requests: int,
    agents: int,
    limit: int,
    processes: int,
    tasks: int,
    ends: int,
    end_share: float,
    db: str,
) -> dict[str, float | int | str]:
    """Set up, drain in worker processes, check from the events (ROUTE-7)."""
    with tempfile.TemporaryDirectory(prefix="kefu-bench-") as tmp:
        is_sqlite = db.startswith("sqlite")
        url = (
            f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            if is_sqlite
            else await create_database(db)
        )
        database: Database | None = None
        try:
            progress.print(f"routing: migrating {url.rsplit('/', 1)[1]}")
            await asyncio.to_thread(upgrade, url)
            database = Database(url)
            now = SystemClock().now()
            shop = await seed_shop(database, agents=agents, limit=limit, now=now)
            await _enqueue(database, shop.shop_id, shop.group_ids[0], requests, now)
            staff = {a: (shop.shop_id, shop.group_ids[0]) for a, _ in shop.agents[0]}
            configs = [
                WorkerConfig(url, shop.shop_id, i, tasks, processes * tasks, end_share, ends, staff)
                for i in range(processes)
            ]
            progress.print(f"routing: draining {requests} requests over {processes} processes")
            started, elapsed, reports = await asyncio.to_thread(_run_workers, configs)
            checks = await _check(database, shop.shop_id, limit)
            bulk, tail = await _phases(
                database, shop.shop_id, capacity=agents * limit, started=started, elapsed=elapsed
            )
        finally:
            if database is not None:
                await database.dispose()
            if not is_sqlite:
                await drop_database(db, url)
    calls = [ms for r in reports for ms in r.call_ms]
    held = [ms for r in reports for ms in r.lock_held_ms]
    return {
        "requests": checks["requests"],
        "assigned": checks["assigned"],
        "queued": checks["queued"],
        "double_assigned": checks["double_assigned"],
        "over_limit": checks["over_limit"],
        "lost": checks["lost"],
        "assignments_per_s": checks["assigned"] / elapsed if elapsed > 0 else 0.0,
        "bulk_assignments_per_s": bulk,
        "tail_assignments_per_s": tail,
        "p99_assign_ms": percentile(calls, 99),
        "p50_assign_ms": percentile(calls, 50),
        "lock_held_p50_ms": percentile(held, 50) if held else 0.0,
        "lock_busy_share": sum(held) / 1000.0 / elapsed if elapsed > 0 else 0.0,
        "ended": checks["ended"],
        "drain_calls": sum(r.drain_calls for r in reports),
        "end_calls": sum(r.end_calls for r in reports),
        "end_refused": sum(r.end_refused for r in reports),
        "seconds": elapsed,
        "processes": len(reports),
        "ends_at_once": ends,
        "agents": agents,
        "limit": limit,
        "db": "sqlite" if is_sqlite else "postgresql",
    }


async def _enqueue(db: Database, shop_id: int, group_id: int, n: int, now: datetime) -> None:
    """N consumers, each with a conversation queued at its own instant (FCFS is well defined)."""
    async with db.uow() as tx:
        consumer_ids = (
            await tx.conn.scalars(
                insert(t.consumers).returning(t.consumers.c.id, sort_by_parameter_order=True),
                [
                    {"shop_id": shop_id, "uid": f"c{i}", "nickname": f"c{i}", "created_at": now}
                    for i in range(n)
                ],
            )
        ).all()
        times = [now - timedelta(milliseconds=n - i) for i in range(n)]
        conversation_ids = (
            await tx.conn.scalars(
                insert(t.conversations).returning(
                    t.conversations.c.id, sort_by_parameter_order=True
                ),
                [
                    {
                        "shop_id": shop_id,
                        "consumer_id": consumer_id,
                        "state": ConversationState.QUEUED,
                        "group_id": group_id,
                        "entry": {"source": "direct"},
                        "created_at": at,
                        "human_requested_at": at,
                    }
                    for consumer_id, at in zip(consumer_ids, times, strict=True)
                ],
            )
        ).all()
        await tx.conn.execute(
            insert(t.conversation_events),
            [
                {
                    "shop_id": shop_id,
                    "conversation_id": cid,
                    "kind": kind,
                    "cause": "consumer",
                    "group_id": group_id,
                    "at": at,
                    "data": {},
                }
                for cid, at in zip(conversation_ids, times, strict=True)
                for kind in ("human_requested", "queued")
            ],
        )
        await tx.commit()


def _run_workers(configs: list[WorkerConfig]) -> tuple[datetime, float, list[WorkerReport]]:
    """Start the workers, release them together, and wait for their reports (blocking)."""
    mp = multiprocessing.get_context("spawn")
    barrier = mp.Barrier(len(configs) + 1)
    results: multiprocessing.Queue[WorkerReport] = mp.Queue()
    workers = [mp.Process(target=_worker_main, args=(c, barrier, results)) for c in configs]
    for w in workers:
        w.start()
    try:
        barrier.wait(timeout=120)
        started = time.time()
        reports = [next_result(results, workers, "routing worker") for _ in workers]
    finally:
        for w in workers:
            w.join(timeout=30)
            if w.is_alive():
                w.terminate()
    elapsed = max(r.finished_at for r in reports) - started
    return datetime.fromtimestamp(started, UTC), elapsed, sorted(reports, key=lambda r: r.index)


def _worker_main(
    config: WorkerConfig, barrier: Barrier, results: multiprocessing.Queue[WorkerReport]
) -> None:
    results.put(asyncio.run(_work(config, barrier)))


async def _work(config: WorkerConfig, barrier: Barrier) -> WorkerReport:
    settings = Settings(database_url=config.url)
    ctx = Context(
        db=Database(config.url, pool_size=config.tasks * config.ends + 2),
        clock=SystemClock(),
        broker=MemoryBroker(),
        settings=settings,
        rng=random.Random(config.index),
    )
    report = WorkerReport(config.index)
    _time_the_lock(ctx.db, report.lock_held_ms)
    to_end: list[tuple[int, int]] = []  # (conversation, its agent)
    try:
        async with ctx.db.read() as tx:  # open the pool before the start line
            await tx.conn.execute(select(1))
        await asyncio.to_thread(barrier.wait, 120)
        await asyncio.gather(
            *(
                _loop(ctx, config, config.index * config.tasks + k, report, to_end)
                for k in range(config.tasks)
            )
        )
        report.finished_at = time.time()
    finally:
        await ctx.db.dispose()
    return report


def _time_the_lock(db: Database, held_ms: list[float]) -> None:
    """Record how long each transaction holds the shop's advisory lock (PostgreSQL)."""
    engine = db.engine.sync_engine

    @event.listens_for(engine, "after_cursor_execute")
    def _locked(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "advisory_xact_lock" in statement:  # pg_advisory_xact_lock, pg_try_advisory_xact_lock
            conn.info["kefu_locked_at"] = time.perf_counter()

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _released(conn: Any) -> None:
        locked_at = conn.info.pop("kefu_locked_at", None)
        if locked_at is not None:
            held_ms.append((time.perf_counter() - locked_at) * 1000.0)


async def _loop(
    ctx: Context,
    config: WorkerConfig,
    partition: int,
    report: WorkerReport,
    to_end: list[tuple[int, int]],
) -> None:
    """End `ends` conversations of the shared pool at once (their freed slots are routed in
    the same calls); with the pool empty, drain, and when every agent is full end `ends` of
    this loop's partition at once, each of another agent; stop once the queue is empty."""
    rng = random.Random(partition)
    while True:
        if to_end:
            n = min(config.ends, len(to_end))
            await _end_all(
                ctx, config, report, [to_end.pop(rng.randrange(len(to_end))) for _ in range(n)]
            )
            if await _queued(ctx, config.shop_id) == 0:
                return
            continue
        started = time.perf_counter()
        assigned = await drain(ctx, config.shop_id, freed_capacity=False)
        report.call_ms.append((time.perf_counter() - started) * 1000.0)
        report.drain_calls += 1
        report.drained += len(assigned)
        to_end += await _agents_of(
            ctx, [cid for cid in assigned if rng.random() < config.end_share]
        )
        if assigned:
            continue
        if await _queued(ctx, config.shop_id) == 0:
            return
        victims = await _own_assigned(ctx, config, partition, rng)
        if not victims:
            await asyncio.sleep(0.001)
        else:
            await _end_all(ctx, config, report, victims)


async def _agents_of(ctx: Context, cids: list[int]) -> list[tuple[int, int]]:
    """These conversations with the agents holding them (one read)."""
    if not cids:
        return []
    c = t.conversations.c
    async with ctx.db.read() as tx:
        rows = await tx.conn.execute(select(c.id, c.agent_id).where(c.id.in_(cids)))
        return [(cid, agent_id) for cid, agent_id in rows if agent_id is not None]


async def _end_all(
    ctx: Context, config: WorkerConfig, report: WorkerReport, victims: list[tuple[int, int]]
) -> None:
    """The agents holding the conversations end them at once, each with their own call."""
    await asyncio.gather(*(_end(ctx, config, report, cid, agent) for cid, agent in victims))


async def _end(
    ctx: Context, config: WorkerConfig, report: WorkerReport, cid: int, agent_id: int
) -> None:
    """The agent holding `cid` ends it, as through the API."""
    shop_id, group_id = config.staff[agent_id]
    started = time.perf_counter()
    try:
        await end_conversation(ctx, Staff(agent_id, shop_id, Role.AGENT, group_id), cid)
    except errors.ConversationClosed:
        report.end_refused += 1  # another loop ended it first: the service refused, as it must
    report.call_ms.append((time.perf_counter() - started) * 1000.0)
    report.end_calls += 1


async def _queued(ctx: Context, shop_id: int) -> int:
    c = t.conversations.c
    async with ctx.db.read() as tx:
        n = await tx.conn.scalar(
            select(func.count()).where(c.shop_id == shop_id, c.state == ConversationState.QUEUED)
        )
    return int(n or 0)


async def _own_assigned(
    ctx: Context, config: WorkerConfig, partition: int, rng: random.Random
) -> list[tuple[int, int]]:
    """Up to `ends` assigned conversations of the loop's partition, at random, each of another
    agent, with their agents."""
    c = t.conversations.c
    async with ctx.db.read() as tx:
        rows = (
            await tx.conn.execute(
                select(c.id, c.agent_id).where(
                    c.shop_id == config.shop_id,
                    c.state == ConversationState.ASSIGNED,
                    c.id % config.partitions == partition,
                )
            )
        ).all()
    by_agent: dict[int, int] = {}
    for cid, agent_id in rng.sample(rows, len(rows)):
        by_agent.setdefault(agent_id, cid)
    return [(cid, agent_id) for agent_id, cid in by_agent.items()][: config.ends]


async def _phases(
    db: Database, shop_id: int, *, capacity: int, started: datetime, elapsed: float
) -> tuple[float, float]:
    """Assignments per second while the agents' initial capacity fills (the bulk: the first
    `capacity` assignments) and afterwards, when each needs a conversation to end first (the
    tail). An assignment event carries the time its routing pass began, so the bulk lasts from
    the start line to the first tail pass, and the tail from there to the last pass."""
    e = t.conversation_events.c
    async with db.read() as tx:
        times = (
            await tx.conn.scalars(
                select(e.at).where(e.shop_id == shop_id, e.kind == "assigned").order_by(e.id)
            )
        ).all()
    if len(times) <= capacity:
        return (len(times) / elapsed if elapsed > 0 else 0.0), 0.0
    first_tail = times[capacity]
    bulk_s = (first_tail - started).total_seconds()
    tail_s = (times[-1] - first_tail).total_seconds()
    bulk = capacity / bulk_s if bulk_s > 0 else 0.0
    tail = (len(times) - capacity) / tail_s if tail_s > 0 else 0.0
    return bulk, tail


async def _check(db: Database, shop_id: int, limit: int) -> dict[str, int]:
    """ROUTE-7 from the database: counts, double assignments, and the load replayed per agent."""
    c = t.conversations.c
    e = t.conversation_events.c
    async with db.read() as tx:
        states: dict[str, int] = dict(
            (
                await tx.conn.execute(
                    select(c.state, func.count()).where(c.shop_id == shop_id).group_by(c.state)
                )
            ).all()
        )
        events = (
            await tx.conn.execute(
                select(e.conversation_id, e.kind, e.agent_id)
                .where(e.shop_id == shop_id, e.kind.in_(["assigned", "ended", "transferred"]))
                .order_by(e.id)
            )
        ).all()
        queued_ids = set(
            (
                await tx.conn.scalars(
                    select(c.id).where(c.shop_id == shop_id, c.state == ConversationState.QUEUED)
                )
            ).all()
        )
        all_ids = set((await tx.conn.scalars(select(c.id).where(c.shop_id == shop_id))).all())
    return _replay(events, states, queued_ids, all_ids, limit)


def _replay(
    events: Any, states: dict[str, int], queued_ids: set[int], all_ids: set[int], limit: int
) -> dict[str, int]:
    assignments: dict[int, int] = {}
    transferred: set[int] = set()
    owner: dict[int, int] = {}
    load: dict[int, int] = {}
    worst = 0
    ended = 0
    for conversation_id, kind, agent_id in events:
        if kind == "assigned":
            assignments[conversation_id] = assignments.get(conversation_id, 0) + 1
            owner[conversation_id] = agent_id
            load[agent_id] = load.get(agent_id, 0) + 1
            worst = max(worst, load[agent_id] - limit)
        elif kind == "ended" and conversation_id in owner:
            ended += 1
            agent = owner.pop(conversation_id)
            load[agent] -= 1
        elif kind == "transferred":
            transferred.add(conversation_id)
    return {
        "requests": len(all_ids),
        "assigned": sum(assignments.values()),
        "queued": states.get(ConversationState.QUEUED, 0),
        "ended": ended,
        "double_assigned": sum(
            1 for cid, n in assignments.items() if n > 1 and cid not in transferred
        ),
        "over_limit": worst,
        "lost": len(all_ids - queued_ids - set(assignments)),
    }
