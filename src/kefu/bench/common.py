"""What the service benchmarks share: private databases, a seeded bench shop, percentiles, a
free port, the rich table and the closing JSON line. It measures nothing itself."""

from __future__ import annotations

import json
import math
import multiprocessing
import queue
import secrets
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.process import BaseProcess
from typing import TypeVar

import typer
from argon2 import PasswordHasher
from rich.console import Console
from rich.table import Table
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import create_async_engine

from kefu.domain.shop import ShopSettings
from kefu.storage import tables as t
from kefu.storage.db import Database

DEFAULT_PG_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
BENCH_PASSWORD = "bench-pass-1"  # noqa: S105 (the bench shop lives in a private database)
# Cheap to verify: a bench logs in hundreds of accounts and measures messages, not argon2.
_FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

Figures = Mapping[str, float | int | str]

progress = Console(stderr=True)


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


async def create_database(admin_url: str, prefix: str = "kefu_bench_") -> str:
    """A fresh PostgreSQL database next to `admin_url`'s; returns its URL."""
    name = prefix + secrets.token_hex(5)
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
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
    from kefu.domain.shop import ENTRY_SOURCES

    secret = secrets.token_hex(16)
    password_hash = _FAST_HASHER.hash(BENCH_PASSWORD)
    async with db.uow() as tx:
        shop_id = await tx.conn.scalar(
            insert(t.shops)
            .values(name="Bench", manager_name="Bench", secret=secret, settings={}, created_at=now)
            .returning(t.shops.c.id)
        )
        assert shop_id is not None
        group_ids = [
            int(
                await tx.conn.scalar(
                    insert(t.groups).values(shop_id=shop_id, name=f"g{i}").returning(t.groups.c.id)
                )
                or 0
            )
            for i in range(groups)
        ]
        settings = ShopSettings(entry_groups=dict(zip(ENTRY_SOURCES, group_ids, strict=False)))
        await tx.conn.execute(
            t.shops.update().where(t.shops.c.id == shop_id).values(settings=settings.to_json())
        )
        rows = [
            {
                "shop_id": shop_id,
                "username": f"agent{i}",
                "password_hash": password_hash,
                "display_name": f"Agent {i}",
                "role": "agent",
                "group_id": group_ids[i % groups],
                "has_im_permission": True,
                "status": "online",
                "is_suspended": False,
                "reception_limit": limit,
                "created_at": now,
            }
            for i in range(agents)
        ]
        ids = (
            await tx.conn.scalars(
                insert(t.accounts).returning(t.accounts.c.id, sort_by_parameter_order=True), rows
            )
        ).all()
        await tx.commit()
    by_group: list[list[tuple[int, str]]] = [[] for _ in range(groups)]
    for i, account_id in enumerate(ids):
        by_group[i % groups].append((int(account_id), f"agent{i}"))
    return BenchShop(int(shop_id), group_ids, by_group, secret)
