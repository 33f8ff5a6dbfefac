"""`kefu bench bot`: placeholder until the matcher lands."""

from __future__ import annotations

import typer


def command(pairs: str = typer.Option(..., "--pairs")) -> None:
    """Measure the bot's matcher on a question-pair file."""
    raise typer.Exit(1)
