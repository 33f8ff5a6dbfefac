"""`kefu bench calibrate`: fits the bot matcher's confidence model (BOT-5), the written rule by
which the shipped kefu.bot.confidence_model was made:

1. Every pair file given is halved by a stable hash of the first question (`--split fit` keeps
   the first half; `kefu bench bot --split held` measures on the other).
2. At each knowledge-base size (50, 300 and 5,000 by default) the half's distinct first
   questions are cut, in file order, into consecutive knowledge bases of that size (a last
   window under half the size is dropped), each asked its own questions as `kefu bench bot`
   does. A question's row is the signals of its top candidate (`Matcher.evidence`); its label
   is whether that candidate is right (an answerable question whose top entry the file links
   to it). Unanswerable questions are never right.
3. "Right or not" is fitted by L2 logistic regression (Newton's method, penalty 1.0 on the
   weights, none on the bias), each (file, size) group weighing the same in total, so no file
   or size dominates. The weights are rounded to three decimals.
4. The threshold is the lowest value, in 0.005 steps, at which every group's confident-wrong
   rate (unanswerable questions at or above it) is at most 5 %: no file, at no size, gets more
   than one wrong answer in twenty near misses.

It prints the model, and with `--out src/kefu/bot/confidence_model.py` writes it where the
matcher reads it. It never writes to the data it reads.

`--semantic` (the `semantic` extra) fits the semantic re-ranker's model instead
(kefu.bot.semantic_model) by the same rule, with two differences. Every question keeps its
lexical best `DEPTH` entries, each with its semantic signals, and every one of them is a row (right
or not). The threshold is judged on each question's best-scoring entry, as the re-ranker answers.
`--most` caps the questions per file and size (spread evenly) to bound the pure-Python fit."""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress

from kefu.bench.bot import (
    KB_LIMIT,
    Pair,
    PairFormat,
    Split,
    build_workload,
    first_questions,
    read_pairs,
    split_pairs,
)
from kefu.bot import confidence_model, semantic_model
from kefu.bot.matcher import EVIDENCE_NAMES, Evidence, Matcher, confidence
from kefu.bot.semantic import (
    DEPTH,
    PACKAGE,
    CachingEncoder,
    Encoder,
    SemanticMatcher,
    semantic_confidence,
    shipped_encoder,
)
from kefu.bot.text import ensure_jieba

CONFIDENT_WRONG_BUDGET = 0.05
THRESHOLD_STEP = 0.005
L2_PENALTY = 1.0
NEWTON_STEPS = 30
SIZES = (50, 300, KB_LIMIT)


@dataclass(frozen=True, slots=True)
class Group:
    """The top-candidate signals of one file's questions at one knowledge-base size (BOT-5)."""

    name: str
    size: int
    right: list[Evidence | None]  # answerable questions whose top entry is right
    wrong_answerable: list[Evidence | None]  # answerable, but the top entry is another
    unanswerable: list[Evidence | None]


@dataclass(frozen=True, slots=True)
class Calibration:
    """A fitted confidence model and its threshold (BOT-5)."""

    bias: float
    weights: tuple[float, ...]
    threshold: float
    confident_wrong: float
    abstain_answerable: float


def fit_logistic(
    rows: Sequence[Sequence[float]],
    labels: Sequence[bool],
    sample: Sequence[float] | None = None,
    penalty: float = L2_PENALTY,
) -> tuple[float, tuple[float, ...]]:
    """L2 logistic regression by Newton's method, rows weighted by `sample`; bias, weights."""
    if all(labels) or not any(labels):
        raise ValueError("calibration needs both right and wrong answers")
    size = len(rows[0]) + 1
    weights = sample or [1.0] * len(rows)
    design = [(1.0, *row) for row in rows]
    beta = [0.0] * size
    for _ in range(NEWTON_STEPS):
        gradient = [penalty * b if i else 0.0 for i, b in enumerate(beta)]
        hessian = [[0.0] * size for _ in range(size)]
        for i in range(1, size):
            hessian[i][i] = penalty
        for x, label, weight in zip(design, labels, weights, strict=True):
            z = sum(b * v for b, v in zip(beta, x, strict=True))
            p = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
            residual = weight * (p - float(label))
            curvature = weight * p * (1.0 - p)
            for i in range(size):
                xi = x[i]
                gradient[i] += residual * xi
                row = hessian[i]
                scaled = curvature * xi
                for j in range(i, size):
                    row[j] += scaled * x[j]
        for i in range(size):
            for j in range(i):
                hessian[i][j] = hessian[j][i]
        step = _solve(hessian, gradient)
        beta = [b - s for b, s in zip(beta, step, strict=True)]
        if max(abs(s) for s in step) < 1e-7:
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


def collect(name: str, pairs: Sequence[Pair], size: int) -> Group:
    """Signals of every question of `pairs` asked of consecutive bases of `size` (BOT-5)."""
    group = Group(name, size, [], [], [])
    firsts = len(first_questions(pairs))
    for start in range(0, max(firsts, 1), size):
        if start and firsts - start < size / 2:
            break
        workload = build_workload(pairs, size, start)
        matcher = Matcher()
        for entry_id, text in enumerate(workload.entries):
            matcher.upsert(entry_id, [text])
        for query in workload.answerable:
            top = matcher.evidence(query.text, k=1)
            if top and top[0][0] in query.correct:
                group.right.append(top[0][1])
            else:
                group.wrong_answerable.append(top[0][1] if top else None)
        for query in workload.unanswerable:
            top = matcher.evidence(query.text, k=1)
            group.unanswerable.append(top[0][1] if top else None)
    return group


def _fit_groups(
    labelled: Sequence[Sequence[tuple[Evidence, bool]]],
) -> tuple[float, tuple[float, ...]]:
    """The logistic fit over every group's labelled rows, each group weighing the same
    whatever its size; weights rounded as the model file writes them."""
    rows = [row for found in labelled for row, _ in found]
    labels = [label for found in labelled for _, label in found]
    sample = [1.0 / len(found) for found in labelled for _ in found]
    total = sum(sample)
    sample = [s * len(rows) / total for s in sample]
    bias, weights = fit_logistic(rows, labels, sample)
    return round(bias, 3), tuple(round(w, 3) for w in weights)


def _lowest_threshold(worst: Callable[[float], float], budget: float) -> float:
    """The lowest threshold, in THRESHOLD_STEP steps, at which `worst` is within `budget`."""
    threshold = 0.0
    while threshold < 1.0 and worst(threshold) > budget:
        threshold = round(threshold + THRESHOLD_STEP, 3)
    return threshold


def calibrate(groups: Sequence[Group]) -> Calibration:
    """Fit the weights on all groups, then the threshold by the rule above (BOT-5)."""
    used = [g for g in groups if g.right or g.wrong_answerable or g.unanswerable]
    labelled = []
    for group in used:
        found = [
            (row, label)
            for label, rows_of in ((True, group.right), (False, group.wrong_answerable))
            for row in rows_of
            if row is not None
        ]
        found += [(row, False) for row in group.unanswerable if row is not None]
        labelled.append(found)
    bias, weights = _fit_groups(labelled)
    threshold = _lowest_threshold(
        lambda at: worst_confident_wrong(used, bias, weights, at), CONFIDENT_WRONG_BUDGET
    )
    answerable = [r for g in used for r in (*g.right, *g.wrong_answerable)]
    return Calibration(
        bias,
        weights,
        threshold,
        worst_confident_wrong(used, bias, weights, threshold),
        1.0 - _share(_scores(answerable, bias, weights), threshold),
    )


def worst_confident_wrong(
    groups: Sequence[Group], bias: float, weights: Sequence[float], threshold: float
) -> float:
    """The highest confident-wrong rate of any group at `threshold` (BOT-5)."""
    return max(
        (_share(_scores(g.unanswerable, bias, weights), threshold) for g in groups), default=0.0
    )


def _scores(rows: Sequence[Evidence | None], bias: float, weights: Sequence[float]) -> list[float]:
    return [0.0 if r is None else confidence(r, bias, weights) for r in rows]


def _share(confidences: Sequence[float], threshold: float) -> float:
    if not confidences:
        return 0.0
    return sum(c >= threshold for c in confidences) / len(confidences)


@dataclass(frozen=True, slots=True)
class SemanticGroup:
    """The rescored candidates of one file's questions at one knowledge-base size (BOT-5)."""

    name: str
    size: int
    answerable: list[list[tuple[Evidence, bool]]]  # each candidate's signals, and if it is right
    unanswerable: list[list[Evidence]]


def collect_semantic(
    name: str, pairs: Sequence[Pair], size: int, encoder: Encoder, most: int | None = None
) -> SemanticGroup:
    """Like `collect`, but every question keeps the signals of the lexical best `DEPTH`
    entries with their semantic ones; at most about `most` questions, evenly spread (BOT-5)."""
    group = SemanticGroup(name, size, [], [])
    firsts = len(first_questions(pairs))
    workloads = []
    for start in range(0, max(firsts, 1), size):
        if start and firsts - start < size / 2:
            break
        workloads.append(build_workload(pairs, size, start))
    total = sum(len(w.answerable) + len(w.unanswerable) for w in workloads)
    stride = max(1, math.ceil(total / most)) if most else 1
    for workload in workloads:
        matcher = SemanticMatcher(encoder)
        matcher.upsert_many([(i, [text]) for i, text in enumerate(workload.entries)])
        for query in workload.answerable[::stride]:
            scored = matcher.semantic_scored(query.text)
            group.answerable.append([(f, c.entry_id in query.correct) for c, f in scored])
        for query in workload.unanswerable[::stride]:
            group.unanswerable.append([f for _, f in matcher.semantic_scored(query.text)])
    return group


def calibrate_semantic(
    groups: Sequence[SemanticGroup], budget: float = CONFIDENT_WRONG_BUDGET
) -> Calibration:
    """Fit the re-ranker's model on every rescored candidate, each group weighing the same,
    then the threshold by the rule above, judged on each question's best candidate (BOT-5)."""
    used = [g for g in groups if g.answerable or g.unanswerable]
    labelled = []
    for group in used:
        found = [row for question in group.answerable for row in question]
        found += [(f, False) for question in group.unanswerable for f in question]
        labelled.append(found)
    bias, weights = _fit_groups(labelled)
    threshold = _lowest_threshold(lambda at: semantic_worst(used, bias, weights, at), budget)
    answerable = [q for g in used for q in g.answerable]
    best = [_best([f for f, _ in q], bias, weights) for q in answerable]
    return Calibration(
        bias,
        weights,
        threshold,
        semantic_worst(used, bias, weights, threshold),
        1.0 - _share(best, threshold),
    )


def semantic_worst(
    groups: Sequence[SemanticGroup], bias: float, weights: Sequence[float], threshold: float
) -> float:
    """The highest confident-wrong rate of any group at `threshold`, re-ranked (BOT-5)."""
    return max(
        (_share([_best(q, bias, weights) for q in g.unanswerable], threshold) for g in groups),
        default=0.0,
    )


def semantic_answered(
    group: SemanticGroup, bias: float, weights: Sequence[float], threshold: float
) -> float:
    """The share of a group's answerable questions answered right at `threshold` (BOT-5)."""
    right = 0
    for question in group.answerable:
        if question:
            score, label = max((semantic_confidence(f, bias, weights), r) for f, r in question)
            right += label and score >= threshold
    return right / len(group.answerable) if group.answerable else 0.0


def _best(candidates: Sequence[Evidence], bias: float, weights: Sequence[float]) -> float:
    return max((semantic_confidence(f, bias, weights) for f in candidates), default=0.0)


def model_source(
    result: Calibration,
    provenance: Sequence[str],
    features: Sequence[str] = EVIDENCE_NAMES,
    doc: str | None = confidence_model.__doc__,
) -> str:
    """The text of kefu/bot/confidence_model.py (or semantic_model.py) for a fitted model."""
    names = "".join(f'    "{n}",\n' for n in features)
    weights = "".join(f"    {w},  # {n}\n" for n, w in zip(features, result.weights, strict=True))
    notes = "".join(f"# {line}\n" for line in provenance)
    return (
        f'"""{doc}"""\n\n'
        f"{notes}"
        f"FEATURES = (\n{names})\n"
        f"BIAS = {result.bias}\n"
        f"WEIGHTS = (\n{weights})\n"
        f"THRESHOLD = {result.threshold}\n"
    )


def command(
    pairs: list[Path] = typer.Option(..., "--pairs", exists=True, dir_okay=False, readable=True),
    fmt: PairFormat | None = typer.Option(None, "--format", help="Detected when omitted."),
    split: Split = typer.Option(Split.FIT, "--split", help="Which half of each file to fit on."),
    sizes: str = typer.Option(",".join(map(str, SIZES)), "--sizes", help="Knowledge-base sizes."),
    out: Path | None = typer.Option(
        None, "--out", dir_okay=False, help="Write the model module here (confidence_model.py)."
    ),
    as_json: bool = typer.Option(False, "--json", help="End with one JSON line."),
    semantic: bool = typer.Option(
        False, "--semantic", help="Fit the semantic re-ranker's model (semantic_model.py)."
    ),
    most: int = typer.Option(
        2000, "--most", min=1, help="With --semantic: questions per file and size, at most."
    ),
    budget: float = typer.Option(
        CONFIDENT_WRONG_BUDGET, "--budget", min=0.0, max=1.0, help="Confident-wrong per group."
    ),
) -> None:
    """Fit the bot's confidence model and threshold on question-pair files (BOT-5)."""
    ensure_jieba()
    size_list = [int(s) for s in sizes.split(",") if s.strip()]
    if semantic:
        _command_semantic(pairs, fmt, split, size_list, most, budget, out, as_json)
        return
    groups: list[Group] = []
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("signals", total=len(pairs) * len(size_list))
        for path in pairs:
            half = split_pairs(read_pairs(path, fmt), split)
            for size in size_list:
                groups.append(collect(path.name, half, min(size, KB_LIMIT)))
                progress.advance(task)
    result = calibrate(groups)
    provenance = [
        f"kefu bench calibrate --split {split.value} --sizes {sizes} --pairs "
        + " --pairs ".join(f"{p.parent.name}/{p.name}" for p in pairs),
        f"worst group confident_wrong {result.confident_wrong:.1%}, "
        f"abstain_answerable {result.abstain_answerable:.1%}",
    ]
    for group in groups:
        answerable = len(group.right) + len(group.wrong_answerable)
        right = _scores(group.right, result.bias, result.weights)
        wrong = _scores(group.unanswerable, result.bias, result.weights)
        typer.echo(
            f"# {group.name} @{group.size}: {answerable} answerable, "
            f"{len(group.unanswerable)} unanswerable; answered_correct "
            f"{_share(right, result.threshold) * len(right) / (answerable or 1):.1%}, "
            f"confident_wrong {_share(wrong, result.threshold):.1%}"
        )
    source = model_source(result, provenance)
    typer.echo(source)
    if out is not None:
        out.write_text(source, encoding="utf-8")
    if as_json:
        report = {
            "bias": result.bias,
            "weights": dict(zip(EVIDENCE_NAMES, result.weights, strict=True)),
            "threshold": result.threshold,
            "confident_wrong": result.confident_wrong,
            "abstain_answerable": result.abstain_answerable,
        }
        typer.echo(json.dumps(report, ensure_ascii=False, sort_keys=True))


def _command_semantic(
    pairs: Sequence[Path],
    fmt: PairFormat | None,
    split: Split,
    sizes: Sequence[int],
    most: int,
    budget: float,
    out: Path | None,
    as_json: bool,
) -> None:
    shipped = shipped_encoder()
    if shipped is None:
        raise typer.BadParameter(f"--semantic needs the semantic extra ({PACKAGE})")
    encoder = CachingEncoder(shipped)
    groups: list[SemanticGroup] = []
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("signals", total=len(pairs) * len(sizes))
        for path in pairs:
            half = split_pairs(read_pairs(path, fmt), split)
            for size in sizes:
                groups.append(collect_semantic(path.name, half, min(size, KB_LIMIT), encoder, most))
                progress.advance(task)
    result = calibrate_semantic(groups, budget)
    line = (
        f"kefu bench calibrate --semantic --split {split.value} --most {most} --budget {budget}"
        f" --sizes {','.join(map(str, sizes))} --pairs "
        + " --pairs ".join(f"{p.parent.name}/{p.name}" for p in pairs)
    )
    provenance = [
        *textwrap.wrap(line, 96, subsequent_indent="  ", break_on_hyphens=False),
        f"depth {DEPTH}; worst group confident_wrong {result.confident_wrong:.1%}, "
        f"abstain_answerable {result.abstain_answerable:.1%}",
    ]
    for group in groups:
        best = [_best(q, result.bias, result.weights) for q in group.unanswerable]
        typer.echo(
            f"# {group.name} @{group.size}: {len(group.answerable)} answerable, "
            f"{len(group.unanswerable)} unanswerable; answered_correct "
            f"{semantic_answered(group, result.bias, result.weights, result.threshold):.1%}, "
            f"confident_wrong {_share(best, result.threshold):.1%}"
        )
    source = model_source(result, provenance, semantic_model.FEATURES, semantic_model.__doc__)
    typer.echo(source)
    if out is not None:
        out.write_text(source, encoding="utf-8")
    if as_json:
        report = {
            "bias": result.bias,
            "weights": dict(zip(semantic_model.FEATURES, result.weights, strict=True)),
            "threshold": result.threshold,
            "confident_wrong": result.confident_wrong,
            "abstain_answerable": result.abstain_answerable,
        }
        typer.echo(json.dumps(report, ensure_ascii=False, sort_keys=True))
