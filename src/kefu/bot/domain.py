"""The bot's rules that need no I/O: knowledge-base and entry limits (BOT-2, ENTRY-2), when it
hands over (BOT-4) and the statistics formulas (BOT-3, BOT-6); its fixed replies are notices
(kefu.domain.notices). Pure: the services pass in what they loaded; nothing here reads the
database or the clock."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kefu import errors
from kefu.bot.matcher import Candidate
from kefu.bot.text import normalise

MAX_QUESTION_CHARS = 200
MAX_ANSWER_CHARS = 2000
MAX_PHRASINGS = 50
MAX_RELATED = 5
MAX_CATEGORY_CHARS = 50
MAX_SYNONYM_GROUPS = 500
MAX_SYNONYM_WORDS = 20
MAX_WORD_CHARS = 20
MAX_USER_WORDS = 2000
MAX_FAQ_TOP = 3
MAX_FAQ_CHILDREN = 5
MAX_BOT_CARDS = 4
MAX_CONSUMER_PHRASES = 10
MAX_TITLE_CHARS = 30
MAX_PHRASE_CHARS = 50
MAX_WELCOME_CHARS = 500
MAX_STATS_DAYS = 31
MAX_IMPORT_BYTES = 10 * 1024 * 1024

# Below the answering threshold, a candidate this likely to be right is still worth offering
# as "did you mean" (BOT-5): paraphrases ranked first but unanswered land at 0.33–0.42 on the
# shop paraphrase set, unrelated chatter at 0.05–0.18 (0.27 when the base has one question).
SUGGEST_FLOOR = 0.3
# A candidate that shares a topic word with the message (运费, 发票: `Candidate.shares_topic`)
# is plausibly related from this lower floor: "运费" alone offers 运费多少 (0.22) and
# 退货运费谁出 (0.14) on the demo base, while chatter that shares only 什么 or 怎么 is not.
RELATED_FLOOR = 0.1
MAX_SUGGESTIONS = 3
HANDOVER_AFTER_MISSES = 2


def suggested_ids(candidates: Sequence[Candidate]) -> list[int]:
    """BOT-5: the near misses worth offering as "did you mean", best first: the best three of
    those at least SUGGEST_FLOOR likely to be right, or RELATED_FLOOR when they share a topic
    word with the message."""
    return [
        c.entry_id
        for c in candidates
        if c.confidence >= SUGGEST_FLOOR or (c.shares_topic and c.confidence >= RELATED_FLOOR)
    ][:MAX_SUGGESTIONS]


# What consumers type when they want a person (BOT-4); folded like the matcher folds text.
_HUMAN_REQUESTS = frozenset(
    normalise(t)
    for t in (
        "人工",
        "转人工",
        "人工客服",
        "转人工客服",
        "找人工",
        "真人",
        "真人客服",
        "我要人工",
        "我要转人工",
        "要人工",
        "客服",
        "找客服",
        "人工服务",
    )
)


@dataclass(frozen=True, slots=True)
class QuestionDraft:
    """A knowledge-base entry as written by the owner or an import file (BOT-2)."""

    question: str
    answer: str
    phrasings: tuple[str, ...] = ()
    related_ids: tuple[int, ...] = ()
    category_id: int | None = None


def _text(value: str, field_name: str, max_chars: int, *, required: bool = True) -> str:
    if "\x00" in value:
        raise errors.BadInput(
            "Text may not contain NUL characters.", field=field_name, problem="nul"
        )
    value = value.strip()
    if required and not value:
        raise errors.BadInput("This field cannot be empty.", field=field_name, problem="empty")
    if len(value) > max_chars:
        raise errors.BadInput(
            "The text is too long.",
            field=field_name,
            problem="too_long",
            max_chars=max_chars,
            chars=len(value),
        )
    return value


def _count(items: Sequence[object], field_name: str, max_items: int) -> None:
    if len(items) > max_items:
        raise errors.BadInput(
            "Too many items.",
            field=field_name,
            problem="too_many",
            max_items=max_items,
            items=len(items),
        )


def check_question(draft: QuestionDraft, *, own_id: int | None = None) -> QuestionDraft:
    """BOT-2: question ≤ 200 characters, answer 1–2,000, ≤ 50 phrasings, ≤ 5 related."""
    question = _text(draft.question, "question", MAX_QUESTION_CHARS)
    answer = _text(draft.answer, "answer", MAX_ANSWER_CHARS)
    _count(draft.phrasings, "phrasings", MAX_PHRASINGS)
    phrasings = tuple(
        dict.fromkeys(
            p
            for p in (_text(p, "phrasings", MAX_QUESTION_CHARS) for p in draft.phrasings)
            if p != question
        )
    )
    related = tuple(dict.fromkeys(r for r in draft.related_ids if r != own_id))
    _count(related, "related_ids", MAX_RELATED)
    return QuestionDraft(question, answer, phrasings, related, draft.category_id)


def check_category_name(name: str) -> str:
    """BOT-2: a category has a name of 1–50 characters."""
    return _text(name, "name", MAX_CATEGORY_CHARS)


def check_synonyms(
    groups: Sequence[Sequence[str]], user_words: Sequence[str]
) -> tuple[list[list[str]], list[str]]:
    """BOT-5: a shop's own synonym groups (≤ 500, 2–20 words each) and protected words."""
    _count(groups, "groups", MAX_SYNONYM_GROUPS)
    _count(user_words, "user_words", MAX_USER_WORDS)
    clean_groups = []
    for group in groups:
        words = list(dict.fromkeys(_text(w, "groups", MAX_WORD_CHARS) for w in group))
        _count(words, "groups", MAX_SYNONYM_WORDS)
        if len(words) < 2:
            raise errors.BadInput(
                "A synonym group needs two different words.", field="groups", problem="too_few"
            )
        clean_groups.append(words)
    words = list(dict.fromkeys(_text(w, "user_words", MAX_WORD_CHARS) for w in user_words))
    return clean_groups, words


def asks_for_human(text: str) -> bool:
    """BOT-4: the consumer typed a request for a person ("转人工") rather than a question."""
    return normalise(text) in _HUMAN_REQUESTS


def consecutive_misses(kinds_newest_first: Iterable[str]) -> int:
    """BOT-4: how many of the bot's latest verdicts in a row were misses."""
    count = 0
    for kind in kinds_newest_first:
        if kind != "bot_miss":
            break
        count += 1
    return count


@dataclass(frozen=True, slots=True)
class MenuItem:
    id: str
    title: str
    question_id: int | None = None
    children: tuple[MenuItem, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Entry:
    """ENTRY-2: what a consumer sees on arrival."""

    welcome_message: str
    faq_menu: tuple[MenuItem, ...]
    bot_cards: tuple[MenuItem, ...]
    consumer_phrases: tuple[str, ...]

    def question_ids(self) -> set[int]:
        found = {c.question_id for top in self.faq_menu for c in top.children}
        found |= {c.question_id for c in self.bot_cards}
        found |= {top.question_id for top in self.faq_menu}
        return {q for q in found if q is not None}

    def item(self, item_id: str) -> MenuItem | None:
        for top in self.faq_menu:
            if top.id == item_id:
                return top
            for child in top.children:
                if child.id == item_id:
                    return child
        for card in self.bot_cards:
            if card.id == item_id:
                return card
        return None

    def items(self) -> list[MenuItem]:
        out: list[MenuItem] = []
        for top in self.faq_menu:
            out += [top, *top.children]
        return out + list(self.bot_cards)


def check_entry(entry: Entry) -> Entry:
    """ENTRY-2: 3 top-level FAQ questions × 5 children, 4 bot cards, 10 consumer phrases,
    titles ≤ 30 characters, phrases ≤ 50."""
    _count(entry.faq_menu, "faq_menu", MAX_FAQ_TOP)
    for top in entry.faq_menu:
        _count(top.children, "faq_menu.children", MAX_FAQ_CHILDREN)
    _count(entry.bot_cards, "bot_cards", MAX_BOT_CARDS)
    _count(entry.consumer_phrases, "consumer_phrases", MAX_CONSUMER_PHRASES)

    def item(i: MenuItem, name: str) -> MenuItem:
        children = tuple(item(c, name + ".children") for c in i.children)
        return MenuItem(
            i.id, _text(i.title, name + ".title", MAX_TITLE_CHARS), i.question_id, children
        )

    return Entry(
        _text(entry.welcome_message, "welcome_message", MAX_WELCOME_CHARS),
        tuple(item(i, "faq_menu") for i in entry.faq_menu),
        tuple(item(i, "bot_cards") for i in entry.bot_cards),
        tuple(_text(p, "consumer_phrases", MAX_PHRASE_CHARS) for p in entry.consumer_phrases),
    )


def rate(numerator: int, denominator: int) -> float | None:
    """A ratio for BOT-3/BOT-6, or None when nothing was counted (not 0 %)."""
    return numerator / denominator if denominator else None
