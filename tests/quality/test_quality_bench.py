"""`kefu bench qa` at a tiny size, as a user runs it (QA-1, QA-2): the table, then the JSON
figures, with the job path finding exactly the hits the rule engine finds in memory."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from databases import PG_ADMIN_URL, require_pg


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_qa_2_bench_qa_inspects_generated_conversations(db: str) -> None:
    args = ["--conversations", "300", "--db", db, "--chunk", "64"]
    if db == "postgresql":
        require_pg()
        args += ["--pg-admin-url", PG_ADMIN_URL]
    done = subprocess.run(
        [sys.executable, "-m", "kefu", "bench", "qa", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "kefu bench qa" in done.stdout
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures.keys() >= {"conversations", "seconds", "conversations_per_s"}
    assert figures["conversations"] == 300
    assert figures["conversations_per_s"] > 0
    assert figures["hits"] == figures["rules_only_hits"] > 0
