"""Chinese text preparation for the bot's matcher (BOT-5): normalisation, jieba segmentation with
protected words, stop tokens, character n-grams and toneless pinyin (pypinyin's bundled data,
cached per character). It owns the one shared jieba tokenizer,
loaded lazily and quietly with its cache in the system temp dir; it keeps no per-shop state and
never mutates jieba's dictionary, so two shops' words cannot leak into each other's matching."""

from __future__ import annotations

import functools
import logging
import math
import re
import tempfile
import threading
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

import jieba
from pypinyin import lazy_pinyin

# Characters that users type for one another (old and variant forms, IME slips).
_CHAR_VARIANTS = str.maketrans(
    {
        "帐": "账",
        "麽": "么",
        "劵": "券",
        "妳": "你",
        "唻": "来",
        "囉": "啰",
        "裏": "里",
        "後": "后",
        "麼": "么",
        "為": "为",
        "嗎": "吗",
        "沒": "没",
        "這": "这",
        "個": "个",
        "們": "们",
        "發": "发",
        "貨": "货",
        "號": "号",
    }
)
# Words typed for one another on purpose or by the input method, folded before segmentation.
# 啥 and 咋 are spoken 什么 and 怎么: spelt out, jieba no longer glues them to the word before
# (发啥 as one word would miss 发什么).
_WORD_VARIANTS = {
    "神么": "什么",
    "神马": "什么",
    "什麽": "什么",
    "肿么": "怎么",
    "啥": "什么",
    "咋": "怎么",
}
_VARIANT_WORDS = re.compile("|".join(_WORD_VARIANTS))
_NOT_WORD = re.compile(r"[\W_]+")

# Tokens that carry tone, politeness or grammar but not what the question is about.
STOP_TOKENS: frozenset[str] = frozenset(
    [
        "的",
        "了",
        "吗",
        "呢",
        "啊",
        "呀",
        "吧",
        "哦",
        "哈",
        "啦",
        "嘛",
        "呐",
        "哇",
        "噢",
        "嗯",
        "额",
        "呃",
        "么",
        "之",
        "得",
        "地",
        "着",
        "过",
        "哟",
        "咯",
        "喔",
        "诶",
        "请问",
        "你好",
        "您好",
        "亲",
        "亲亲",
        "亲们",
        "一下",
        "下",
        "麻烦",
        "谢谢",
        "您",
        "在吗",
        "问问",
        "想问",
        "请",
        "问下",
        "问一下",
        "我要",
        "我想",
        "要",
        "是",
        "东西",
        "申请",
        "办理",
        "是不是",
    ]
)
# The purchase is the context of every question a shop is asked: these are cut whole, then
# dropped like stop tokens.
CONTEXT_PHRASES: frozenset[str] = frozenset(
    ["下单后", "付款后", "拍下后", "购买后", "买了以后", "下单以后", "付款以后"]
)
STOP_TOKENS = STOP_TOKENS | CONTEXT_PHRASES
# Who asks is no part of the question: cut whole (else jieba splits 我想退货 as 我|想|退货, and
# 想 counts as a word the entry lacks), then dropped with the stop tokens.
SPEAKER_PHRASES: frozenset[str] = frozenset(["我想", "我要"])
# A yes-no question may end in 不 ("能退不"): there it asks, it does not deny.
_QUESTION_ENDINGS = frozenset(["不", "没", "没有"])

_jieba_lock = threading.Lock()
_jieba_ready = False


def normalise(text: str) -> str:
    """Fold width, case and variant characters so equal questions compare equal (BOT-5)."""
    folded = unicodedata.normalize("NFKC", text).lower().translate(_CHAR_VARIANTS)
    return _VARIANT_WORDS.sub(lambda m: _WORD_VARIANTS[m.group(0)], folded).strip()


def warm_up() -> None:
    """Load jieba's dictionary and pypinyin's tables now (BOT-5). Loading them holds the
    interpreter for up to a second or two even in a worker thread, so a server does it before it
    takes connections, not on a consumer's first question."""
    ensure_jieba()
    syllables("发")


def ensure_jieba() -> None:
    """Load jieba's dictionary once per process, quietly, caching in the temp dir (BOT-5)."""
    global _jieba_ready
    if _jieba_ready:
        return
    with _jieba_lock:
        if _jieba_ready:
            return
        jieba.setLogLevel(logging.WARNING)
        jieba.dt.tmp_dir = tempfile.gettempdir()
        jieba.dt.initialize()
        _jieba_ready = True


class WordCutter:
    """Segments text with jieba while keeping protected words (shop words, synonyms) whole."""

    __slots__ = ("_lengths", "_protected")

    def __init__(self, protected: Iterable[str]) -> None:
        words = {normalise(w) for w in protected} | CONTEXT_PHRASES | SPEAKER_PHRASES
        # Single characters are left to jieba: protecting 能 would split 功能.
        self._protected = frozenset(w for w in words if len(w) > 1)
        self._lengths = sorted({len(w) for w in self._protected}, reverse=True)

    def cut(self, text: str) -> list[str]:
        """Return the words of `text`, already normalised, punctuation dropped (BOT-5)."""
        ensure_jieba()
        words: list[str] = []
        for piece in _NOT_WORD.split(normalise(text)):
            if piece:
                self._cut_piece(piece, words)
        return words

    def _cut_piece(self, piece: str, out: list[str]) -> None:
        # Forward maximum matching of protected words; jieba segments the gaps between them.
        start = gap = 0
        while start < len(piece):
            hit = self._protected_at(piece, start)
            if hit:
                if gap < start:
                    out.extend(_jieba_cut(piece[gap:start]))
                out.append(hit)
                start += len(hit)
                gap = start
            else:
                start += 1
        if gap < len(piece):
            out.extend(_jieba_cut(piece[gap:]))

    def _protected_at(self, piece: str, start: int) -> str:
        for length in self._lengths:
            candidate = piece[start : start + length]
            if len(candidate) == length and candidate in self._protected:
                return candidate
        return ""


def _jieba_cut(piece: str) -> list[str]:
    return [w for w in jieba.dt.lcut(piece, HMM=True) if w.strip()]


def is_word(text: str) -> bool:
    """Whether jieba's dictionary knows `text` as a word (BOT-5)."""
    ensure_jieba()
    return bool(jieba.dt.FREQ.get(text))


def content_words(words: Sequence[str], canonical: Mapping[str, str]) -> list[str]:
    """Map words to their synonym group's canonical word, drop stop tokens and repeats (BOT-5)."""
    if len(words) > 1 and words[-1] in _QUESTION_ENDINGS:
        words = words[:-1]
    mapped = (canonical.get(w, w) for w in words)
    # A word said twice, often two synonyms of it ("不想要了能退"), says nothing more.
    return list(dict.fromkeys(w for w in mapped if w not in STOP_TOKENS))


def char_ngrams(text: str, n: int) -> list[str]:
    """Overlapping character n-grams of `text`; shorter text yields itself (BOT-5)."""
    if len(text) <= n:
        return [text] if text else []
    return [text[i : i + n] for i in range(len(text) - n + 1)]


@functools.lru_cache(maxsize=1 << 16)
def _syllable(char: str) -> str:
    found = lazy_pinyin(char)
    return found[0] if found else char


def syllables(text: str) -> list[str]:
    """Toneless pinyin per character, so homophone typos (包由/包邮) sound alike (BOT-5).

    Characters without a reading (digits, Latin letters) are kept as they are.
    """
    return [_syllable(char) for char in text]


def syllable_ngrams(text: str, n: int) -> list[str]:
    """Overlapping n-grams of `text`'s pinyin syllables, each joined by a space (BOT-5)."""
    sounds = syllables(text)
    if len(sounds) <= n:
        return [" ".join(sounds)] if sounds else []
    return [" ".join(sounds[i : i + n]) for i in range(len(sounds) - n + 1)]


def word_information(word: str) -> float:
    """−log of a word's frequency in jieba's dictionary; words it lacks count as rarest (BOT-5)."""
    ensure_jieba()
    total = jieba.dt.total
    return math.log(total / max(jieba.dt.FREQ.get(word) or 0, 1))
