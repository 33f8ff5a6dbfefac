"""Fixtures of the fault suite: a private PostgreSQL cluster per test (from one initdb per
session) and a small disk of its own. Each is torn down even when the test fails; nothing
here touches the shared PostgreSQL or Redis."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from databases import REQUIRE_SERVICES
from fault_pg import PrivatePostgres, Template, available
from kefu.storage.migrate import upgrade


def _unavailable(what: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{what}, and CI (KEFU_REQUIRE_SERVICES=1) runs the fault suite")
    pytest.skip(what)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[Template]:
    if not available():
        _unavailable("PostgreSQL's server binaries (or runuser) are not here")
    template = Template()
    try:
        yield template
    finally:
        template.close()


@pytest.fixture
def private_pg(pg_template: Template) -> Iterator[PrivatePostgres]:
    """A running cluster of this test's own, deleted afterwards whatever happened."""
    pg = PrivatePostgres(pg_template)
    try:
        pg.start()
        yield pg
    finally:
        pg.close()


@pytest.fixture
async def kefu_pg_url(private_pg: PrivatePostgres) -> AsyncIterator[str]:
    """A database `kefu` on the private cluster, with the schema of the migrations."""
    engine = create_async_engine(private_pg.url(), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text("CREATE DATABASE kefu"))
    await engine.dispose()
    url = private_pg.url("kefu")
    await asyncio.to_thread(upgrade, url)
    yield url


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 24 MB tmpfs of its own (root only), unmounted afterwards whatever happened."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        _unavailable("mounting a small disk needs root")
    folder = Path(tempfile.mkdtemp(prefix="kefu-disk-"))
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(folder)],
            check=True,
            capture_output=True,
        )
    except subprocess.CalledProcessError as exc:
        folder.rmdir()
        _unavailable(f"cannot mount a tmpfs here: {exc.stderr!r}")
    try:
        yield folder
    finally:
        if subprocess.run(["umount", str(folder)], check=False).returncode != 0:
            with contextlib.suppress(subprocess.SubprocessError):
                subprocess.run(["umount", "-l", str(folder)], check=False)
        with contextlib.suppress(OSError):
            folder.rmdir()
