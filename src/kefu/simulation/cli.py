"""`kefu simulate`: a merchant's staffing plan against a day of human requests — the pickup
rate, waits and reply rates it would give, and the agents each hour needs to reach a pickup
target (Feige's 80 % by default)."""

from __future__ import annotations

import json
import random
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.console import Console
from rich.table import Table

from kefu.simulation.model import HOURS, DayFigures, DayPlan, agents_needed, hourly, simulate

console = Console()


def command(
    arrivals: str = typer.Option(
        ..., "--arrivals", help="Human requests per local hour: 24 numbers, or one for every hour."
    ),
    agents: str = typer.Option(
        ..., "--agents", help="Agents online per local hour: 24 numbers, or one for every hour."
    ),
    limit: int = typer.Option(5, "--limit", min=1, max=50, help="Reception limit per agent."),
    handle_s: float = typer.Option(480.0, "--handle-s", min=10.0, help="Mean conversation length."),
    patience_s: float = typer.Option(
        180.0, "--patience-s", min=1.0, help="Mean time a consumer waits in the queue."
    ),
    reply_s: float = typer.Option(25.0, "--reply-s", min=1.0, help="Mean time an agent takes."),
    target: float = typer.Option(0.8, "--target", min=0.01, max=0.999, help="Pickup target."),
    days: int = typer.Option(10, "--days", min=1, max=100, help="Simulated days, pooled."),
    seed: int = typer.Option(1, "--seed", help="Random seed (the same seed, the same days)."),
    tz: str = typer.Option("Asia/Shanghai", "--tz", help="The shop's time zone."),
    as_json: bool = typer.Option(False, "--json", help="End with one JSON line."),
) -> None:
    """Simulate a day of human requests against a staffing plan; say the agents it needs."""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise typer.BadParameter(f"unknown time zone {tz!r}", param_hint="--tz") from exc
    try:
        plan = DayPlan(
            arrivals=_hourly(arrivals, "--arrivals", float),
            agents=tuple(int(n) for n in _hourly(agents, "--agents", int)),
            reception_limit=limit,
            handle_s=handle_s,
            patience_s=patience_s,
            reply_s=reply_s,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    planned = simulate(plan, random.Random(seed), days=days, tz=zone)
    needed = agents_needed(plan, target=target, seed=seed, days=days, tz=zone)
    _print(plan, planned, needed, target)
    if as_json:
        typer.echo(json.dumps(_figures(plan, planned, needed), sort_keys=True))


def _hourly(text: str, option: str, kind: type[float] | type[int]) -> tuple[float, ...]:
    try:
        values = [kind(part) for part in text.replace(" ", "").split(",") if part]
        return hourly(values)
    except ValueError as exc:
        raise typer.BadParameter(
            f"give 1 or {HOURS} comma-separated numbers ({exc})", param_hint=option
        ) from exc


def _figures(plan: DayPlan, planned: DayFigures, needed: tuple[int, ...]) -> dict[str, object]:
    day, feige = planned.day, planned.assessment
    return {
        "requests_per_day": sum(plan.arrivals),
        "pickup_rate": day.pickup_rate,
        "abandonment_rate": day.abandonment_rate,
        "queue_time_s": day.queue_time_s,
        "first_response_s": day.first_response_s,
        "response_s": day.response_s,
        "rate_30s": day.rate_30s,
        "first_reply_rate_2min": feige.first_reply_rate_2min,
        "human_reply_rate_3min": feige.human_reply_rate_3min,
        "agent_hours": sum(plan.agents),
        "agent_hours_needed": sum(needed),
        "agents_needed": list(needed),
    }


def _print(plan: DayPlan, planned: DayFigures, needed: tuple[int, ...], target: float) -> None:
    hours = Table(title="kefu simulate: by hour", show_header=True)
    for column in ("hour", "requests", "agents", "pickup", "queue s", f"needed for {target:.0%}"):
        hours.add_column(column, justify="right")
    for h in planned.hours:
        if h.arrivals <= 0 and h.agents == 0:
            continue
        hours.add_row(
            f"{h.hour:02d}:00",
            f"{h.arrivals:g}",
            str(h.agents),
            _rate(h.figures.pickup_rate),
            _seconds(h.figures.queue_time_s),
            str(needed[h.hour]),
        )
    console.print(hours)
    summary = Table(title="the day", show_header=True)
    summary.add_column("figure")
    summary.add_column("value", justify="right")
    for name, value in _figures(plan, planned, needed).items():
        if name == "agents_needed":
            continue
        if "rate" in name:
            value = _rate(value)
        elif name.endswith("_s"):
            value = _seconds(value)
        summary.add_row(name, f"{value:g}" if isinstance(value, float) else str(value))
    console.print(summary)


def _rate(value: object) -> str:
    return "—" if value is None else f"{float(value):.1%}"  # type: ignore[arg-type]


def _seconds(value: object) -> str:
    return "—" if value is None else f"{float(value):.0f}"  # type: ignore[arg-type]
