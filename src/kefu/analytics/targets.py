"""DATA-4: service targets, shown as pass or fail with the gap. Pure: a target names a figure,
a comparison and a threshold; the presets are the platforms' published rules (seeds 000, 003)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kefu import errors

MAX_TARGETS = 12


class Comparison(StrEnum):
    AT_MOST = "at_most"  # ≤
    BELOW = "below"  # <
    AT_LEAST = "at_least"  # ≥


# The figures a target may name, and whether each is a rate (0–1) or seconds.
TARGET_METRICS = {
    "pickup_rate": "rate",
    "abandonment_rate": "rate",
    "satisfaction_rate": "rate",
    "rate_30s": "rate",
    "rate_60s": "rate",
    "queue_time_s": "seconds",
    "first_response_s": "seconds",
    "response_s": "seconds",
}


@dataclass(frozen=True, slots=True)
class Target:
    metric: str
    comparison: Comparison
    threshold: float

    def __post_init__(self) -> None:
        kind = TARGET_METRICS.get(self.metric)
        if kind is None:
            raise errors.BadInput("No such figure.", field="metric", metric=self.metric)
        upper = 1.0 if kind == "rate" else 86_400.0
        if not 0 <= self.threshold <= upper:
            raise errors.BadInput(
                "The threshold is out of range.", field="threshold", min=0, max=upper
            )


@dataclass(frozen=True, slots=True)
class TargetResult:
    target: Target
    value: float | None
    passed: bool | None
    gap: float | None  # how far the value is from passing; 0 when it passes


# "周平均响应时长 ≤ 2分钟, 周接起率 ≥ 80%, 周平均排队时长 < 10分钟, 周满意度 ≥ 80%" (Feige);
# "接起率 ≥ 90%, 首响时长 < 30s, 即时满意度 ≥ 70%" (Xixi).
PRESETS: Mapping[str, tuple[Target, ...]] = {
    "feige": (
        Target("response_s", Comparison.AT_MOST, 120),
        Target("pickup_rate", Comparison.AT_LEAST, 0.8),
        Target("queue_time_s", Comparison.BELOW, 600),
        Target("satisfaction_rate", Comparison.AT_LEAST, 0.8),
    ),
    "xixi": (
        Target("pickup_rate", Comparison.AT_LEAST, 0.9),
        Target("first_response_s", Comparison.BELOW, 30),
        Target("satisfaction_rate", Comparison.AT_LEAST, 0.7),
    ),
}
DEFAULT_PRESET = "feige"


def evaluate(targets: Sequence[Target], figures: Mapping[str, Any]) -> list[TargetResult]:
    """Each target against the figures: passed is None when the figure has nothing to count."""
    results = []
    for target in targets:
        value = figures.get(target.metric)
        if value is None:
            results.append(TargetResult(target, None, None, None))
            continue
        passed = _passes(target, float(value))
        gap = 0.0 if passed else abs(float(value) - target.threshold)
        results.append(TargetResult(target, float(value), passed, gap))
    return results


def parse_targets(raw: Sequence[Mapping[str, Any]]) -> tuple[Target, ...]:
    """Targets from their JSON form; a figure named twice or too many targets is refused."""
    if len(raw) > MAX_TARGETS:
        raise errors.BadInput("Too many targets.", field="targets", max_items=MAX_TARGETS)
    try:
        targets = tuple(
            Target(str(r["metric"]), Comparison(r["comparison"]), float(r["threshold"]))
            for r in raw
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise errors.BadInput("A target needs a metric, a comparison and a threshold.") from exc
    if len({t.metric for t in targets}) != len(targets):
        raise errors.BadInput("A figure has at most one target.", field="targets")
    return targets


def _passes(target: Target, value: float) -> bool:
    if target.comparison is Comparison.AT_MOST:
        return value <= target.threshold
    if target.comparison is Comparison.BELOW:
        return value < target.threshold
    return value >= target.threshold
