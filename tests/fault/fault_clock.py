"""Helpers of the clock fault tests (issue 17): the suite's shared PostgreSQL and Redis, and a
child environment whose wall clock runs ahead (libfaketime)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


def _root_conftest() -> ModuleType:
    """tests/conftest.py, under a name of its own: once this folder has a conftest.py,
    `from conftest import …` here would find that one instead."""
    path = Path(__file__).resolve().parents[1] / "conftest.py"
    spec = importlib.util.spec_from_file_location("kefu_root_conftest", path)
    assert spec is not None and spec.loader is not None
    module = sys.modules.get(spec.name)
    if module is None:
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return module


_root = _root_conftest()
REDIS_URL: str = _root.REDIS_URL
create_pg_database = _root.create_pg_database
drop_pg_database = _root.drop_pg_database
require_pg = _root.require_pg


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
        pytest.skip(f"libfaketime not installed ({LIBFAKETIME})")
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
