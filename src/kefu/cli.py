"""The `kefu` command: serve, demo, migrate, and the benchmarks."""

from __future__ import annotations

import asyncio
import gc
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from uvicorn.config import STARTUP_FAILURE

from kefu import logs
from kefu.analytics.cli import analytics_app, report
from kefu.bench import analytics as bench_analytics
from kefu.bench import bot as bench_bot
from kefu.bench import calibrate as bench_calibrate
from kefu.bench import gateway as bench_gateway
from kefu.bench import idle as bench_idle
from kefu.bench import qa as bench_qa
from kefu.bench import routing as bench_routing
from kefu.bench import scaleout as bench_scaleout
from kefu.bench import search as bench_search
from kefu.bot.cli import kb_app
from kefu.catalog.cli import import_app
from kefu.demo import LIVELY_AGENTS, LIVELY_SPEED
from kefu.settings import Settings, with_secret_key
from kefu.simulation.cli import command as simulate_command

app = typer.Typer(no_args_is_help=True, add_completion=False, help="kefu customer-service IM.")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks (--json ends with one JSON line).")
shop_app = typer.Typer(no_args_is_help=True, help="Shops: create one and its main account.")
app.add_typer(bench_app, name="bench")
app.add_typer(shop_app, name="shop")
app.add_typer(kb_app, name="kb")
app.add_typer(import_app, name="import")
app.command("report")(report)
app.add_typer(analytics_app, name="analytics")

bench_app.command("bot")(bench_bot.command)
bench_app.command("calibrate")(bench_calibrate.command)
bench_app.command("routing")(bench_routing.command)
bench_app.command("gateway")(bench_gateway.command)
bench_app.command("scaleout")(bench_scaleout.command)
bench_app.command("search")(bench_search.command)
bench_app.command("idle")(bench_idle.command)
app.command("simulate")(simulate_command)
bench_app.command("qa")(bench_qa.command)
bench_app.command("analytics")(bench_analytics.command)

console = Console()
stderr = Console(stderr=True, highlight=False)


def _settings(**overrides: Any) -> Settings:
    """The KEFU_* settings; a wrong one stops the command, naming it (never its value)."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        _stop(
            *(
                f"KEFU_{'_'.join(map(str, e['loc'])).upper()}: "
                + e["msg"].removeprefix("Value error, ")
                for e in exc.errors()
            )
        )


def _with_secret_key(settings: Settings) -> Settings:
    try:
        return with_secret_key(settings)
    except (OSError, ValueError) as exc:
        _stop(f"the secret key: {exc}")


def _stop(*problems: str) -> NoReturn:
    for problem in problems:
        stderr.print(f"kefu: {problem}", markup=False, soft_wrap=True)
    raise typer.Exit(2)


def run_server(settings: Settings, *, lively: float | None = None) -> None:
    """Migrate, then serve with WebSocket limits far below uvicorn's defaults (`lively`: with
    the demo shop's simulated traffic at that speed)."""
    from kefu.app import create_app
    from kefu.storage.migrate import upgrade

    upgrade(settings.database_url)
    if asyncio.run(_count_shops(settings)) == 0:
        stderr.print(
            "kefu: the database has no shop yet. Create the first one with\n"
            "  kefu shop create --name 'My shop' --owner USERNAME\n"
            "(same KEFU_DATABASE_URL), then sign in at "
            f"http://{settings.host}:{settings.port}/login",
            markup=False,
            soft_wrap=True,
        )
    logs.configure(json=settings.log_json)
    app = create_app(settings, lively=lively)
    # Everything loaded so far lives as long as the process: keep it out of the collector's
    # generations, and collect less often, so that full collections don't stall sockets.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ws_max_size=settings.ws_max_frame_bytes,
        ws_ping_interval=settings.ws_ping_interval_s,
        ws_ping_timeout=settings.ws_ping_interval_s,
        ws_per_message_deflate=settings.ws_per_message_deflate,
        log_level="warning",
        log_config=None,  # logs.configure set the handlers: uvicorn keeps them
        lifespan="on",
    )
    server = DrainingServer(config, drain=app.state.runtime.drain)
    server.run()
    if not server.started:
        raise typer.Exit(STARTUP_FAILURE)


class DrainingServer(uvicorn.Server):
    """uvicorn closes every WebSocket as its shutdown begins, before the app hears of it, so
    the acks of messages already committed would be lost: this server stops listening, lets
    the app drain (Runtime.drain), and only then shuts down as uvicorn does."""

    def __init__(self, config: uvicorn.Config, *, drain: Callable[[], Awaitable[None]]) -> None:
        super().__init__(config)
        self._drain = drain

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        await self._drain()
        await super().shutdown(sockets)


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Overrides KEFU_HOST."),
    port: int | None = typer.Option(None, help="Overrides KEFU_PORT."),
) -> None:
    """Serve for a real deployment, configured by KEFU_* environment variables."""
    settings = _settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    run_server(_with_secret_key(settings))


async def _count_shops(settings: Settings) -> int:
    from kefu.app import build_runtime
    from kefu.services.shops import shop_count

    runtime = build_runtime(settings)
    try:
        return await shop_count(runtime.ctx)
    finally:
        await runtime.ctx.db.dispose()


@shop_app.command("create")
def shop_create(
    name: str = typer.Option(..., help="The shop's name (up to 100 characters)."),
    owner: str = typer.Option(..., help="The main account's username."),
    manager_name: str | None = typer.Option(
        None, help="The main account's display name (ACCT-3); the username if not given."
    ),
    password_stdin: bool = typer.Option(
        False, help="Read the password from standard input instead of a prompt."
    ),
) -> None:
    """Create a shop and its main account in KEFU_DATABASE_URL (migrated first).

    The password is never an argument: it is asked for, or read from standard input."""
    import sys

    from kefu import errors
    from kefu.app import build_runtime
    from kefu.domain.presence import Role
    from kefu.services.accounts import NewAccount, create_accounts
    from kefu.services.shops import create_shop
    from kefu.storage.migrate import upgrade

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = _with_secret_key(_settings())
    upgrade(settings.database_url)

    async def _create() -> int:
        runtime = build_runtime(settings)
        ctx = runtime.ctx
        try:
            shop = await create_shop(ctx, name=name, manager_name=manager_name or owner)
            await create_accounts(
                ctx,
                shop_id=shop.id,
                accounts=[NewAccount(username=owner, password=password, role=Role.OWNER)],
                audited=True,
            )
            return int(shop.id)
        finally:
            await ctx.db.dispose()

    try:
        shop_id = asyncio.run(_create())
    except errors.KefuError as exc:
        _stop(f"{exc.message} {_params(exc)}".strip())
    console.print(f"shop {shop_id} created; its main account is {owner!r}", markup=False)
    console.print(f"workbench: http://{settings.host}:{settings.port}/workbench", markup=False)
    console.print(f"sign in with shop id {shop_id}, username {owner!r}", markup=False)


def _params(exc: Exception) -> str:
    params = getattr(exc, "params", {})
    return ", ".join(f"{k}={v}" for k, v in params.items())


@app.command()
def migrate() -> None:
    """Bring the database (KEFU_DATABASE_URL) to the newest schema."""
    from kefu.storage.migrate import upgrade

    upgrade(_settings().database_url)
    console.print("[green]database is up to date[/green]")


@app.command()
def demo(
    port: int = typer.Option(8000, help="Port to serve on (127.0.0.1)."),
    data_dir: Path = typer.Option(Path(".kefu/demo"), help="Where the demo keeps its SQLite file."),
    no_browser: bool = typer.Option(
        True, help="Kept for compatibility; the demo never opens a browser."
    ),
    lively: bool = typer.Option(
        False,
        "--lively",
        help="Keep the demo shop busy: simulated consumers, bot questions and agents "
        f"({', '.join(LIVELY_AGENTS)}) play a day of traffic while it serves.",
    ),
    speed: float = typer.Option(
        LIVELY_SPEED,
        "--speed",
        min=0.1,
        max=1000.0,
        help="With --lively: simulated seconds per real second (arrivals, replies, waits).",
    ),
) -> None:
    """Seed a demo shop, serve it on 127.0.0.1 and print the URLs and logins."""
    from kefu.app import build_runtime
    from kefu.demo import DEMO_SHOP_ID
    from kefu.seed import DEMO_ACCOUNTS, DEMO_PASSWORD, seed_demo
    from kefu.storage.migrate import upgrade

    data_dir.mkdir(parents=True, exist_ok=True)
    settings = _settings(
        database_url=f"sqlite+aiosqlite:///{(data_dir / 'kefu.db').resolve()}",
        host="127.0.0.1",
        port=port,
        data_dir=data_dir,
        demo_buyer=True,
    )
    settings = _with_secret_key(settings)
    upgrade(settings.database_url)

    async def _seed() -> None:
        runtime = build_runtime(settings)
        await seed_demo(runtime.ctx)
        await runtime.ctx.db.dispose()

    asyncio.run(_seed())
    base = f"http://127.0.0.1:{port}"
    table = Table(title="kefu demo", show_header=True)
    table.add_column("what")
    table.add_column("where")
    table.add_row("start page", base + "/")
    table.add_row("agent workbench", base + "/workbench")
    table.add_row("demo shop (consumer side)", f"{base}/demo/shop?shop={DEMO_SHOP_ID}")
    table.add_row("demo shop as its VIP buyer", f"{base}/demo/shop?shop={DEMO_SHOP_ID}&buyer=1")
    table.add_row("API docs", base + "/docs")
    for username, name, role, _ in DEMO_ACCOUNTS:
        played = " (simulated)" if lively and username in LIVELY_AGENTS else ""
        table.add_row(
            f"login: {role.value} {name}{played}",
            f"shop {DEMO_SHOP_ID} / {username} / {DEMO_PASSWORD}",
        )
    console.print(table)
    if lively:
        console.print(
            f"lively: a day of traffic at {speed:g}x; {', '.join(LIVELY_AGENTS)} are played "
            "by the simulator, sign in as owner or agent1 to watch",
            markup=False,
        )
    run_server(settings, lively=speed if lively else None)


def main() -> None:
    app()
