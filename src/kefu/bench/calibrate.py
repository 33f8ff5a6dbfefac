"""`kefu bench calibrate`: fits the bot matcher's confidence model (BOT-5) on one question-pair
file, the way the shipped weights and DEFAULT_CONFIDENCE_THRESHOLD were fitted (on
lcqmc/dev.txt, once). It builds the same knowledge base and questions as `kefu bench bot`,
takes the signals of each question's top candidate (`Matcher.evidence`), and fits "answerable
or not" by class-balanced L2 logistic regression (Newton's method, penalty 1.0 on the weights,
none on the bias). With the weights rounded to three decimals, the threshold is the lowest value
in 0.005 steps whose confident-wrong rate (unanswerable questions at or above it) is at most
2.5 %, half the 5 % budget. It prints the constants to paste into `kefu.bot.matcher`; it never
writes to the data it reads, and the matcher does not read its output."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress

from kefu.bench.bot import KB_LIMIT, PairFormat, build_workload, read_pairs
from kefu.bot.matcher import EVIDENCE_NAMES, Evidence, Matcher, confidence
from kefu.bot.text import ensure_jieba

CONFIDENT_WRONG_BUDGET = 0.025
THRESHOLD_STEP = 0.005
L2_PENALTY = 1.0
NEWTON_STEPS = 50


@dataclass(frozen=True, slots=True)
class Calibration:
    """A fitted confidence model and its threshold (BOT-5)."""

    bias: float
    weights: tuple[float, ...]
    threshold: float
    confident_wrong: float
    abstain_answerable: float


def fit_logistic(
    rows: Sequence[Sequence[float]], labels: Sequence[bool], penalty: float = L2_PENALTY
) -> tuple[float, tuple[float, ...]]:
    """Class-balanced L2 logistic regression by Newton's method; returns bias, weights."""
    positives = sum(labels)
    negatives = len(labels) - positives
    if not positives or not negatives:
        raise ValueError("calibration needs both answerable and unanswerable questions")
    size = len(rows[0]) + 1
    sample = [len(labels) / (2.0 * (positives if label else negatives)) for label in labels]
    design = [(1.0, *row) for row in rows]
    beta = [0.0] * size
    for _ in range(NEWTON_STEPS):
        gradient = [penalty * b if i else 0.0 for i, b in enumerate(beta)]
        hessian = [[0.0] * size for _ in range(size)]
        for i in range(1, size):
            hessian[i][i] = penalty
        for x, label, weight in zip(design, labels, sample, strict=True):
            z = sum(b * v for b, v in zip(beta, x, strict=True))
            p = 1.0 / (1.0 + math.exp(-z))
            residual = weight * (p - float(label))
            curvature = weight * p * (1.0 - p)
            for i in range(size):
                gradient[i] += residual * x[i]
                row = hessian[i]
                for j in range(size):
                    row[j] += curvature * x[i] * x[j]
        step = _solve(hessian, gradient)
        beta = [b - s for b, s in zip(beta, step, strict=True)]
        if max(abs(s) for s in step) < 1e-9:
            break
    return beta[0], tuple(beta[1:])


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    # Gaussian elimination with partial pivoting on a small dense system.
    n = len(vector)
    rows = [[*matrix[i], vector[i]] for i in range(n)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(col + 1, n):
            factor = rows[r][col] / rows[col][col]
            for c in range(col, n + 1):
                rows[r][c] -= factor * rows[col][c]
    solution = [0.0] * n
    for r in range(n - 1, -1, -1):
        known = sum(rows[r][c] * solution[c] for c in range(r + 1, n))
        solution[r] = (rows[r][n] - known) / rows[r][r]
    return solution


def calibrate(
    answerable: Sequence[Evidence | None], unanswerable: Sequence[Evidence | None]
) -> Calibration:
    """Fit weights and threshold from top-candidate signals; None means no candidate (BOT-5)."""
    rows = [r for r in (*answerable, *unanswerable) if r is not None]
    labels = [True for r in answerable if r is not None] + [
        False for r in unanswerable if r is not None
    ]
    bias, weights = fit_logistic(rows, labels)
    bias, weights = round(bias, 3), tuple(round(w, 3) for w in weights)

    def scores(group: Sequence[Evidence | None]) -> list[float]:
        return [0.0 if r is None else confidence(r, bias, weights) for r in group]

    positive, negative = scores(answerable), scores(unanswerable)
    threshold = 0.0
    while threshold < 1.0 and _share(negative, threshold) > CONFIDENT_WRONG_BUDGET:
        threshold = round(threshold + THRESHOLD_STEP, 3)
    return Calibration(
        bias,
        weights,
        threshold,
        _share(negative, threshold),
        1.0 - _share(positive, threshold),
    )


def _share(confidences: Sequence[float], threshold: float) -> float:
    if not confidences:
        return 0.0
    return sum(c >= threshold for c in confidences) / len(confidences)


def command(
    pairs: Path = typer.Option(..., "--pairs", exists=True, dir_okay=False, readable=True),
    fmt: PairFormat | None = typer.Option(None, "--format", help="Detected when omitted."),
    as_json: bool = typer.Option(False, "--json", help="End with one JSON line."),
) -> None:
    """Fit the bot's confidence weights and threshold on a question-pair file (BOT-5)."""
    workload = build_workload(read_pairs(pairs, fmt), KB_LIMIT)
    ensure_jieba()
    matcher = Matcher()
    for entry_id, text in enumerate(workload.entries):
        matcher.upsert(entry_id, [text])
    groups: list[list[Evidence | None]] = [[], []]
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("signals", total=len(workload.answerable + workload.unanswerable))
        for group, queries in zip(
            groups, (workload.answerable, workload.unanswerable), strict=True
        ):
            for query in queries:
                top = matcher.evidence(query.text, k=1)
                group.append(top[0][1] if top else None)
                progress.advance(task)
    result = calibrate(groups[0], groups[1])
    weights = ", ".join(f"{w}" for w in result.weights)
    typer.echo(f"# {pairs.name}: {len(groups[0])} answerable, {len(groups[1])} unanswerable")
    typer.echo(f"# {', '.join(EVIDENCE_NAMES)}")
    typer.echo(f"_CONFIDENCE_BIAS = {result.bias}")
    typer.echo(f"_CONFIDENCE_WEIGHTS = ({weights})")
    typer.echo(f"DEFAULT_CONFIDENCE_THRESHOLD = {result.threshold}")
    typer.echo(
        f"# confident_wrong {result.confident_wrong:.1%}, "
        f"abstain_answerable {result.abstain_answerable:.1%}"
    )
    if as_json:
        report = {
            "bias": result.bias,
            "weights": dict(zip(EVIDENCE_NAMES, result.weights, strict=True)),
            "threshold": result.threshold,
            "confident_wrong": result.confident_wrong,
            "abstain_answerable": result.abstain_answerable,
        }
        typer.echo(json.dumps(report, ensure_ascii=False, sort_keys=True))
