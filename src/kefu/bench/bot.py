"""`kefu bench bot`: measures the bot's matcher (BOT-5) on a labelled question-pair file against a
plain jieba + BM25 baseline, and owns reading the pair formats (lcqmc/oppo TSV, afqmc JSON lines
or TSV, bq CSV, pawsx TSV with header, detected when not given). The knowledge base is the
distinct first questions in file order, up to `--kb-limit` (5,000): those of positive pairs are
the entries to find, those of negative pairs are near-miss distractors. A second question is
*answerable* when its pair is positive and its first question made it into the base; the right
answers are every entry the file labels as meaning the same as it (or its own text if it is an
entry). It is *unanswerable* when its pair is negative, its first question is in the base, and
the file links it to no entry at all (no positive pair, not an entry itself). confident_wrong
is the share of those that get any answer at or above the threshold; as the files do not label
every pair of questions, some of those answers may in fact be right, so it is an upper bound.
top1/top3 ignore the threshold; abstain_answerable is the share of answerable questions under
it; answered_correct the share answered at or above it with a right entry; ece the expected
calibration error (10 equal bins) of the top confidence read as "this answer is right", over
all questions. `--split fit|held` keeps one half of the file by a stable hash of the first
question: the confidence model is fitted on `fit` halves (`kefu bench calibrate`), so `held`
measures it on questions it never saw. After the figures for `--kb-limit`, the same file is
measured at every size of `--sweep` (50, 300, 5,000, capped by the file); `--json` adds those as
`sweep_SIZE_METRIC`. Times are wall milliseconds per match; cpu_p99_ms is the matching thread's
CPU time, which tells a busy machine apart from a slow matcher. The baseline's confidence is its
BM25 score over the query's ideal score, with the threshold set once by the rule of the
matcher's first calibration: the lowest value whose confident_wrong on lcqmc/dev.txt is at most
2.5 %. With `--semantic` (the `semantic` extra) the matcher is kefu.bot.semantic's re-ranker at
its own threshold, and rerank_p50_ms / rerank_p99_ms are the re-ranker's own wall time per match
(encoding the message, rescoring). It must never write to the data it reads."""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import jieba
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from kefu.bot.matcher import Matcher
from kefu.bot.semantic import PACKAGE, CachingEncoder, Encoder, SemanticMatcher, shipped_encoder
from kefu.bot.text import ensure_jieba

KB_LIMIT = 5000
SWEEP_SIZES = (50, 300, KB_LIMIT)
# Calibrated once for the baseline by the same rule as the matcher's threshold (see above).
BASELINE_CONFIDENCE_THRESHOLD = 1.085


class Split(StrEnum):
    """Which half of a pair file to use: calibration fits on `fit`, reports on `held` (BOT-5)."""

    ALL = "all"
    FIT = "fit"
    HELD = "held"


class PairFormat(StrEnum):
    """Question-pair file layouts the benchmark reads (BOT-5)."""

    LCQMC = "lcqmc"
    AFQMC = "afqmc"
    BQ = "bq"
    PAWSX = "pawsx"
    OPPO = "oppo"


@dataclass(frozen=True, slots=True)
class Pair:
    """Two questions and whether they mean the same (BOT-5)."""

    first: str
    second: str
    same: bool


@dataclass(frozen=True, slots=True)
class Query:
    """A question asked of the knowledge base, with the entries that would answer it (BOT-5)."""

    text: str
    correct: frozenset[int]


@dataclass(frozen=True, slots=True)
class Workload:
    """The knowledge base and the questions asked of it (BOT-5)."""

    entries: tuple[str, ...]
    answerable: tuple[Query, ...]
    unanswerable: tuple[Query, ...]


@dataclass(frozen=True, slots=True)
class Outcome:
    """The top three entry ids and the top confidence for one query (BOT-5)."""

    top: tuple[int, ...]
    confidence: float
    seconds: float
    cpu_seconds: float
    # Of `seconds`, what the semantic re-ranker spent itself (0 without it).
    rerank_seconds: float = 0.0


# ---------------------------------------------------------------------------------------------
# Reading pair files


def read_pairs(path: Path, fmt: PairFormat | None = None, limit: int | None = None) -> list[Pair]:
    """Read a pair file, detecting its layout when `fmt` is None (BOT-5)."""
    text = path.read_text(encoding="utf-8-sig")
    fmt = fmt or detect_format(text)
    rows = _ROW_READERS[fmt](text)
    pairs: list[Pair] = []
    for first, second, label in rows:
        if limit is not None and len(pairs) >= limit:
            break
        parsed = _label(label)
        if parsed is not None and first.strip() and second.strip():
            pairs.append(Pair(first.strip(), second.strip(), parsed))
    return pairs


def detect_format(text: str) -> PairFormat:
    """Guess the layout from the first non-empty line (BOT-5)."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    if line.lstrip().startswith("{"):
        return PairFormat.AFQMC
    columns = line.split("\t")
    if len(columns) >= 4 or columns[:2] == ["id", "sentence1"]:
        return PairFormat.PAWSX
    if len(columns) == 3:
        return PairFormat.LCQMC
    return PairFormat.BQ


def _label(value: object) -> bool | None:
    try:
        return int(str(value).strip()) == 1
    except ValueError:
        return None


def _tsv_rows(text: str) -> Iterator[tuple[str, str, str]]:
    for line in text.splitlines():
        columns = line.split("\t")
        if len(columns) >= 3:
            yield columns[-3], columns[-2], columns[-1]


def _json_or_tsv_rows(text: str) -> Iterator[tuple[str, str, str]]:
    # AFQMC ships as CLUE JSON lines; some mirrors convert it to TSV.
    for line in text.splitlines():
        if line.lstrip().startswith("{"):
            row = json.loads(line)
            yield str(row["sentence1"]), str(row["sentence2"]), str(row.get("label", ""))
        else:
            yield from _tsv_rows(line)


def _csv_rows(text: str) -> Iterator[tuple[str, str, str]]:
    for row in csv.reader(io.StringIO(text)):
        if len(row) >= 3:
            yield row[-3], row[-2], row[-1]


_ROW_READERS: dict[PairFormat, Callable[[str], Iterator[tuple[str, str, str]]]] = {
    PairFormat.LCQMC: _tsv_rows,
    PairFormat.OPPO: _tsv_rows,
    PairFormat.PAWSX: _tsv_rows,
    PairFormat.AFQMC: _json_or_tsv_rows,
    PairFormat.BQ: _csv_rows,
}


# ---------------------------------------------------------------------------------------------
# Building the workload


def split_pairs(pairs: Sequence[Pair], half: Split) -> list[Pair]:
    """One half of a file, by a stable hash of the first question, so that the confidence
    model is fitted on one half and measured on the other (BOT-5)."""
    if half is Split.ALL:
        return list(pairs)
    wanted = 0 if half is Split.FIT else 1
    return [p for p in pairs if zlib.crc32(p.first.encode("utf-8")) % 2 == wanted]


def first_questions(pairs: Sequence[Pair]) -> list[str]:
    """The distinct first questions in file order: the candidate entries (BOT-5)."""
    return list(dict.fromkeys(p.first for p in pairs))


def build_workload(pairs: Sequence[Pair], kb_limit: int = KB_LIMIT, start: int = 0) -> Workload:
    """Knowledge base from first questions (the `kb_limit` after the first `start` distinct
    ones); queries from second questions (BOT-5)."""
    kb: dict[str, int] = {}
    for text in first_questions(pairs)[start : start + kb_limit]:
        kb[text] = len(kb)
    same_as: dict[str, set[str]] = {}
    for pair in pairs:
        if pair.same:
            same_as.setdefault(pair.first, set()).add(pair.second)
            same_as.setdefault(pair.second, set()).add(pair.first)
    answerable: dict[str, Query] = {}
    unanswerable: dict[str, Query] = {}
    for pair in pairs:
        if pair.first not in kb:
            continue
        known = {kb[t] for t in same_as.get(pair.second, ()) if t in kb}
        if pair.second in kb:
            known.add(kb[pair.second])
        if pair.same:
            answerable.setdefault(pair.second, Query(pair.second, frozenset(known)))
        elif not known:
            unanswerable.setdefault(pair.second, Query(pair.second, frozenset()))
    return Workload(
        tuple(kb),
        tuple(answerable.values()),
        tuple(q for t, q in unanswerable.items() if t not in answerable),
    )


# ---------------------------------------------------------------------------------------------
# The baseline


class BaselineBm25:
    """Plain jieba words ranked by Okapi BM25: no synonyms, n-grams or fuzzy matching (BOT-5)."""

    def __init__(self, entries: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self._k1, self._b = k1, b
        self._postings: dict[str, dict[int, int]] = {}
        self._lengths: list[int] = []
        for entry_id, text in enumerate(entries):
            counts = Counter(_plain_words(text))
            self._lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                self._postings.setdefault(term, {})[entry_id] = tf
        self._avg = (sum(self._lengths) / len(self._lengths)) if self._lengths else 1.0

    def match(self, text: str, k: int = 3) -> list[tuple[int, float]]:
        """The `k` best entries, each with its BM25 score over the query's ideal score (BOT-5)."""
        n = len(self._lengths)
        scores: dict[int, float] = {}
        ideal = 0.0
        for term in set(_plain_words(text)):
            posting = self._postings.get(term, {})
            idf = math.log(1.0 + (n - len(posting) + 0.5) / (len(posting) + 0.5))
            ideal += idf
            for entry_id, tf in posting.items():
                norm = self._k1 * (1.0 - self._b + self._b * self._lengths[entry_id] / self._avg)
                gain = idf * tf * (self._k1 + 1.0) / (tf + norm)
                scores[entry_id] = scores.get(entry_id, 0.0) + gain
        top = sorted(scores.items(), key=lambda item: item[1], reverse=True)[:k]
        return [(entry_id, score / ideal) for entry_id, score in top]


def _plain_words(text: str) -> list[str]:
    return [w for w in jieba.lcut(text.lower()) if w.strip()]


# ---------------------------------------------------------------------------------------------
# Running and scoring


def run_matcher(
    matcher: Matcher, queries: Sequence[Query], tick: Callable[[], None]
) -> list[Outcome]:
    """Ask the matcher every query, timing each call (BOT-5)."""
    outcomes: list[Outcome] = []
    for query in queries:
        started, cpu_started = time.perf_counter(), time.thread_time()
        candidates = matcher.match(query.text, k=3)
        seconds = time.perf_counter() - started
        cpu_seconds = time.thread_time() - cpu_started
        top = tuple(c.entry_id for c in candidates)
        confidence = candidates[0].confidence if candidates else 0.0
        rerank = matcher.rerank_seconds if isinstance(matcher, SemanticMatcher) else 0.0
        outcomes.append(Outcome(top, confidence, seconds, cpu_seconds, rerank))
        tick()
    return outcomes


def run_baseline(
    baseline: BaselineBm25, queries: Sequence[Query], tick: Callable[[], None]
) -> list[Outcome]:
    """Ask the baseline every query, timing each call (BOT-5)."""
    outcomes: list[Outcome] = []
    for query in queries:
        started, cpu_started = time.perf_counter(), time.thread_time()
        ranked = baseline.match(query.text, k=3)
        seconds = time.perf_counter() - started
        cpu_seconds = time.thread_time() - cpu_started
        confidence = ranked[0][1] if ranked else 0.0
        outcomes.append(Outcome(tuple(e for e, _ in ranked), confidence, seconds, cpu_seconds))
        tick()
    return outcomes


def score(
    answerable: Sequence[Query],
    answered: Sequence[Outcome],
    unanswered: Sequence[Outcome],
    threshold: float,
) -> dict[str, float]:
    """Accuracy, abstention and confident-wrong rates for one system (BOT-5)."""
    hits1 = sum(
        bool(o.top) and o.top[0] in q.correct for q, o in zip(answerable, answered, strict=True)
    )
    hits3 = sum(bool(set(o.top) & q.correct) for q, o in zip(answerable, answered, strict=True))
    abstained = sum(o.confidence < threshold for o in answered)
    right = sum(
        o.confidence >= threshold and o.top[0] in q.correct
        for q, o in zip(answerable, answered, strict=True)
    )
    wrong = sum(o.confidence >= threshold for o in unanswered)
    # Expected calibration error of the top confidence as "this answer is right", 10 bins.
    outcomes = [
        (o.confidence, bool(o.top) and o.top[0] in q.correct)
        for q, o in zip(answerable, answered, strict=True)
    ] + [(o.confidence, False) for o in unanswered]
    bins: dict[int, list[tuple[float, bool]]] = {}
    for confidence, right_answer in outcomes:
        bins.setdefault(min(9, int(confidence * 10)), []).append((confidence, right_answer))
    gap = sum(abs(sum(c for c, _ in b) - sum(r for _, r in b)) for b in bins.values())
    times = sorted(o.seconds * 1000.0 for o in (*answered, *unanswered))
    cpu_times = sorted(o.cpu_seconds * 1000.0 for o in (*answered, *unanswered))
    rerank_times = sorted(o.rerank_seconds * 1000.0 for o in (*answered, *unanswered))
    return {
        "top1": _rate(hits1, len(answerable)),
        "top3": _rate(hits3, len(answerable)),
        "confident_wrong": _rate(wrong, len(unanswered)),
        "abstain_answerable": _rate(abstained, len(answerable)),
        "answered_correct": _rate(right, len(answerable)),
        "ece": gap / len(outcomes) if outcomes else 0.0,
        "p50_ms": statistics.median(times) if times else 0.0,
        "p99_ms": _p99(times),
        # CPU time of the matching thread: what p99_ms would be on an idle machine.
        "cpu_p99_ms": _p99(cpu_times),
        # The semantic re-ranker's own share of each match (encoding the message, rescoring).
        "rerank_p50_ms": statistics.median(rerank_times) if rerank_times else 0.0,
        "rerank_p99_ms": _p99(rerank_times),
    }


def _p99(sorted_ms: Sequence[float]) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(len(sorted_ms) * 0.99))] if sorted_ms else 0.0


def _rate(count: int, total: int) -> float:
    return count / total if total else 0.0


def command(
    pairs: Path = typer.Option(..., "--pairs", exists=True, dir_okay=False, readable=True),
    fmt: PairFormat | None = typer.Option(None, "--format", help="Detected when omitted."),
    as_json: bool = typer.Option(False, "--json", help="End with one JSON line."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Read at most N pairs."),
    kb_limit: int = typer.Option(KB_LIMIT, "--kb-limit", min=1, help="Knowledge-base size cap."),
    split: Split = typer.Option(Split.ALL, "--split", help="Half of the file (held: not fitted)."),
    sizes: str = typer.Option(
        ",".join(map(str, SWEEP_SIZES)), "--sweep", help="Sizes to sweep; empty for none."
    ),
    semantic: bool = typer.Option(
        False, "--semantic", help="Re-rank with the semantic extra (kefu.bot.semantic)."
    ),
) -> None:
    """Measure the bot's matcher on a question-pair file (BOT-5)."""
    encoder: Encoder | None = None
    if semantic:
        shipped = shipped_encoder()
        if shipped is None:
            raise typer.BadParameter(f"--semantic needs the semantic extra ({PACKAGE})")
        encoder = CachingEncoder(shipped)
    read = split_pairs(read_pairs(pairs, fmt, limit), split)
    report = benchmark(read, kb_limit, encoder)
    _print_table(pairs.name, report)
    rows = sweep(read, [int(s) for s in sizes.split(",") if s.strip()], encoder)
    if rows:
        _print_sweep(pairs.name, rows)
    for row in rows:
        size = int(row["kb_size"])
        report.update({f"sweep_{size}_{k}": v for k, v in row.items() if k != "kb_size"})
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, sort_keys=True))


def benchmark(
    pairs: Sequence[Pair], kb_limit: int = KB_LIMIT, encoder: Encoder | None = None
) -> dict[str, float]:
    """Run the matcher (re-ranked when given an encoder) and the baseline on one workload and
    report both (BOT-5)."""
    workload = build_workload(pairs, kb_limit)
    ensure_jieba()
    started = time.perf_counter()
    matcher = build_matcher(workload.entries, encoder)
    load_seconds = time.perf_counter() - started
    baseline = BaselineBm25(workload.entries)
    queries = (*workload.answerable, *workload.unanswerable)
    split = len(workload.answerable)
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("matching", total=2 * len(queries))

        def tick() -> None:
            progress.advance(task)

        ours = run_matcher(matcher, queries, tick)
        theirs = run_baseline(baseline, queries, tick)
    report = score(workload.answerable, ours[:split], ours[split:], matcher.threshold)
    base = score(workload.answerable, theirs[:split], theirs[split:], BASELINE_CONFIDENCE_THRESHOLD)
    report.update({f"baseline_{k}": v for k, v in base.items() if not k.startswith("rerank_")})
    report.update(
        kb_size=len(workload.entries),
        queries=len(queries),
        answerable=split,
        unanswerable=len(queries) - split,
        load_ms=load_seconds * 1000.0,
        threshold=matcher.threshold,
    )
    return report


def build_matcher(entries: Sequence[str], encoder: Encoder | None = None) -> Matcher:
    """A matcher over `entries` (ids in order), re-ranked when given an encoder (BOT-5)."""
    if encoder is None:
        matcher = Matcher()
        for entry_id, text in enumerate(entries):
            matcher.upsert(entry_id, [text])
        return matcher
    semantic = SemanticMatcher(encoder)
    semantic.upsert_many([(entry_id, [text]) for entry_id, text in enumerate(entries)])
    return semantic


def sweep(
    pairs: Sequence[Pair], sizes: Sequence[int], encoder: Encoder | None = None
) -> list[dict[str, float]]:
    """The matcher's figures at each knowledge-base size, capped by the file (BOT-5)."""
    available = len(first_questions(pairs))
    capped = sorted({min(size, available, KB_LIMIT) for size in sizes if size > 0})
    rows: list[dict[str, float]] = []
    for size in capped:
        workload = build_workload(pairs, size)
        matcher = build_matcher(workload.entries, encoder)
        queries = (*workload.answerable, *workload.unanswerable)
        split = len(workload.answerable)
        ours = run_matcher(matcher, queries, lambda: None)
        figures = score(workload.answerable, ours[:split], ours[split:], matcher.threshold)
        keys = ("top1", "answered_correct", "confident_wrong", "abstain_answerable", "ece")
        rows.append({"kb_size": float(size), **{k: figures[k] for k in keys}})
    return rows


def _print_sweep(title: str, rows: Sequence[dict[str, float]]) -> None:
    table = Table(title=f"kefu bench bot: {title}, by knowledge-base size")
    keys = ("top1", "answered_correct", "confident_wrong", "abstain_answerable", "ece")
    table.add_column("kb_size", justify="right")
    for key in keys:
        table.add_column(key, justify="right")
    for row in rows:
        table.add_row(
            str(int(row["kb_size"])), *(f"{row[k]:.1%}" for k in keys[:-1]), f"{row['ece']:.3f}"
        )
    Console().print(table)


def _print_table(title: str, report: dict[str, float]) -> None:
    table = Table(title=f"kefu bench bot: {title}")
    table.add_column("metric")
    table.add_column("kefu", justify="right")
    table.add_column("baseline", justify="right")
    for key in ("top1", "top3", "confident_wrong", "abstain_answerable", "answered_correct"):
        table.add_row(key, f"{report[key]:.1%}", f"{report['baseline_' + key]:.1%}")
    table.add_row("ece", f"{report['ece']:.3f}", f"{report['baseline_ece']:.3f}")
    for key in ("p50_ms", "p99_ms", "cpu_p99_ms"):
        table.add_row(key, f"{report[key]:.2f}", f"{report['baseline_' + key]:.2f}")
    if report["rerank_p99_ms"]:
        for key in ("rerank_p50_ms", "rerank_p99_ms"):
            table.add_row(key, f"{report[key]:.2f}", "")
    table.caption = (
        f"{int(report['kb_size'])} entries, {int(report['answerable'])} answerable and "
        f"{int(report['unanswerable'])} unanswerable questions; load {report['load_ms']:.0f} ms"
    )
    Console().print(table)
