"""History search rules (DATA-5): what a search may ask for, its limits, the page cursor and the
snippets shown around the words found. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kefu import errors

MAX_QUERY_CHARS = 100  # the words, all together
MAX_WORDS = 5
MIN_WORD_CHARS = 2  # one Chinese character alone matches too much to be a search
MAX_CONSUMER_CHARS = 64  # a UID, or part of a nickname
MAX_PAGE_SIZE = 50
DEFAULT_PAGE_SIZE = 20
MATCHES_PER_CONVERSATION = 3
SNIPPET_CHARS = 60


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A validated search: every condition optional, all of them must hold."""

    words: tuple[str, ...] = ()
    agent_id: int | None = None
    consumer: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    cursor: int | None = None
    page_size: int = DEFAULT_PAGE_SIZE


def parse_words(text: str | None) -> tuple[str, ...]:
    """The words of a query: separated by white space, each searched as typed (any substring
    of a message, so however a segmenter would split the message)."""
    if text is None:
        return ()
    if "\x00" in text:
        raise errors.BadInput("NUL characters are not allowed.", field="q")
    if len(text) > MAX_QUERY_CHARS:
        raise errors.BadInput("The search text is too long.", field="q", max_length=MAX_QUERY_CHARS)
    words = tuple(dict.fromkeys(text.split()))
    if len(words) > MAX_WORDS:
        raise errors.BadInput("Too many words.", field="q", max_words=MAX_WORDS)
    if any(len(w) < MIN_WORD_CHARS for w in words):
        raise errors.BadInput(
            "Each word needs at least 2 characters.", field="q", min_length=MIN_WORD_CHARS
        )
    return words


def make_query(
    *,
    q: str | None,
    agent_id: int | None = None,
    consumer: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> SearchQuery:
    words = parse_words(q)
    if consumer is not None:
        consumer = consumer.strip()
        if "\x00" in consumer:
            raise errors.BadInput("NUL characters are not allowed.", field="consumer")
        if len(consumer) > MAX_CONSUMER_CHARS:
            raise errors.BadInput(
                "The consumer is too long.", field="consumer", max_length=MAX_CONSUMER_CHARS
            )
        consumer = consumer or None
    if since is not None and until is not None and since >= until:
        raise errors.BadInput("The time range ends before it starts.", field="until")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise errors.BadInput("Bad page size.", field="page_size", max=MAX_PAGE_SIZE)
    return SearchQuery(
        words, agent_id, consumer, since, until, decode_cursor(cursor, words), page_size
    )


def encode_cursor(last_id: int, words: tuple[str, ...]) -> str:
    """Keyset pagination: the next page starts below the last id of this one (a message id
    when searching words, else a conversation id); the prefix tells which."""
    return f"{'m' if words else 'c'}{last_id}"


def decode_cursor(cursor: str | None, words: tuple[str, ...]) -> int | None:
    if not cursor:
        return None
    prefix, digits = cursor[:1], cursor[1:]
    if prefix != ("m" if words else "c") or not digits.isdigit() or len(digits) > 18:
        raise errors.BadInput("Bad cursor.", field="cursor")
    return int(digits)


@dataclass(frozen=True, slots=True)
class Snippet:
    """Part of a message around the words found. `highlights` are [start, end) offsets in
    `text`; clients mark them as plain text, never as HTML."""

    text: str
    highlights: tuple[tuple[int, int], ...]
    cut_before: bool
    cut_after: bool


def _spans(body: str, words: tuple[str, ...]) -> list[tuple[int, int]]:
    folded = body.lower() if len(body.lower()) == len(body) else body
    found: list[tuple[int, int]] = []
    for word in words:
        w = word.lower() if folded is not body else word
        start = folded.find(w)
        while start >= 0 and w:
            found.append((start, start + len(w)))
            start = folded.find(w, start + len(w))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(found):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def snippet(body: str, words: tuple[str, ...], width: int = SNIPPET_CHARS) -> Snippet:
    """A window of about `width` characters of `body`, starting a little before the first
    word found (the whole message when short enough)."""
    spans = _spans(body, words)
    if len(body) <= width:
        return Snippet(body, tuple(spans), False, False)
    first = spans[0][0] if spans else 0
    start = max(0, min(first - width // 4, len(body) - width))
    end = start + width
    inside = tuple(
        (max(s, start) - start, min(e, end) - start) for s, e in spans if s < end and e > start
    )
    return Snippet(body[start:end], inside, start > 0, end < len(body))
