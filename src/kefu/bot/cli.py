"""`kefu kb import` and `kefu kb export` (BOT-2): a shop's knowledge base from and to CSV or
JSON files, through the same service as the HTTP API, with a progress bar and a table of the
rejected lines."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kefu import errors
from kefu.bot import kbfile, service
from kefu.bot.cache import KbCache
from kefu.broker.memory import MemoryBroker
from kefu.clock import SystemClock
from kefu.services.context import Context
from kefu.settings import Settings
from kefu.storage.db import Database, DbTimeouts

kb_app = typer.Typer(no_args_is_help=True, help="The bot's knowledge base (import, export).")
console = Console()


def _context(database_url: str | None) -> Context:
    settings = Settings() if database_url is None else Settings(database_url=database_url)
    return Context(
        db=Database(settings.database_url, timeouts=DbTimeouts.of(settings)),
        clock=SystemClock(),
        broker=MemoryBroker(),
        settings=settings,
    )


@kb_app.command("import")
def import_command(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A CSV or JSON file."),
    shop_id: int = typer.Option(..., "--shop-id", help="The shop whose knowledge base to fill."),
    database_url: str | None = typer.Option(None, help="Overrides KEFU_DATABASE_URL."),
    file_format: str | None = typer.Option(
        None, "--format", help="csv or json (default: from the file)."
    ),
) -> None:
    """Add or update questions from FILE; rejected lines are listed with their reason."""
    try:
        parsed = kbfile.parse(file.read_bytes(), file_format, file.name)
    except errors.KefuError as exc:
        console.print(f"[red]{exc.message}[/red] {exc.params}")
        raise typer.Exit(1) from exc
    result, load_s = asyncio.run(_import(_context(database_url), shop_id, parsed))
    console.print(
        f"[green]imported {result.imported}, updated {result.updated}[/green], "
        f"rejected {len(result.rejected)}; matcher loaded in {load_s:.2f} s"
    )
    if result.rejected:
        table = Table(title="rejected lines")
        table.add_column("line", justify="right")
        table.add_column("reason")
        for rejected in result.rejected:
            table.add_row(str(rejected.line), rejected.reason)
        console.print(table)


async def _import(
    ctx: Context, shop_id: int, parsed: kbfile.ParsedFile
) -> tuple[service.ImportResult, float]:
    matchers = KbCache()
    try:
        with Progress(
            TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
        ) as progress:
            task = progress.add_task("import", total=len(parsed.rows))
            result = await service.import_rows(
                ctx, matchers, shop_id, parsed, on_row=lambda: progress.advance(task)
            )
        started = time.perf_counter()
        await service.warm(ctx, matchers, shop_id)
        return result, time.perf_counter() - started
    finally:
        await ctx.db.dispose()


@kb_app.command("export")
def export_command(
    file: Path = typer.Argument(..., dir_okay=False, help="Where to write."),
    shop_id: int = typer.Option(..., "--shop-id", help="The shop whose knowledge base to write."),
    file_format: str = typer.Option("csv", "--format", help="csv or json."),
    database_url: str | None = typer.Option(None, help="Overrides KEFU_DATABASE_URL."),
) -> None:
    """Write the shop's knowledge base to FILE, readable by `kefu kb import`."""
    if file_format not in ("csv", "json"):
        raise typer.BadParameter("csv or json", param_hint="--format")

    async def run() -> bytes:
        ctx = _context(database_url)
        try:
            return await service.export_shop(ctx, shop_id, file_format)
        finally:
            await ctx.db.dispose()

    data = asyncio.run(run())
    file.write_bytes(data)
    console.print(f"[green]wrote {file} ({len(data)} bytes)[/green]")
