"""Helpers of the clock fault tests (issue 17): the suite's shared PostgreSQL and Redis, and a
child environment whose wall clock runs ahead (libfaketime)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from databases import (
    REDIS_URL,
    REQUIRE_SERVICES,
    create_pg_database,
    drop_pg_database,
    require_pg,
)

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


__all__ = ["REDIS_URL", "create_pg_database", "drop_pg_database", "require_pg"]


def skewed_env(skew: timedelta) -> dict[str, str]:
    """A child environment whose wall clock runs `skew` ahead of ours (start-at mode; the
    monotonic clock untouched, which asyncio needs)."""
    start = datetime.now(UTC) + skew
    return {
        "LD_PRELOAD": str(LIBFAKETIME),
        "FAKETIME": "@" + start.strftime("%Y-%m-%d %H:%M:%S"),
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "TZ": "UTC",
    }


def check_faketime(skew: timedelta) -> None:
    """libfaketime must really move a Python child's clock, or the test proves nothing."""
    if not LIBFAKETIME.exists():
        missing = f"libfaketime not installed ({LIBFAKETIME})"
        if REQUIRE_SERVICES:  # `make browser` installs it; CI never skips the fault suite
            pytest.fail(f"{missing}, and CI (KEFU_REQUIRE_SERVICES=1) runs the fault suite")
        pytest.skip(missing)
    probe = "import datetime; print(datetime.datetime.now(datetime.UTC).timestamp())"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, **skewed_env(skew)},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    ahead = float(out.stdout) - datetime.now(UTC).timestamp()
    assert abs(ahead - skew.total_seconds()) < 5, f"faketime moved the clock by {ahead:.0f} s"
