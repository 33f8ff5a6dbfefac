"""DATA-6: consultation intent. A two-level taxonomy (e.g. 售后 › 退货退款) whose leaves carry
keywords; a conversation's intent is the leaf whose keywords best cover what the consumer
wrote, on the bot's normalised text (variant characters and IME slips folded, so 神么 reads
as 什么). Pure: the caller passes the taxonomy and the consumer's words."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kefu import errors
from kefu.bot.text import normalise

MAX_TOP = 10
MAX_CHILDREN = 20
MAX_KEYWORDS = 40
MAX_NAME_CHARS = 20
MAX_KEYWORD_CHARS = 20
TOP_N = 10
OTHER = ("其他", "其他")
# DATA-6's "dissatisfied": the best rating of the conversation is 1 or 2 stars (不满意).
DISSATISFIED_AT_MOST = 2


@dataclass(frozen=True, slots=True)
class Leaf:
    top: str
    name: str
    keywords: tuple[str, ...]


DEFAULT_TAXONOMY: tuple[dict[str, Any], ...] = (
    {
        "name": "售前",
        "children": [
            {
                "name": "尺码",
                "keywords": [
                    "尺码",
                    "码数",
                    "尺寸",
                    "多大",
                    "偏大",
                    "偏小",
                    "身高",
                    "体重",
                    "穿多大",
                ],
            },
            {
                "name": "库存",
                "keywords": ["有货", "库存", "现货", "没货", "缺货", "补货", "还有吗", "断货"],
            },
            {
                "name": "价格优惠",
                "keywords": [
                    "优惠",
                    "便宜",
                    "价格",
                    "多少钱",
                    "优惠券",
                    "满减",
                    "折扣",
                    "降价",
                    "活动",
                    "保价",
                ],
            },
            {
                "name": "发货时间",
                "keywords": ["发货", "几天发", "什么时候发", "多久发", "能发吗", "今天发"],
            },
            {
                "name": "商品信息",
                "keywords": [
                    "材质",
                    "面料",
                    "颜色",
                    "色差",
                    "成分",
                    "质量怎么样",
                    "正品",
                    "保质期",
                    "产地",
                    "功能",
                ],
            },
        ],
    },
    {
        "name": "售后",
        "children": [
            {
                "name": "退货退款",
                "keywords": [
                    "退货",
                    "退款",
                    "退钱",
                    "不想要",
                    "能退",
                    "七天无理由",
                    "无理由",
                    "退回",
                ],
            },
            {"name": "换货", "keywords": ["换货", "换一个", "换个", "换尺码", "调换", "换码"]},
            {
                "name": "物流",
                "keywords": [
                    "物流",
                    "快递",
                    "到哪",
                    "单号",
                    "签收",
                    "派送",
                    "没收到",
                    "查件",
                    "运单",
                ],
            },
            {
                "name": "质量问题",
                "keywords": [
                    "质量问题",
                    "坏了",
                    "破损",
                    "瑕疵",
                    "开线",
                    "掉色",
                    "不能用",
                    "有问题",
                    "漏",
                ],
            },
            {"name": "发票", "keywords": ["发票", "开票", "专票", "普票", "抬头"]},
        ],
    },
    {
        "name": "投诉",
        "children": [
            {
                "name": "服务投诉",
                "keywords": ["投诉", "态度", "差评", "举报", "骗子", "欺骗", "太差"],
            },
        ],
    },
)


def parse_taxonomy(raw: Sequence[Mapping[str, Any]]) -> tuple[Leaf, ...]:
    """The leaves of a taxonomy in its JSON form, validated: two levels, bounded sizes, names
    unique under their parent, keywords non-empty."""
    if len(raw) > MAX_TOP:
        raise errors.BadInput("Too many top-level intents.", field="taxonomy", max_items=MAX_TOP)
    leaves: list[Leaf] = []
    tops: set[str] = set()
    for node in raw:
        top = _name(node.get("name"))
        if top in tops:
            raise errors.BadInput("An intent is named twice.", field="taxonomy", name=top)
        tops.add(top)
        children = node.get("children") or []
        if not isinstance(children, list) or len(children) > MAX_CHILDREN:
            raise errors.BadInput(
                "Too many second-level intents.", field="taxonomy", max_items=MAX_CHILDREN
            )
        names: set[str] = set()
        for child in children:
            name = _name(child.get("name"))
            if name in names:
                raise errors.BadInput("An intent is named twice.", field="taxonomy", name=name)
            names.add(name)
            leaves.append(Leaf(top, name, _keywords(child.get("keywords"))))
    return tuple(leaves)


def classify(leaves: Sequence[Leaf], texts: Iterable[str]) -> tuple[str, str]:
    """The best leaf for the consumer's texts: each keyword found counts its length (a longer
    keyword is more specific); ties go to the leaf listed first; nothing found is 其他."""
    said = normalise(" ".join(texts))
    best, best_score = OTHER, 0
    for leaf in leaves:
        score = sum(len(k) for k in leaf.keywords if k in said)
        if score > best_score:
            best, best_score = (leaf.top, leaf.name), score
    return best


@dataclass(frozen=True, slots=True)
class IntentRow:
    top: str
    name: str
    conversations: int
    rated: int
    dissatisfied: int
    dissatisfaction_rate: float | None
    contribution: float | None  # its share of all dissatisfied conversations


def intent_table(
    classified: Iterable[tuple[tuple[str, str], int | None]],
) -> list[IntentRow]:
    """Per intent: conversations, dissatisfaction rate among the rated ones, and contribution to
    all dissatisfied conversations. `classified` pairs each conversation's intent with its best
    rating (None when unrated)."""
    volume: Counter[tuple[str, str]] = Counter()
    rated: Counter[tuple[str, str]] = Counter()
    unhappy: Counter[tuple[str, str]] = Counter()
    for intent, stars in classified:
        volume[intent] += 1
        if stars is not None:
            rated[intent] += 1
            unhappy[intent] += stars <= DISSATISFIED_AT_MOST
    total_unhappy = sum(unhappy.values())
    return [
        IntentRow(
            top,
            name,
            volume[(top, name)],
            rated[(top, name)],
            unhappy[(top, name)],
            unhappy[(top, name)] / rated[(top, name)] if rated[(top, name)] else None,
            unhappy[(top, name)] / total_unhappy if total_unhappy else None,
        )
        for top, name in volume
    ]


def top_by_volume(rows: Sequence[IntentRow], n: int = TOP_N) -> list[IntentRow]:
    return sorted(rows, key=lambda r: (-r.conversations, r.top, r.name))[:n]


def top_by_contribution(rows: Sequence[IntentRow], n: int = TOP_N) -> list[IntentRow]:
    hurting = [r for r in rows if r.dissatisfied]
    return sorted(hurting, key=lambda r: (-r.dissatisfied, -r.conversations, r.top, r.name))[:n]


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_CHARS:
        raise errors.BadInput(
            "An intent needs a name of 1 to 20 characters.",
            field="name",
            max_chars=MAX_NAME_CHARS,
        )
    return value.strip()


def _keywords(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or len(value) > MAX_KEYWORDS:
        raise errors.BadInput(
            "A second-level intent needs 1 to 40 keywords.",
            field="keywords",
            max_items=MAX_KEYWORDS,
        )
    words = []
    for word in value:
        if not isinstance(word, str) or not word.strip() or len(word) > MAX_KEYWORD_CHARS:
            raise errors.BadInput(
                "A keyword has 1 to 20 characters.", field="keywords", max_chars=MAX_KEYWORD_CHARS
            )
        words.append(normalise(word.strip()))
    return tuple(dict.fromkeys(words))
