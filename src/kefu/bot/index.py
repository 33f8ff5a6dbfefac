"""An incremental BM25 inverted index over short documents (BOT-5): postings, document
frequencies and lengths are updated one document at a time, so adding or removing a phrasing
never rebuilds the index. It scores only documents that share a term with the query and knows
nothing about Chinese, synonyms or entries."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable

K1 = 1.2
B = 0.75


class Bm25Index:
    """Okapi BM25 over integer document ids, updated incrementally (BOT-5)."""

    __slots__ = ("_doc_terms", "_idf_cache", "_lengths", "_postings", "_total_length")

    def __init__(self) -> None:
        self._postings: dict[str, dict[int, int]] = {}
        self._doc_terms: dict[int, Counter[str]] = {}
        self._lengths: dict[int, int] = {}
        self._total_length = 0
        # Any add or remove changes N or a df, so the cache is cleared on every change.
        self._idf_cache: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._lengths)

    def add(self, doc_id: int, terms: Iterable[str]) -> None:
        """Index one document; its id must not be indexed already (BOT-5)."""
        counts = Counter(terms)
        self._idf_cache.clear()
        self._doc_terms[doc_id] = counts
        length = sum(counts.values())
        self._lengths[doc_id] = length
        self._total_length += length
        for term, tf in counts.items():
            self._postings.setdefault(term, {})[doc_id] = tf

    def remove(self, doc_id: int) -> None:
        """Forget one document, updating document frequencies in place (BOT-5)."""
        counts = self._doc_terms.pop(doc_id)
        self._idf_cache.clear()
        self._total_length -= self._lengths.pop(doc_id)
        for term in counts:
            posting = self._postings[term]
            del posting[doc_id]
            if not posting:
                del self._postings[term]

    def idf(self, term: str) -> float:
        """BM25's non-negative inverse document frequency; unseen terms get the largest (BOT-5)."""
        cached = self._idf_cache.get(term)
        if cached is None:
            posting = self._postings.get(term)
            df = len(posting) if posting else 0
            cached = math.log(1.0 + (len(self._lengths) - df + 0.5) / (df + 0.5))
            self._idf_cache[term] = cached
        return cached

    def df(self, term: str) -> int:
        """How many documents hold `term` (BOT-5)."""
        posting = self._postings.get(term)
        return len(posting) if posting else 0

    def terms_of(self, doc_id: int) -> Counter[str]:
        """The term counts a document was indexed with (BOT-5)."""
        return self._doc_terms[doc_id]

    def accumulate(
        self, terms: Iterable[str], scores: defaultdict[int, float], weight: float, max_df: int
    ) -> float:
        """Add weight × BM25 / ideal to `scores` per document; return the ideal (BOT-5).

        The ideal is what a document of average length holding each query term once would
        score, so a full match of the query scores about 1. Terms in more than `max_df`
        documents are stop-like: they do not bring new documents in, they only add to the
        documents already in `scores`, which keeps a query's cost bounded on large bases.
        """
        unique = set(terms)
        if not unique or not self._lengths:
            return 0.0
        weights = {t: self.idf(t) for t in unique}
        ideal = sum(weights.values())
        avg_length = self._total_length / len(self._lengths)
        lengths = self._lengths
        norm_k = K1 * (1.0 - B)
        slope_k = K1 * B / avg_length
        scale = weight * (K1 + 1.0) / ideal
        frequent: list[tuple[dict[int, int], float]] = []
        for term, idf in weights.items():
            posting = self._postings.get(term)
            if not posting:
                continue
            if len(posting) > max_df:
                frequent.append((posting, idf * scale))
                continue
            factor = idf * scale
            for doc_id, tf in posting.items():
                gain = factor * tf / (tf + norm_k + slope_k * lengths[doc_id])
                scores[doc_id] += gain
        for posting, factor in frequent:
            if len(scores) < len(posting):
                hits = [(d, posting[d]) for d in scores if d in posting]
            else:
                hits = [(d, tf) for d, tf in posting.items() if d in scores]
            for doc_id, tf in hits:
                scores[doc_id] += factor * tf / (tf + norm_k + slope_k * lengths[doc_id])
        return ideal
