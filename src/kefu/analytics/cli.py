"""`kefu report` (DATA-1, DATA-3): a shop's dashboard on the command line, the same figures as
the web page and the HTTP API, as a table or, with --json, as one JSON line. `kefu analytics
rebuild` recomputes a shop's rollups from its raw events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from kefu import errors
from kefu.analytics import folds
from kefu.analytics.periods import PeriodKind
from kefu.analytics.service import shop_dashboard
from kefu.broker.memory import MemoryBroker
from kefu.clock import SystemClock
from kefu.services.context import Context
from kefu.settings import Settings
from kefu.storage.db import Database, DbTimeouts

T = TypeVar("T")
console = Console()
analytics_app = typer.Typer(no_args_is_help=True, help="Analytics: the rollups behind the figures.")
# (key, label, kind): kind says how to print it.
ROWS = (
    ("conversations", "conversations started", "count"),
    ("human_requests", "human requests", "count"),
    ("assigned", "human-served", "count"),
    ("pickup_rate", "pickup rate", "rate"),
    ("abandonment_rate", "queue abandonment", "rate"),
    ("queue_time_s", "average queue time", "seconds"),
    ("first_response_s", "average first response", "seconds"),
    ("response_s", "average response", "seconds"),
    ("rate_30s", "30 s response rate", "rate"),
    ("rate_60s", "60 s response rate", "rate"),
    ("satisfaction_rate", "satisfaction", "rate"),
)
ASSESSMENT_ROWS = (
    ("non_service_rate", "non-service rate (08–23)", "rate"),
    ("first_reply_rate_2min", "2-minute first reply rate (08–23)", "rate"),
    ("human_reply_rate_3min", "3-minute human reply rate (08–23)", "rate"),
)


def report(
    shop_id: int = typer.Option(..., "--shop-id", help="The shop to report on."),
    period: PeriodKind = typer.Option(PeriodKind.WEEK, help="day, week, month or custom."),
    first: str | None = typer.Option(None, help="A custom period's first day (YYYY-MM-DD)."),
    last: str | None = typer.Option(None, help="A custom period's last day (YYYY-MM-DD)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead."),
    database_url: str | None = typer.Option(None, help="Overrides KEFU_DATABASE_URL."),
) -> None:
    """The shop's service figures for the period, with the previous period beside them."""
    try:
        view = asyncio.run(_dashboard(database_url, shop_id, period, _day(first), _day(last)))
    except errors.KefuError as exc:
        console.print(f"[red]{exc.message}[/red] {exc.params}")
        raise typer.Exit(1) from exc
    if as_json:
        print(json.dumps({k: view[k] for k in ("period", "current", "previous")}))
        return
    p = view["period"]
    table = Table(title=f"shop {shop_id}: {p['first']} – {p['last']} ({p['time_zone']})")
    table.add_column("figure")
    table.add_column("this period", justify="right")
    table.add_column(f"previous ({p['previous_first']} – {p['previous_last']})", justify="right")
    for key, label, kind in ROWS:
        table.add_row(
            label, _shown(view["current"][key], kind), _shown(view["previous"][key], kind)
        )
    for key, label, kind in ASSESSMENT_ROWS:
        now, before = view["current"]["assessment"][key], view["previous"]["assessment"][key]
        table.add_row(label, _shown(now, kind), _shown(before, kind))
    console.print(table)


@analytics_app.command("rebuild")
def rebuild(
    shop_id: int = typer.Option(..., "--shop-id", help="The shop whose rollups to rebuild."),
    database_url: str | None = typer.Option(None, help="Overrides KEFU_DATABASE_URL."),
) -> None:
    """Recompute the shop's rollups (DATA-1, DATA-2, DATA-3) from its raw events. The figures
    stay right meanwhile: conversations not yet refolded are computed from their events."""
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task(f"shop {shop_id}: conversations folded", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            folded = asyncio.run(_with_context(database_url, _rebuild(shop_id, advance)))
        except errors.KefuError as exc:
            console.print(f"[red]{exc.message}[/red] {exc.params}")
            raise typer.Exit(1) from exc
    console.print(f"shop {shop_id}: {folded} conversations folded into the rollups")


def _rebuild(
    shop_id: int, advance: Callable[[int, int], None]
) -> Callable[[Context], Awaitable[int]]:
    async def run(ctx: Context) -> int:
        return await folds.rebuild(ctx, shop_id, progress=advance)

    return run


async def _dashboard(
    database_url: str | None, shop_id: int, kind: PeriodKind, first: date | None, last: date | None
) -> dict[str, Any]:
    async def run(ctx: Context) -> dict[str, Any]:
        return await shop_dashboard(ctx, shop_id, kind=kind, first=first, last=last)

    return await _with_context(database_url, run)


async def _with_context(database_url: str | None, run: Callable[[Context], Awaitable[T]]) -> T:
    settings = Settings() if database_url is None else Settings(database_url=database_url)
    db = Database(settings.database_url, timeouts=DbTimeouts.of(settings))
    ctx = Context(db=db, clock=SystemClock(), broker=MemoryBroker(), settings=settings)
    try:
        return await run(ctx)
    finally:
        await db.dispose()


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def _shown(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "seconds":
        return f"{value:.1f} s"
    return str(value)
