"""The bot's question matcher (BOT-5): ranks knowledge-base entries, each a main question plus
any number of alternative phrasings, against a consumer's message, and decides whether it is
sure enough to answer. Every phrasing is a document in four incremental BM25 indexes: jieba
words (shop words kept whole, synonyms folded to one canonical word, particles dropped), the
character bigrams and characters of that canonical text, which survive segmentation slips and
typos, and the toneless pinyin syllable bigrams of that text. Chinese typos are mostly
homophones (包由/包邮), so a message's character pair that no phrasing holds is looked up by
its sound. The 24 best phrasings are reranked with rapidfuzz (near spelling, raw and canonical)
and an IDF-weighted Dice overlap; an entry scores as its best phrasing.

A candidate's confidence is the probability that it is the right answer, on any
knowledge-base size: a logistic model (kefu.bot.confidence_model, data written by `kefu bench
calibrate`) of signals that separate a right top entry from a wrong one. How much of the
message the phrasing lacks and the reverse, each weighted two ways: by jieba's dictionary
frequencies, which mean the same on 20 entries as on 5,000, and by the base's own IDF (a word
one character off counts half when it is a likely typo, not another real word like 退货/换货;
a run of words that is no dictionary word but sounds like a word of the phrasing is read as
that word); spelling similarity; character coverage both ways; the margin to the next entry
and how many entries are near, each also scaled by the base's size; whether the two sides
hold the same words; order (two runs of words exchanged, "A比B好" / "B比A好", and the share of
reversed word triples); a negation on one side only. It is pure: no I/O beyond jieba's and
pypinyin's bundled dictionaries, no clock, no database; callers run it in a thread."""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from kefu.bot import confidence_model
from kefu.bot.index import Bm25Index
from kefu.bot.synonyms import DEFAULT_SYNONYMS, canonical_table
from kefu.bot.text import (
    WordCutter,
    char_ngrams,
    content_words,
    is_word,
    normalise,
    syllable_ngrams,
    syllables,
    word_information,
)

# The signals of one candidate, in EVIDENCE_NAMES order; the model that weighs them is data
# (kefu.bot.confidence_model), written by `kefu bench calibrate`.
EVIDENCE_NAMES = confidence_model.FEATURES
DEFAULT_CONFIDENCE_THRESHOLD = confidence_model.THRESHOLD
Evidence = tuple[float, ...]
# Characters that turn a question around (能/不能, 有/没有).
_NEGATIONS = frozenset("不没无未别非勿")
# A knowledge base this large counts as size 1.0 in the size signal.
_SIZE_SCALE = math.log(5000.0)
_SMALLEST_BASE = 50
# Entries whose score is this close to the best one count as near it.
_NEAR = 0.1
# Order is judged on at most this many shared words (their triples are counted).
_ORDER_WORDS = 12

# A word at least this rare in jieba's dictionary (−log frequency; 发票 12.3, 运费 13.4, 退货
# 14.4, while 什么 6.9, 怎么 7.7, 多久 10.8, 衣服 9.4) names a topic (`Candidate.shares_topic`).
TOPIC_INFORMATION = 11.0

# Weights of the four retrieval channels in the first-stage score.
_WORD_WEIGHT = 0.1
_BIGRAM_WEIGHT = 0.1
_UNIGRAM_WEIGHT = 0.5
_SOUND_WEIGHT = 0.1
# How many phrasings the first stage hands to the rerank.
_RERANK_DEPTH = 24


@dataclass(frozen=True, slots=True)
class Candidate:
    """One ranked knowledge-base entry for a message (BOT-5)."""

    entry_id: int
    score: float
    confidence: float
    matched_question: str
    # Whether the message and the matched phrasing share a topic word (after synonyms and
    # typos): a word as rare in jieba's dictionary as 发票 or 运费, never 什么 or 怎么 (BOT-5).
    shares_topic: bool = False


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
    surface: str
    canon: str
    words: frozenset[str]
    bigrams: frozenset[str]
    order: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Query:
    surface: str
    canon: str
    words: list[str]
    bigrams: list[str]
    unigrams: list[str]
    sounds: list[str]


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
        self._sounds = Bm25Index()
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
            self._sounds.add(doc_id, query.sounds)
            self._phrasings[doc_id] = _Phrasing(
                entry_id,
                question,
                query.surface,
                query.canon,
                frozenset(query.words),
                frozenset(query.bigrams),
                tuple(query.words),
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
            self._sounds.remove(doc_id)
            del self._phrasings[doc_id]

    def match(self, text: str, k: int = 3) -> list[Candidate]:
        """The `k` best entries for `text`, best first, each with its confidence (BOT-5)."""
        return [candidate for candidate, _ in self.scored(text, k)]

    def scored(self, text: str, k: int = 3) -> list[tuple[Candidate, Evidence]]:
        """The `k` best entries with the signals of their confidence, best first (BOT-5)."""
        query = self._prepare(text)
        return [
            (
                Candidate(
                    entry_id=self._phrasings[doc_id].entry_id,
                    score=score,
                    confidence=confidence(evidence),
                    matched_question=self._phrasings[doc_id].question,
                    shares_topic=self._shares_topic(query, self._phrasings[doc_id]),
                ),
                evidence,
            )
            for score, doc_id, evidence in self._ranked(query, k)
        ]

    def evidence(self, text: str, k: int = 3) -> list[tuple[int, Evidence]]:
        """The `k` best entries with the signals of their confidence, for calibration (BOT-5)."""
        query = self._prepare(text)
        return [(self._phrasings[d].entry_id, ev) for _, d, ev in self._ranked(query, k)]

    def _shares_topic(self, query: _Query, phrasing: _Phrasing) -> bool:
        shared = phrasing.words.intersection(self._heard_as(query, phrasing).words)
        return any(_information(word) >= TOPIC_INFORMATION for word in shared)

    def _ranked(self, query: _Query, k: int) -> list[tuple[float, int, Evidence]]:
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
        ranked = sorted(best.values(), key=lambda item: item[0], reverse=True)
        scores = [score for score, _ in ranked]
        return [
            (score, doc_id, self._evidence(query, self._phrasings[doc_id], rank, scores))
            for rank, (score, doc_id) in enumerate(ranked[:k])
        ]

    def answer(self, text: str) -> Decision:
        """Answer with the best entry if confident enough, else not understood (BOT-3, BOT-4)."""
        candidates = tuple(self.match(text, k=3))
        if candidates and candidates[0].confidence >= self.threshold:
            return Decision(candidates[0], candidates[1:])
        return Decision(None, candidates)

    def _prepare(self, text: str) -> _Query:
        words = content_words(self._cutter.cut(text), self._canonical)
        canon = "".join(words)
        return _Query(
            normalise(text),
            canon,
            words,
            char_ngrams(canon, 2),
            list(canon),
            syllable_ngrams(canon, 2),
        )

    def _retrieve(self, query: _Query) -> dict[int, float]:
        scores: defaultdict[int, float] = defaultdict(float)
        # Common terms only refine the pool that rarer ones found; this bounds a query's cost.
        size = len(self._phrasings)
        self._words.accumulate(query.words, scores, _WORD_WEIGHT, max(64, size // 20))
        self._bigrams.accumulate(query.bigrams, scores, _BIGRAM_WEIGHT, max(64, size // 20))
        self._unigrams.accumulate(query.unigrams, scores, _UNIGRAM_WEIGHT, max(32, size // 40))
        # A character pair no phrasing holds is likely a typo: look it up by its sound instead.
        unheard = [
            sound
            for pair, sound in zip(query.bigrams, query.sounds, strict=True)
            if not self._bigrams.df(pair)
        ]
        self._sounds.accumulate(unheard, scores, _SOUND_WEIGHT, max(64, size // 20))
        if len(scores) <= _RERANK_DEPTH:
            return scores
        top = sorted(scores, key=scores.__getitem__, reverse=True)[:_RERANK_DEPTH]
        return {doc_id: scores[doc_id] for doc_id in top}

    def _rerank(self, query: _Query, phrasing: _Phrasing, retrieval: float) -> float:
        spelling = fuzz.ratio(query.canon, phrasing.canon) / 100.0
        surface = fuzz.ratio(query.surface, phrasing.surface) / 100.0
        overlap = self._weighted_dice(query, phrasing)
        return min(retrieval, 0.7) + 0.1 * (spelling + surface + overlap)

    def _heard_as(self, query: _Query, phrasing: _Phrasing) -> _Query:
        # A run of up to three message words that is no dictionary word but sounds like a word
        # of the phrasing that the message lacks is read as that word: 发获 as 发货, 块|递 as
        # 快递. Real words are left alone, so 那个 is not read as 哪个.
        by_sound = {_sound(w): w for w in phrasing.words.difference(query.words)}
        if not by_sound:
            return query
        words = query.words
        heard: list[str] = []
        i = 0
        while i < len(words):
            for n in (3, 2, 1):
                run = words[i : i + n]
                typed = "".join(run)
                if len(run) == n and typed not in phrasing.words and not is_word(typed):
                    word = by_sound.get(" ".join(map(_sound, run)))
                    if word is not None:
                        heard.append(word)
                        i += n
                        break
            else:
                heard.append(words[i])
                i += 1
        if heard == words:
            return query
        return _Query(
            query.surface, query.canon, heard, query.bigrams, query.unigrams, query.sounds
        )

    def _evidence(
        self, query: _Query, phrasing: _Phrasing, rank: int, scores: Sequence[float]
    ) -> Evidence:
        heard = self._heard_as(query, phrasing)
        words = set(heard.words)
        query_only, phrasing_only = words - phrasing.words, phrasing.words - words
        # A word one character away from a word on the other side is likely a typo: half missing.
        query_miss = {t: _miss(t, phrasing_only) for t in query_only}
        phrasing_miss = {t: _miss(t, query_only) for t in phrasing_only}
        idf = self._words.idf
        score = scores[rank]
        others = [s for i, s in enumerate(scores) if i != rank]
        query_chars, phrasing_chars = set(query.canon), set(phrasing.canon)
        shared_chars = len(query_chars & phrasing_chars)
        query_missing_kb = _share(query_miss, words, idf)
        phrasing_missing_kb = _share(phrasing_miss, phrasing.words, idf)
        # Spelling regardless of word order: order has signals of its own below.
        spelling = (
            max(
                fuzz.ratio(heard.surface, phrasing.surface),
                fuzz.ratio(heard.canon, phrasing.canon),
                fuzz.ratio("".join(sorted(heard.words)), "".join(sorted(phrasing.order))),
            )
            / 100.0
        )
        margin = min(1.0, max(-1.0, score - (max(others) if others else 0.0)))
        near = math.log1p(sum(s >= score - _NEAR for s in others))
        # Fitted on 50 to 5,000 entries: a smaller base counts as 50.
        size = math.log(max(len(self._entry_docs), _SMALLEST_BASE)) / _SIZE_SCALE
        same_words = float(max(query_missing_kb, phrasing_missing_kb) < 0.05)
        swapped = _swapped(heard.words, phrasing.order)
        return (
            _share(query_miss, words, _information),
            _share(phrasing_miss, phrasing.words, _information),
            query_missing_kb,
            phrasing_missing_kb,
            spelling,
            shared_chars / (len(query_chars) or 1),
            shared_chars / (len(phrasing_chars) or 1),
            margin,
            near,
            size,
            _order_flip(heard.words, phrasing.order),
            float(_negations(query.canon) != _negations(phrasing.canon)),
            min(len(words), 10) / 10.0,
            margin * size,
            near * size,
            same_words,
            spelling * spelling,
            swapped,
            swapped * same_words,
            float(query_missing_kb < 0.05),
            float(phrasing_missing_kb < 0.05),
            query_missing_kb * phrasing_missing_kb,
        )

    def _weighted_dice(self, query: _Query, phrasing: _Phrasing) -> float:
        word_idf, bigram_idf = self._words.idf, self._bigrams.idf
        shared = sum(map(word_idf, phrasing.words.intersection(query.words))) + sum(
            map(bigram_idf, phrasing.bigrams.intersection(query.bigrams))
        )
        total = (
            sum(map(word_idf, set(query.words)))
            + sum(map(word_idf, phrasing.words))
            + sum(map(bigram_idf, set(query.bigrams)))
            + sum(map(bigram_idf, phrasing.bigrams))
        )
        return 2.0 * shared / total if total else 0.0


def _sound(word: str) -> str:
    return " ".join(syllables(word))


def _miss(word: str, others: Iterable[str]) -> float:
    # Two real words one character apart (退货/换货) differ in meaning; a slip that is no word,
    # or sounds the same (定单/订单), is likely a typo.
    for other in others:
        if (
            len(other) == len(word) > 1
            and sum(a != b for a, b in zip(word, other, strict=True)) == 1
            and (not is_word(word) or not is_word(other) or _sound(word) == _sound(other))
        ):
            return 0.5
    return 1.0


def _share(
    missing: dict[str, float], words: Iterable[str], weight: Callable[[str], float]
) -> float:
    total = sum(weight(t) for t in words)
    return sum(weight(t) * m for t, m in missing.items()) / total if total else 0.0


@functools.lru_cache(maxsize=1 << 16)
def _information(word: str) -> float:
    """How much a word says, from jieba's dictionary frequencies: the same on any knowledge
    base size, where a small base's own document frequencies say little."""
    return word_information(word)


def _negations(text: str) -> int:
    return sum(char in _NEGATIONS for char in text)


def _occurrences(words: Sequence[str]) -> list[tuple[str, int]]:
    seen: dict[str, int] = {}
    tokens = []
    for word in words:
        tokens.append((word, seen.get(word, 0)))
        seen[word] = seen.get(word, 0) + 1
    return tokens


def _swapped(query_words: Sequence[str], phrasing_words: Sequence[str]) -> float:
    """1 when exchanging two non-adjacent runs of shared words puts the message's shared words
    in the phrasing's order: "A比B好" against "B比A好", "詹姆斯·亨利是尤金之子" against
    "尤金是詹姆斯·亨利之子". A moved block ("退货怎么申请" / "怎么申请退货") is no exchange."""
    position = {token: i for i, token in enumerate(_occurrences(phrasing_words))}
    found = [position[t] for t in _occurrences(query_words) if t in position]
    rank = {p: r for r, p in enumerate(sorted(found))}
    seq = [rank[p] for p in found]
    # Runs of words that stay together, in the message's order, named by their first rank.
    starts = [seq[i] for i in range(len(seq)) if i == 0 or seq[i] != seq[i - 1] + 1]
    order = {start: r for r, start in enumerate(sorted(starts))}
    runs = [order[start] for start in starts]
    wrong = [i for i, r in enumerate(runs) if r != i]
    if len(wrong) != 2 or wrong[1] - wrong[0] < 2:
        return 0.0
    i, j = wrong
    return float(runs[i] == j and runs[j] == i)


def _order_flip(query_words: Sequence[str], phrasing_words: Sequence[str]) -> float:
    """Share of shared-word triples whose cyclic order the phrasing reverses: "A比B好" against
    "B比A好" is 1, while a block moved to the front ("退货怎么申请" / "怎么申请退货") is 0."""
    position: dict[str, int] = {}
    for i, word in enumerate(phrasing_words):
        position.setdefault(word, i)
    seq = list(dict.fromkeys(position[w] for w in query_words if w in position))[:_ORDER_WORDS]
    n = len(seq)
    if n < 3:
        return 0.0
    flips = 0
    for i in range(n):
        a = seq[i]
        for j in range(i + 1, n):
            b = seq[j]
            for c in seq[j + 1 :]:
                if not (a < b < c or b < c < a or c < a < b):
                    flips += 1
    return flips / (n * (n - 1) * (n - 2) / 6)


def confidence(
    evidence: Evidence,
    bias: float = confidence_model.BIAS,
    weights: Sequence[float] = confidence_model.WEIGHTS,
) -> float:
    """The calibrated probability that a candidate is the right answer to the message (BOT-5)."""
    z = bias + sum(w * x for w, x in zip(weights, evidence, strict=True))
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
