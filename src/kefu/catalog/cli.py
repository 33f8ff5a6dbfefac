"""`kefu import products|orders FILE` (API-1): a shop's catalog from a CSV or JSON file, through
the same service as the HTTP import, streamed with a progress bar and a table of the rejected
lines."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
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


# API-1: a rejected row's code in English; the web UI has its own (zh-CN, en-US) in its locales.
REASONS: dict[str, str] = {
    "row.not_an_object": "the row is not an object",
    "row.nul": "NUL characters are not allowed",
    "row.cells": "expected {expected} cells, found {found}",
    "field.missing": "{field}: required",
    "field.unknown": "{field}: unknown field",
    "field.empty": "{field}: empty",
    "field.too_long": "{field}: longer than {max} characters",
    "field.not_text": "{field}: not text",
    "field.not_integer": "{field}: not a whole number",
    "field.not_number": "{field}: not a number",
    "field.out_of_range": "{field}: out of range",
    "field.decimals": "{field}: at most {max} decimal places",
    "field.not_boolean": "{field}: not true or false",
    "field.not_datetime": "{field}: not an ISO 8601 date and time",
    "field.no_timezone": "{field}: the time zone is missing",
    "field.not_a_choice": "{field}: one of {choices}",
    "field.link": "{field}: an http(s) address or a path starting with /",
    "field.not_json": "{field}: not valid JSON",
    "field.not_a_list": "{field}: not a list",
    "field.too_many": "{field}: more than {max} items",
    "field.not_an_object": "{field}: not an object",
    "field.invalid": "{field}: invalid",
}


def reason_text(code: str, params: Mapping[str, str | int]) -> str:
    """A rejected row's reason for people; an unknown code shows as itself."""
    template = REASONS.get(code)
    if template is None:
        return code
    try:
        return template.format_map(params)
    except (KeyError, IndexError):
        return code


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
            table.add_row(str(rejected.line), reason_text(rejected.reason, rejected.params))
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
