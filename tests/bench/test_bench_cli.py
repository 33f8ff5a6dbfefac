"""`kefu bench routing`, `kefu bench gateway` and `kefu bench idle` at tiny sizes, as a user
runs them: their JSON line carries the documented figures, nothing is lost, and ROUTE-7 holds
across processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

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
