"""The `kefu` command: serve, demo, and the benchmarks."""

from __future__ import annotations

import typer

from kefu.bench import bot as bench_bot

app = typer.Typer(no_args_is_help=True, add_completion=False, help="kefu customer-service IM.")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks (--json ends with one JSON line).")
app.add_typer(bench_app, name="bench")

bench_app.command("bot")(bench_bot.command)


def main() -> None:
    app()
