"""`kefu bench routing`, `kefu bench gateway`, `kefu bench scaleout` and `kefu bench idle` at
tiny sizes, as a user runs them: their JSON line carries the documented figures, nothing is
lost, ROUTE-7 holds across processes and messages cross processes through Redis (MSG-2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from databases import PG_ADMIN_URL, REDIS_URL, require_pg
from kefu.bench.routing import _replay

ROUTING_KEYS = {
    "requests",
    "assigned",
    "queued",
    "double_assigned",
    "over_limit",
    "lost",
    "assignments_per_s",
    "bulk_assignments_per_s",
    "tail_assignments_per_s",
    "p99_assign_ms",
}
GATEWAY_KEYS = {
    "offered_per_s",
    "delivered_per_s",
    "p50_ms",
    "p99_ms",
    "saturation_per_s",
    "bare_saturation_per_s",
    "ratio_to_bare",
    "lost",
    "stored",
    "cpu_at_500_per_s",
    "cpu_us_per_message",
    "bare_cpu_us_per_message",
    "wal_mb",
}


def _bench(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "kefu", "bench", *args, "--json"],
        env=None if env is None else {**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # A worker's traceback comes first in stderr, the main process's "a worker failed" last.
    assert done.returncode == 0, done.stderr[:4000] + "\n…\n" + done.stderr[-1500:]
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def _db_option(db_url: str) -> str:
    """The benches make their own database: `sqlite`, or one next to this PostgreSQL URL."""
    return "sqlite" if db_url.startswith("sqlite") else db_url


@pytest.mark.slow
def test_route_7_bench_routing_drains_without_double_or_over_limit(db_url: str) -> None:
    figures = _bench("routing", "--requests", "200", "--agents", "10", "--db", _db_option(db_url))
    assert figures.keys() >= ROUTING_KEYS
    assert figures["requests"] == 200
    assert figures["double_assigned"] == figures["over_limit"] == figures["lost"] == 0
    assert figures["queued"] == 0
    # Every request was assigned once; the ended ones freed the slots the rest took.
    assert figures["assigned"] == figures["requests"] - figures["queued"]
    assert figures["assignments_per_s"] > 0
    # 10 agents × limit 16 take the bulk; the other 40 wait for ends (the tail).
    assert figures["bulk_assignments_per_s"] > 0 and figures["tail_assignments_per_s"] > 0


def test_route_7_replay_finds_an_agent_over_its_limit_and_a_double_assignment() -> None:
    events = [(1, "assigned", 7), (2, "assigned", 7), (1, "ended", 7), (3, "assigned", 7)]
    checks = _replay(events, {"queued": 1}, {4}, {1, 2, 3, 4, 5}, limit=1)
    assert checks["over_limit"] == 1
    assert checks["lost"] == 1  # conversation 5: neither assigned nor queued
    twice = _replay([(1, "assigned", 7), (1, "assigned", 8)], {}, set(), {1}, limit=5)
    assert twice["double_assigned"] == 1


@pytest.mark.slow
def test_msg_2_bench_gateway_delivers_every_acked_message(db_url: str, tmp_path: Path) -> None:
    """Issue 16: on SQLite over a stored history (generated into a private cache); on
    PostgreSQL from an empty database, so that no template database outlives the test."""
    db = _db_option(db_url)
    stored = "300" if db == "sqlite" else "0"
    figures = _bench(
        "gateway", "--pairs", "10", "--rate", "100", "--seconds", "2", "--stored", stored,
        "--load-procs", "1",  # 10 pairs need no second load process beside the suite
        "--db", "sqlite" if db == "sqlite" else "postgresql", "--pg-admin-url", db_url,
        env={"XDG_CACHE_HOME": str(tmp_path)},
    )  # fmt: skip
    assert figures.keys() >= GATEWAY_KEYS
    assert figures["lost"] == 0 and figures["errors"] == 0
    assert figures["pairs"] == 10
    assert figures["stored"] == int(stored)
    assert figures["offered_per_s"] > 50
    assert figures["delivered_per_s"] > 0 and figures["saturation_per_s"] > 0
    assert figures["bare_saturation_per_s"] > 0
    assert 0 < figures["cpu_at_500_per_s"] < 2
    assert figures["cpu_us_per_message"] > 0 and figures["bare_cpu_us_per_message"] > 0
    # The CPU ratio: the bare relay's CPU per message over kefu's, the same frames each.
    assert figures["ratio_to_bare"] == pytest.approx(
        figures["bare_cpu_us_per_message"] / figures["cpu_us_per_message"]
    )
    if db == "sqlite":
        assert list(tmp_path.glob("kefu/bench/history-*-300.db")), "the history is cached"
        assert 0 < figures["wal_mb"] < 64  # the write-ahead log was watched, and stayed short
    else:
        assert figures["wal_mb"] == 0


SCALEOUT_KEYS = {
    "one_process_per_s",
    "two_processes_per_s",
    "scale_ratio",
    "one_process_p99_ms",
    "two_processes_p99_ms",
    "one_process_cores",
    "two_processes_cores",
    "one_process_machine_busy",
    "two_processes_machine_busy",
    "projected_ratio",
    "lost",
    "cross_pairs",
    "cross_delivered",
    "cores",
    "load_average_before",
    "load_average_after",
}


@pytest.mark.slow
def test_msg_2_bench_scaleout_delivers_across_processes_through_redis() -> None:
    """Issue 16: one process, then two sharing PostgreSQL and Redis, the same tiny load; with
    two, every pair has its consumer on one server and its agent on the other."""
    require_pg()
    figures = _bench(
        "scaleout", "--pairs", "6", "--seconds", "1", "--stored", "0", "--load-procs", "1",
        "--pg-admin-url", PG_ADMIN_URL, "--redis-url", REDIS_URL,
    )  # fmt: skip
    assert figures.keys() >= SCALEOUT_KEYS
    assert figures["lost"] == 0 and figures["errors"] == 0
    assert figures["pairs"] == 6
    # Every pair crossed processes, and their messages reached the agents (none lost).
    assert figures["cross_pairs"] == 6
    assert figures["cross_delivered"] >= figures["two_processes_per_s"] * 1 > 0  # 1 s run
    assert figures["one_process_per_s"] > 0
    assert figures["scale_ratio"] == pytest.approx(
        figures["two_processes_per_s"] / figures["one_process_per_s"]
    )
    assert figures["projected_ratio"] == pytest.approx(
        2 * figures["one_process_cpu_us_per_message"] / figures["two_processes_cpu_us_per_message"]
    )
    for side in ("one_process", "two_processes"):
        assert 0 < figures[f"{side}_p50_ms"] <= figures[f"{side}_p99_ms"]
        assert 0 < figures[f"{side}_cores"] < figures["cores"]
        assert 0 < figures[f"{side}_machine_busy"] <= 1


def test_msg_2_bench_gateway_refuses_several_processes_on_sqlite() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kefu", "bench", "gateway", "--db", "sqlite", "--processes", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    said = " ".join(done.stderr.replace("│", " ").split())  # rich boxes and wraps the error
    assert "--processes > 1 needs --db postgresql" in said


IDLE_KEYS = {
    "consumer_kib",
    "staff_kib",
    "bare_kib",
    "consumer_ratio",
    "staff_ratio",
    "consumer_deflate_ratio",
    "staff_deflate_ratio",
}


@pytest.mark.slow
def test_ops_bench_idle_weighs_kefus_sockets_against_bare_ones() -> None:
    figures = _bench(
        "idle", "--consumers", "60", "--staff", "20", "--warm-up", "5", "--settle-s", "0.3"
    )
    assert figures.keys() >= IDLE_KEYS
    assert figures["consumers"] == 60 and figures["staff"] == 20
    for suffix in ("", "_deflate"):
        assert figures[f"bare_kib{suffix}"] > 0
        for kind in ("consumer", "staff"):
            assert figures[f"{kind}_kib{suffix}"] > 0
            assert figures[f"{kind}{suffix}_ratio"] == pytest.approx(
                figures[f"{kind}_kib{suffix}"] / figures[f"bare_kib{suffix}"]
            )
