"""`kefu bench scaleout`: the gateway's saturation with one `kefu serve` process on PostgreSQL,
then with two processes sharing that PostgreSQL and a Redis for the fan-out, the same load in
one run (issue 16: two processes + Redis should deliver at least 1.5× one process at the same
p99).

Each side gets a fresh private database holding `--stored` messages of another shop
(bench/history.py), the same seeded shop and the same clients: `--pairs` consumer-agent
conversations from `--load-procs` load processes, each pair keeping `--window` messages in
flight for `--seconds` (phase three of `kefu bench gateway`, whose module has the details). The
single process runs without Redis, as a one-process deployment does. With two, every pair has
its consumer on one process and its agent on the other (gateway.py: agents dealt out over the
servers, a consumer moved off its agent's server), so each message is written by one process
and reaches its agent through Redis and the other one: the worst case for the fan-out, where a
load balancer would cross about half the pairs.

Figures per side: delivered messages per second (`one_process_per_s`, `two_processes_per_s`,
`scale_ratio` = two / one), the send → agent-receipt p50 and p99, the servers' CPU in cores
(summed over the processes) and per delivered message, and `machine_busy`, the share of all
the machine's cores in use meanwhile. With a fixed number of messages in flight, a side that
delivers more per second also waits less per message (Little's law), so a `scale_ratio` above 1
with a p99 no higher is "more at the same p99". `lost` counts messages of both sides never
both acknowledged and delivered (must be 0); `cross_pairs` and `cross_delivered` show that the
two-process side's messages did cross processes.

The machine's cores, its load average before and after, and both sides' `machine_busy` are
printed with the figures, because on a small machine they decide the result: the load
generators, PostgreSQL, Redis and the servers all share the same cores. One process is a
single event loop and uses at most one core, leaving the others to the clients and the
database; two processes compete with them for the same cores, so once `machine_busy` nears 1.0
the second process adds little, and the ratio measures the machine rather than kefu. On two
cores this understates a real deployment, where each process has its own core and PostgreSQL
and the clients run elsewhere. `projected_ratio` estimates that case from the CPU cost alone:
2 × (one process's CPU per message / two processes' CPU per message), i.e. what two processes
deliver with a core each if the single process was bound by its one core (`one_process_cores`
near 1) and the database keeps up; the difference between the two costs is what the fan-out
adds per message (a publish on one side, a receive on the other). Processes are not pinned to
cores: pinning the two servers apart would starve the clients and the database of the core
they share, and make the two-process side look worse than it is, not fairer.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import typer

from kefu.bench.common import (
    DEFAULT_PG_ADMIN_URL,
    DEFAULT_REDIS_URL,
    drop_database,
    emit_json,
    percentile,
    print_table,
    progress,
)
from kefu.bench.gateway import (
    LoadResult,
    database_with_history,
    prepare,
    run_kefu,
    server_env,
)
from kefu.domain.shop import ENTRY_SOURCES

PHASE = "saturation"


def command(
    pairs: int = typer.Option(400, "--pairs", min=1, help="Consumer-agent conversations."),
    seconds: float = typer.Option(10.0, "--seconds", min=0.5, help="Length of each side's run."),
    limit: int = typer.Option(50, "--limit", min=1, max=50, help="Reception limit per agent."),
    window: int = typer.Option(4, "--window", min=1, help="In-flight messages per pair."),
    stored: int = typer.Option(
        100_000, "--stored", min=0, help="Messages already stored (generated once, cached)."
    ),
    load_procs: int = typer.Option(
        2, "--load-procs", min=1, max=len(ENTRY_SOURCES), help="Load-generator processes."
    ),
    redis_url: str = typer.Option(DEFAULT_REDIS_URL, "--redis-url", help="The fan-out's Redis."),
    pg_admin_url: str = typer.Option(DEFAULT_PG_ADMIN_URL, "--pg-admin-url"),
    as_json: bool = typer.Option(False, "--json", help="End with one JSON line."),
) -> None:
    """Saturation with 1 process on PostgreSQL against 2 processes + Redis, the same load."""
    figures = asyncio.run(
        benchmark(
            pairs=pairs,
            seconds=seconds,
            limit=limit,
            window=window,
            stored=stored,
            load_procs=load_procs,
            redis_url=redis_url,
            pg_admin_url=pg_admin_url,
        )
    )
    print_table(
        "kefu bench scaleout (postgresql)",
        figures,
        caption=(
            f"{pairs} pairs, window {window}, {load_procs} load process(es), "
            f"{stored:,} messages stored before, {os.cpu_count()} cores"
        ),
    )
    if as_json:
        emit_json(figures)


async def benchmark(
    *,
    pairs: int,
    seconds: float,
    limit: int,
    window: int,
    stored: int,
    load_procs: int,
    redis_url: str,
    pg_admin_url: str,
) -> dict[str, float | int | str]:
    load_before = os.getloadavg()[0]
    sides: dict[int, list[LoadResult]] = {}
    for processes in (1, 2):
        with tempfile.TemporaryDirectory(prefix="kefu-bench-") as tmp_name:
            tmp = Path(tmp_name)
            url = await database_with_history("postgresql", stored, tmp, pg_admin_url)
            try:
                env = server_env(url, tmp, redis_url if processes > 1 else None)
                shop = await prepare(
                    env, "postgresql", pairs=pairs, limit=limit, load_procs=load_procs
                )
                progress.print(f"scaleout: {processes} process(es)")
                sides[processes] = await run_kefu(
                    env,
                    shop,
                    processes=processes,
                    tmp=tmp,
                    pairs=pairs,
                    rate=1.0,  # no offered phase
                    seconds=seconds,
                    window=window,
                    saturation_only=True,
                )
            finally:
                await drop_database(pg_admin_url, url)
    return figures(
        sides[1],
        sides[2],
        seconds=seconds,
        stored=stored,
        window=window,
        load_procs=load_procs,
        load_before=load_before,
        load_after=os.getloadavg()[0],
    )


def figures(
    one: list[LoadResult],
    two: list[LoadResult],
    *,
    seconds: float,
    stored: int,
    window: int,
    load_procs: int,
    load_before: float,
    load_after: float,
) -> dict[str, float | int | str]:
    def side(results: list[LoadResult], name: str) -> dict[str, float]:
        phases = [r.phases[PHASE] for r in results]
        delivered = sum(p.delivered_in_phase for p in phases)
        latencies = [ms for p in phases for ms in p.latencies_ms]
        timed = phases[0]  # the first load process reads the servers' CPU and the machine
        return {
            f"{name}_per_s": delivered / seconds,
            f"{name}_p50_ms": percentile(latencies, 50),
            f"{name}_p99_ms": percentile(latencies, 99),
            f"{name}_cores": timed.server_cpu_s / timed.wall_s if timed.wall_s else 0.0,
            f"{name}_cpu_us_per_message": (
                timed.server_cpu_s / delivered * 1e6 if delivered else 0.0
            ),
            f"{name}_machine_busy": timed.machine_busy,
        }

    a, b = side(one, "one_process"), side(two, "two_processes")
    one_us, two_us = a["one_process_cpu_us_per_message"], b["two_processes_cpu_us_per_message"]
    both = one + two
    return {
        **a,
        **b,
        "scale_ratio": (
            b["two_processes_per_s"] / a["one_process_per_s"] if a["one_process_per_s"] else 0.0
        ),
        "projected_ratio": 2 * one_us / two_us if two_us else 0.0,
        "lost": sum(r.phases[PHASE].lost for r in both),
        "errors": sum(r.errors for r in both),
        "pairs": sum(r.pairs_open for r in two),
        "cross_pairs": sum(r.cross_pairs for r in two),
        "cross_delivered": sum(r.cross_delivered for r in two),
        "cores": os.cpu_count() or 0,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "stored": stored,
        "window": window,
        "load_procs": load_procs,
    }
