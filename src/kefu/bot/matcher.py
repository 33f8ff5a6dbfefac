"""The bot's question matcher (BOT-5): ranks knowledge-base entries, each a main question plus
any number of alternative phrasings, against a consumer's message. PLACEHOLDER docstring."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from kefu.bot.index import Bm25Index
from kefu.bot.synonyms import DEFAULT_SYNONYMS, canonical_table
from kefu.bot.text import WordCutter, char_ngrams, content_words

DEFAULT_CONFIDENCE_THRESHOLD = 0.5

# Weights of the three retrieval channels in the first-stage score.
_WORD_WEIGHT = 0.45
_BIGRAM_WEIGHT = 0.40
_UNIGRAM_WEIGHT = 0.15
# How many phrasings the first stage hands to the rerank.
_RERANK_DEPTH = 24


@dataclass(frozen=True, slots=True)
class Candidate:
    """One ranked knowledge-base entry for a message (BOT-5)."""

    entry_id: int
    score: float
    confidence: float
    matched_question: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The bot's verdict: answer with `candidate`, or say it did not understand (BOT-3, BOT-4)."""

    candidate: Candidate | None
    alternatives: tuple[Candidate, ...]

    @property
    def is_understood(self) -> bool:
        """Whether the bot answers rather than asking to rephrase (BOT-4)."""
        return self.candidate is not None


@dataclass(frozen=True, slots=True)
class _Phrasing:
    entry_id: int
    question: str
    canon: str
    words: frozenset[str]
    bigrams: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Query:
    canon: str
    words: list[str]
    bigrams: list[str]
    unigrams: list[str]


class Matcher:
    """Ranks knowledge-base entries against messages, updated one entry at a time (BOT-5)."""

    def __init__(
        self,
        *,
        synonyms: Iterable[Sequence[str]] = (),
        user_words: Iterable[str] = (),
        default_synonyms: Iterable[Sequence[str]] = DEFAULT_SYNONYMS,
        threshold: float = DEFAULT_CONFIDENCE_THRESHOLD,
    ) -> None:
        groups = [*default_synonyms, *synonyms]
        self._canonical = canonical_table(groups)
        self._cutter = WordCutter([*user_words, *(w for g in groups for w in g)])
        self.threshold = threshold
        self._words = Bm25Index()
        self._bigrams = Bm25Index()
        self._unigrams = Bm25Index()
        self._phrasings: dict[int, _Phrasing] = {}
        self._entry_docs: dict[int, list[int]] = {}
        self._next_doc = 0

    def __len__(self) -> int:
        return len(self._entry_docs)

    def upsert(self, entry_id: int, questions: Sequence[str]) -> None:
        """Index an entry's main question and phrasings, replacing its old ones (BOT-2, BOT-5)."""
        self.remove(entry_id)
        docs: list[int] = []
        for question in dict.fromkeys(questions):
            query = self._prepare(question)
            if not query.canon:
                continue
            doc_id = self._next_doc
            self._next_doc += 1
            self._words.add(doc_id, query.words)
            self._bigrams.add(doc_id, query.bigrams)
            self._unigrams.add(doc_id, query.unigrams)
            self._phrasings[doc_id] = _Phrasing(
                entry_id, question, query.canon, frozenset(query.words), frozenset(query.bigrams)
            )
            docs.append(doc_id)
        if docs:
            self._entry_docs[entry_id] = docs

    def remove(self, entry_id: int) -> None:
        """Drop an entry from the index; unknown ids are ignored (BOT-2, BOT-5)."""
        for doc_id in self._entry_docs.pop(entry_id, ()):
            self._words.remove(doc_id)
            self._bigrams.remove(doc_id)
            self._unigrams.remove(doc_id)
            del self._phrasings[doc_id]

    def match(self, text: str, k: int = 3) -> list[Candidate]:
        """The `k` best entries for `text`, best first, each with its confidence (BOT-5)."""
        query = self._prepare(text)
        if not query.canon or not self._phrasings:
            return []
        first_stage = self._retrieve(query)
        best: dict[int, tuple[float, int]] = {}
        for doc_id in first_stage:
            phrasing = self._phrasings[doc_id]
            score = self._rerank(query, phrasing, first_stage[doc_id])
            held = best.get(phrasing.entry_id)
            if held is None or score > held[0]:
                best[phrasing.entry_id] = (score, doc_id)
        ranked = sorted(best.items(), key=lambda item: item[1][0], reverse=True)
        candidates: list[Candidate] = []
        for position, (entry_id, (score, doc_id)) in enumerate(ranked[:k]):
            runner_up = ranked[position + 1][1][0] if position + 1 < len(ranked) else 0.0
            candidates.append(
                Candidate(
                    entry_id=entry_id,
                    score=score,
                    confidence=_confidence(score, runner_up),
                    matched_question=self._phrasings[doc_id].question,
                )
            )
        return candidates

    def answer(self, text: str) -> Decision:
        """Answer with the best entry if confident enough, else not understood (BOT-3, BOT-4)."""
        candidates = tuple(self.match(text, k=3))
        if candidates and candidates[0].confidence >= self.threshold:
            return Decision(candidates[0], candidates[1:])
        return Decision(None, candidates)

    def _prepare(self, text: str) -> _Query:
        words = content_words(self._cutter.cut(text), self._canonical)
        canon = "".join(words)
        return _Query(canon, words, char_ngrams(canon, 2), list(canon))

    def _retrieve(self, query: _Query) -> dict[int, float]:
        scores: dict[int, float] = {}
        # Stop-like terms (in over 1/8 of the phrasings) only refine, never widen the pool.
        max_df = max(64, len(self._phrasings) // 8)
        self._words.accumulate(query.words, scores, _WORD_WEIGHT, max_df)
        self._bigrams.accumulate(query.bigrams, scores, _BIGRAM_WEIGHT, max_df)
        self._unigrams.accumulate(query.unigrams, scores, _UNIGRAM_WEIGHT, max_df)
        if len(scores) <= _RERANK_DEPTH:
            return scores
        top = sorted(scores, key=scores.__getitem__, reverse=True)[:_RERANK_DEPTH]
        return {doc_id: scores[doc_id] for doc_id in top}

    def _rerank(self, query: _Query, phrasing: _Phrasing, retrieval: float) -> float:
        spelling = fuzz.ratio(query.canon, phrasing.canon) / 100.0
        overlap = self._weighted_dice(query, phrasing)
        return 0.4 * min(retrieval, 1.0) + 0.3 * spelling + 0.3 * overlap

    def _weighted_dice(self, query: _Query, phrasing: _Phrasing) -> float:
        words = set(query.words)
        bigrams = set(query.bigrams)
        shared = sum(self._words.idf(t) for t in words & phrasing.words) + sum(
            self._bigrams.idf(t) for t in bigrams & phrasing.bigrams
        )
        total = (
            sum(self._words.idf(t) for t in words | phrasing.words)
            + sum(self._words.idf(t) for t in words & phrasing.words)
            + sum(self._bigrams.idf(t) for t in bigrams | phrasing.bigrams)
            + sum(self._bigrams.idf(t) for t in bigrams & phrasing.bigrams)
        )
        return 2.0 * shared / total if total else 0.0


def _confidence(score: float, runner_up: float) -> float:
    return max(0.0, min(1.0, score))
