"""BOT-5: `kefu bench bot` reads a pair file and ends with one JSON line of its measurements."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kefu.bench.bot import PairFormat, build_workload, detect_format, read_pairs
from kefu.bench.calibrate import (
    CONFIDENT_WRONG_BUDGET,
    THRESHOLD_STEP,
    Group,
    calibrate,
    worst_confident_wrong,
)
from kefu.bot.matcher import EVIDENCE_NAMES
from kefu.cli import app

TOPICS = ("发货", "退货", "退款", "发票", "尺码", "优惠券", "快递", "运费", "地址", "颜色")
ASKS = ("多久", "怎么弄", "可以吗", "在哪里看", "有问题")


def write_pairs(path: Path) -> None:
    lines = []
    for topic in TOPICS:
        for ask in ASKS:
            lines.append(f"{topic}{ask}\t请问{topic}{ask}呀\t1")
            lines.append(f"{topic}{ask}的规则\t今天天气{ask}\t0")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_bot_5_bench_prints_one_json_line(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.tsv"
    write_pairs(pairs)
    result = CliRunner().invoke(app, ["bench", "bot", "--pairs", str(pairs), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    keys = {"top1", "top3", "confident_wrong", "abstain_answerable", "p50_ms", "p99_ms"}
    keys |= {"kb_size", "queries", "baseline_top1", "baseline_confident_wrong"}
    assert keys <= report.keys()
    assert report["kb_size"] == 2 * len(TOPICS) * len(ASKS)
    assert report["queries"] == len(TOPICS) * len(ASKS) + len(ASKS)  # unanswerable deduped
    for key in ("top1", "top3", "confident_wrong", "abstain_answerable", "baseline_top1"):
        assert 0.0 <= report[key] <= 1.0
    assert report["top1"] >= 0.9
    assert report["top3"] >= report["top1"]
    assert report["confident_wrong"] <= 0.1
    assert 0.0 < report["p50_ms"] <= report["p99_ms"] < 50.0


def test_bot_5_bench_limit_and_kb_limit(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.tsv"
    write_pairs(pairs)
    args = ["bench", "bot", "--pairs", str(pairs), "--json", "--limit", "20", "--kb-limit", "5"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["kb_size"] == 5


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("怎么退货\t如何退货\t1\n", PairFormat.LCQMC),
        ('{"sentence1": "怎么退货", "sentence2": "如何退货", "label": "1"}\n', PairFormat.AFQMC),
        ("sentence1,sentence2,label\n怎么退货,如何退货,1\n", PairFormat.BQ),
        ("id\tsentence1\tsentence2\tlabel\n7\t怎么退货\t如何退货\t1\n", PairFormat.PAWSX),
    ],
)
def test_bot_5_pair_formats_are_detected_and_read(
    tmp_path: Path, text: str, fmt: PairFormat
) -> None:
    path = tmp_path / "pairs"
    path.write_text("\ufeff" + text if fmt is PairFormat.BQ else text, encoding="utf-8")
    assert detect_format(path.read_text(encoding="utf-8-sig")) is fmt
    pairs = read_pairs(path)
    assert [(p.first, p.second, p.same) for p in pairs] == [("怎么退货", "如何退货", True)]
    assert read_pairs(path, PairFormat.OPPO if fmt is PairFormat.LCQMC else fmt) == pairs


def test_bot_5_workload_splits_answerable_from_unanswerable(tmp_path: Path) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_text("甲问题\t甲问法\t1\n乙问题\t丙问法\t0\n乙问题\t甲问法\t0\n丁\t乙问题\t0\n")
    workload = build_workload(read_pairs(path))
    assert workload.entries == ("甲问题", "乙问题", "丁")
    assert [(q.text, set(q.correct)) for q in workload.answerable] == [("甲问法", {0})]
    # 甲问法 is answerable, so its negative pair does not make it unanswerable; 乙问题 is
    # itself an entry, so it is not unanswerable either.
    assert [q.text for q in workload.unanswerable] == ["丙问法"]


def _row(missing: float, spelling: float) -> tuple[float, ...]:
    row = [0.0] * len(EVIDENCE_NAMES)
    row[EVIDENCE_NAMES.index("query_missing_kb")] = missing
    row[EVIDENCE_NAMES.index("spelling")] = spelling
    return tuple(row)


def test_bot_5_calibration_fits_weights_and_the_threshold_rule() -> None:
    # Right answers lack few words and are spelled alike; unanswerable questions the reverse.
    groups = []
    for size, shift in ((50, 0.0), (300, 0.05)):
        right = [_row(0.05 * (i % 4) + shift, 0.9 - 0.02 * (i % 5)) for i in range(80)]
        unanswerable = [_row(0.5 + 0.1 * (i % 4), 0.4 + shift) for i in range(80)]
        unanswerable[:1] = [_row(0.0, 0.95)]  # a near miss the file calls different
        groups.append(Group("pairs", size, [*right, None], [_row(0.3, 0.6)], unanswerable))
    result = calibrate(groups)
    weights = dict(zip(EVIDENCE_NAMES, result.weights, strict=True))
    assert weights["query_missing_kb"] < 0 < weights["spelling"]
    assert result.confident_wrong <= CONFIDENT_WRONG_BUDGET
    assert result.threshold == round(round(result.threshold / THRESHOLD_STEP) * THRESHOLD_STEP, 3)
    # The lowest such threshold: one step lower breaks the budget in some group.
    below = result.threshold - THRESHOLD_STEP
    assert worst_confident_wrong(groups, result.bias, result.weights, below) > (
        CONFIDENT_WRONG_BUDGET
    )
    assert 0.0 < result.abstain_answerable < 1.0


def test_bot_5_calibrate_command_prints_and_writes_the_model(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.tsv"
    write_pairs(pairs)
    out = tmp_path / "model.py"
    args = ["bench", "calibrate", "--pairs", str(pairs), "--pairs", str(pairs)]
    args += ["--split", "all", "--sizes", "20,100", "--out", str(out), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(report["weights"]) == set(EVIDENCE_NAMES)
    assert 0.0 <= report["threshold"] <= 1.0
    assert report["confident_wrong"] <= CONFIDENT_WRONG_BUDGET
    # The written module is what the matcher would read: same names, same numbers.
    spec = importlib.util.spec_from_file_location("written_model", out)
    assert spec is not None and spec.loader is not None
    model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model)
    assert model.FEATURES == EVIDENCE_NAMES
    assert report["threshold"] == model.THRESHOLD
    assert list(model.WEIGHTS) == [report["weights"][n] for n in EVIDENCE_NAMES]
