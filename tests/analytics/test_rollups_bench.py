"""`kefu bench analytics` at a tiny size, as a user runs it (DATA-1, DATA-2): the documented
JSON keys, the figures from rollups equal to those from raw events, and the shop kept for the
next run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from databases import PG_ADMIN_URL, require_pg

KEYS = {
    "conversations",
    "messages",
    "dashboard_rollup_ms",
    "dashboard_raw_ms",
    "agents_rollup_ms",
    "db",
}


def _bench(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "kefu", "bench", "analytics", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "kefu bench analytics" in done.stdout  # the table comes first
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_data_1_bench_analytics_times_rollups_and_raw(db: str, tmp_path: Path) -> None:
    args = ["--db", db, "--conversations", "400", "--data-dir", str(tmp_path)]
    if db == "postgresql":
        require_pg()
        args += ["--pg-admin-url", PG_ADMIN_URL, "--fresh"]
    figures = _bench(*args)
    assert figures.keys() >= KEYS
    assert figures["conversations"] == 400 and 2_000 < figures["messages"] < 6_000
    assert figures["rollups_equal_raw"] == "yes" and figures["month_conversations"] > 100
    assert figures["dashboard_rollup_ms"] > 0 and figures["agents_rollup_ms"] > 0
    if db == "sqlite":
        assert (tmp_path / "bench" / "analytics-400.db").exists()
    again = _bench(*[a for a in args if a != "--fresh"], *(["--drop"] if db != "sqlite" else []))
    assert again["messages"] == figures["messages"]  # kept, not generated again
