"""`kefu bench search` at a tiny size, as a user runs it (DATA-5): the documented JSON figures,
searches that find what the generated history holds, and the history kept for the next run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from databases import PG_ADMIN_URL, require_pg

KEYS = {"messages", "p50_ms", "p99_ms", "db"}


def _bench(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "kefu", "bench", "search", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "kefu bench search" in done.stdout  # the table comes first
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_data_5_bench_search_reports_latencies_of_100_searches(db: str, tmp_path: Path) -> None:
    args = ["--db", db, "--messages", "3000", "--data-dir", str(tmp_path)]
    if db == "postgresql":
        require_pg()
        args += ["--pg-admin-url", PG_ADMIN_URL, "--fresh", "--drop"]
    figures = _bench(*args)
    assert figures.keys() >= KEYS
    assert figures["db"] == db and figures["messages"] == 3000
    assert figures["searches"] == 100
    assert figures["with_results"] >= 50  # most searches name what the shop's chat holds
    assert 0 < figures["p50_ms"] <= figures["p99_ms"]
    if db == "sqlite":
        assert (tmp_path / "bench" / "search-3000.db").exists()  # kept for the next run
        assert _bench(*args)["messages"] == 3000
