"""What the service benchmarks share: private databases, a seeded bench shop, percentiles, a
free port, the rich table and the closing JSON line. It measures nothing itself."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import multiprocessing
import queue
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Annotated, TypeVar

import httpx
import typer
from argon2 import PasswordHasher
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from kefu.storage.db import Database

DEFAULT_PG_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
BENCH_PASSWORD = "bench-pass-1"  # noqa: S105 (the bench shop lives in a private database)
# Cheap to verify: a bench logs in hundreds of accounts and measures messages, not argon2.
_FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

Figures = Mapping[str, float | int | str]


# The options the database benchmarks share, as annotated types for their commands.
def _db_kind(value: str) -> str:
    if value not in ("sqlite", "postgresql"):
        raise typer.BadParameter("sqlite or postgresql")
    return value


DbOption = Annotated[str, typer.Option("--db", help="`sqlite` or `postgresql`.", callback=_db_kind)]
PgAdminUrlOption = Annotated[
    str, typer.Option("--pg-admin-url", help="PostgreSQL URL the bench database sits next to.")
]
DataDirOption = Annotated[
    Path, typer.Option("--data-dir", help="Where the SQLite data is kept between runs.")
]
FreshOption = Annotated[bool, typer.Option("--fresh", help="Generate the data again.")]
DropOption = Annotated[
    bool, typer.Option("--drop", help="Drop the PostgreSQL bench database after.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="End with one JSON line.")]

progress = Console(stderr=True)


def progress_bar() -> Progress:
    """A bar with its description, count and elapsed time, on the progress console."""
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=progress,
    )


R = TypeVar("R")


def next_result(results: multiprocessing.Queue[R], workers: Sequence[BaseProcess], what: str) -> R:
    """The next worker result; fails at once if a worker died without one."""
    while True:
        try:
            return results.get(timeout=1.0)
        except queue.Empty:
            if any(w.exitcode not in (None, 0) for w in workers):
                raise RuntimeError(f"a {what} failed; see its traceback above") from None


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank q-th percentile (0 < q ≤ 100) of `values`; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def print_table(title: str, figures: Figures, *, caption: str = "") -> None:
    table = Table(title=title, caption=caption or None)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in figures.items():
        if isinstance(value, str):
            table.add_row(key, value)
        else:
            table.add_row(key, f"{value:,.2f}" if isinstance(value, float) else f"{value:,}")
    Console().print(table)


def emit_json(figures: Figures) -> None:
    """The closing line of a `--json` run: one JSON object."""
    typer.echo(json.dumps(dict(figures), sort_keys=True))
    sys.stdout.flush()


async def create_database(
    admin_url: str, prefix: str = "kefu_bench_", *, template: str | None = None
) -> str:
    """A fresh PostgreSQL database next to `admin_url`'s (a copy of `template` if given);
    returns its URL."""
    name = prefix + secrets.token_hex(5)
    copy = f' TEMPLATE "{template}"' if template else ""
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    finally:
        await engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


async def drop_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


async def cached_database(admin_url: str, name: str, *, fresh: bool) -> tuple[str, bool]:
    """The URL of the bench database `name` next to `admin_url`'s, kept between runs (made
    again when `fresh`), and whether it already existed."""
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            exists = bool(
                await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            )
            if exists and fresh:
                await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                exists = False
            if not exists:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name, exists


def remove_sqlite(path: Path) -> None:
    """A SQLite database file and its write-ahead log."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class BenchShop:
    shop_id: int
    group_ids: list[int]
    # Per group, its agents as (account id, username).
    agents: list[list[tuple[int, str]]]
    secret: str


async def seed_shop(
    db: Database, *, agents: int, limit: int, now: datetime, groups: int = 1
) -> BenchShop:
    """A shop whose online agents (limit `limit`) are spread over `groups` groups; entry source
    number k (ENTRY_SOURCES order) maps to group k, so a load can pick its group (ENTRY-1)."""
    # Imported here: the gateway bench's load workers and relay import this module, and the
    # services would add the bot's matcher to every one of their start-ups.
    from kefu.broker.memory import MemoryBroker
    from kefu.clock import FakeClock
    from kefu.domain.presence import AgentStatus
    from kefu.domain.shop import ENTRY_SOURCES
    from kefu.services.accounts import NewAccount, create_accounts
    from kefu.services.context import Context
    from kefu.services.shops import create_group, create_shop
    from kefu.settings import Settings

    ctx = Context(
        db=db,
        clock=FakeClock(now),
        broker=MemoryBroker(),
        settings=Settings(database_url=db.url),
        hasher=_FAST_HASHER,
    )
    shop = await create_shop(ctx, name="Bench", manager_name="Bench", secret=secrets.token_hex(16))
    group_ids = [
        await create_group(ctx, shop_id=shop.id, name=f"g{i}", entries=ENTRY_SOURCES[i : i + 1])
        for i in range(groups)
    ]
    usernames = [f"agent{i}" for i in range(agents)]
    ids = await create_accounts(
        ctx,
        shop_id=shop.id,
        accounts=[
            NewAccount(
                username,
                BENCH_PASSWORD,
                display_name=f"Agent {i}",
                group_id=group_ids[i % groups],
                status=AgentStatus.ONLINE,
                reception_limit=limit,
            )
            for i, username in enumerate(usernames)
        ],
    )
    by_group: list[list[tuple[int, str]]] = [[] for _ in range(groups)]
    for i, (account_id, username) in enumerate(zip(ids, usernames, strict=True)):
        by_group[i % groups].append((int(account_id), username))
    return BenchShop(int(shop.id), [int(g) for g in group_ids], by_group, shop.secret)


@contextlib.asynccontextmanager
async def serving(
    command: list[str], port: int, env: dict[str, str], log: Path
) -> AsyncIterator[int]:
    """Run a server `command` listening on `port` until the block ends; yields its process id
    once `/healthz` answers on the port (any HTTP answer will do). Its output goes to `log`."""
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            await _wait_ready(process, port, log)
            yield process.pid
        finally:
            if process.returncode is None:
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _wait_ready(process: asyncio.subprocess.Process, port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline and process.returncode is None:
            with contextlib.suppress(httpx.HTTPError):
                await client.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                return
            await asyncio.sleep(0.1)
    tail = (await asyncio.to_thread(log.read_text))[-2000:]
    raise RuntimeError(f"the server did not start:\n{tail}")
