"""`kefu import products|orders FILE` (API-1): a shop's catalog from a CSV or JSON file, through
the same service as the HTTP import, streamed with a progress bar and a table of the rejected
lines."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from kefu import errors
from kefu.broker.memory import MemoryBroker
from kefu.catalog import importer, service
from kefu.catalog.domain import ImportResult
from kefu.clock import SystemClock
from kefu.services.context import Context
from kefu.settings import Settings
from kefu.storage.db import Database, DbTimeouts

import_app = typer.Typer(no_args_is_help=True, help="Import the shop's products or orders.")
console = Console()


def _context(database_url: str | None) -> Context:
    settings = Settings() if database_url is None else Settings(database_url=database_url)
    return Context(
        db=Database(settings.database_url, timeouts=DbTimeouts.of(settings)),
        clock=SystemClock(),
        broker=MemoryBroker(),
        settings=settings,
    )


FILE = typer.Argument(..., exists=True, dir_okay=False, help="A CSV or JSON file.")
SHOP = typer.Option(..., "--shop-id", help="The shop whose catalog to fill.")
DATABASE = typer.Option(None, help="Overrides KEFU_DATABASE_URL.")
FORMAT = typer.Option(None, "--format", help="csv or json (default: from the file name).")


@import_app.command("products")
def import_products(
    file: Path = FILE,
    shop_id: int = SHOP,
    database_url: str | None = DATABASE,
    file_format: str | None = FORMAT,
) -> None:
    """Add or replace products (by external id) from FILE."""
    _run("products", file, shop_id, database_url, file_format)


@import_app.command("orders")
def import_orders(
    file: Path = FILE,
    shop_id: int = SHOP,
    database_url: str | None = DATABASE,
    file_format: str | None = FORMAT,
) -> None:
    """Add or replace orders (by order number) from FILE; unknown buyers' uids are added."""
    _run("orders", file, shop_id, database_url, file_format)


def _run(
    kind: importer.Kind, file: Path, shop_id: int, database_url: str | None, fmt: str | None
) -> None:
    try:
        size = file.stat().st_size
        result = asyncio.run(_import(kind, file, size, shop_id, database_url, fmt))
    except errors.KefuError as exc:
        console.print(f"[red]{exc.message}[/red] {exc.params}")
        raise typer.Exit(1) from exc
    console.print(
        f"[green]imported {result.imported}, updated {result.updated}[/green], "
        f"rejected {result.rejected_count}"
    )
    if result.rejected:
        table = Table(title="rejected lines")
        table.add_column("line", justify="right")
        table.add_column("reason")
        for rejected in result.rejected:
            table.add_row(str(rejected.line), rejected.reason)
        console.print(table)


async def _import(
    kind: importer.Kind,
    file: Path,
    size: int,
    shop_id: int,
    database_url: str | None,
    fmt: str | None,
) -> ImportResult:
    ctx = _context(database_url)
    try:
        with (
            file.open("rb") as raw,
            Progress(
                TextColumn(f"importing {kind}"), BarColumn(), DownloadColumn(),
                TimeElapsedColumn(), TimeRemainingColumn(), console=console,
            ) as progress,
        ):  # fmt: skip
            task = progress.add_task("import", total=size)
            result = await service.import_into(
                ctx, shop_id, kind=kind, raw=raw, size=size,
                fmt=importer.file_format(fmt, file.name),
                on_rows=lambda _: progress.update(task, completed=raw.tell()),
            )  # fmt: skip
            progress.update(task, completed=size)
        return result
    finally:
        await ctx.db.dispose()
