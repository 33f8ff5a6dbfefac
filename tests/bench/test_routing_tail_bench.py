"""`kefu bench routing` says how long the shop lock is held (ROUTE-7, issue 16): on PostgreSQL
the median hold per transaction and the share of the wall time some worker held it, so that a
tail rate can be told bound by the lock or by something else; on SQLite both are 0. Ending
several conversations at once keeps the ROUTE-7 checks at 0."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_route_7_bench_routing_reports_the_shop_lock_held(db_url: str) -> None:
    is_sqlite = db_url.startswith("sqlite")
    db = "sqlite" if is_sqlite else db_url
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kefu",
            "bench",
            "routing",
            "--requests",
            "120",
            "--agents",
            "6",
            "--ends",
            "3",
            "--db",
            db,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["double_assigned"] == figures["over_limit"] == figures["lost"] == 0
    # The loops end 3 conversations at once, as agents freeing capacity together would.
    assert figures["ends_at_once"] == 3 and figures["end_calls"] > 0
    if is_sqlite:
        assert figures["lock_held_p50_ms"] == figures["lock_busy_share"] == 0
    else:
        # One holder at a time: the holds add up to less than the wall time.
        assert figures["lock_held_p50_ms"] > 0
        assert 0 < figures["lock_busy_share"] <= 1.0
