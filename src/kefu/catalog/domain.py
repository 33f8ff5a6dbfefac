"""The shop's catalog (API-1), its integration tokens (API-2) and the cards that refer to it
(ENTRY-3, MSG-1): pure values and rules, no I/O."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

# API-1: rows are committed in batches, so memory stays bounded whatever the file's length.
IMPORT_BATCH_ROWS = 1000
# The rejected rows an import lists one by one; past this, only their count grows.
MAX_REPORTED_REJECTIONS = 1000
MAX_TOKENS_PER_SHOP = 20
MAX_TOKEN_NAME_CHARS = 50
TOKEN_PREFIX = "kefu_"  # noqa: S105 - the prefix of every token, not a token
SEARCH_PAGE_MAX = 50
MAX_QUERY_CHARS = 100


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    RECEIVED = "received"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


@dataclass(frozen=True, slots=True)
class Product:
    external_id: str
    title: str
    price: str
    image: str = ""
    url: str = ""
    stock: int = 0
    on_sale: bool = True
    id: int = 0


@dataclass(frozen=True, slots=True)
class OrderItem:
    external_id: str
    title: str
    quantity: int
    price: str


@dataclass(frozen=True, slots=True)
class Order:
    order_no: str
    consumer_uid: str
    amount: str
    ordered_at: datetime
    items: tuple[OrderItem, ...] = ()
    status: OrderStatus = OrderStatus.PAID
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    received_at: datetime | None = None
    title: str = ""
    id: int = 0

    @property
    def item_count(self) -> int:
        """ENTRY-3: the order card's item count, the sum of its lines' quantities."""
        return sum(item.quantity for item in self.items)

    @property
    def display_title(self) -> str:
        return self.title or (self.items[0].title if self.items else "")


RejectParams = dict[str, str | int]


@dataclass(frozen=True, slots=True)
class Rejected:
    """A row the import left out: its line in the file (the first line is 1), why as a stable
    code (`field.missing`), and the code's params (`{"field": "title"}`)."""

    line: int
    reason: str
    params: RejectParams = field(default_factory=dict)


@dataclass
class ImportResult:
    imported: int = 0
    updated: int = 0
    rejected_count: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def reject(self, line: int, reason: str, params: RejectParams | None = None) -> None:
        """API-1: every bad row is counted; the first MAX_REPORTED_REJECTIONS are listed."""
        self.rejected_count += 1
        if len(self.rejected) < MAX_REPORTED_REJECTIONS:
            self.rejected.append(Rejected(line, reason, dict(params or {})))


def token_hash(token: str) -> str:
    """API-2: what is stored of a token, and what a presented token is looked up by."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_hint(token: str) -> str:
    """The first characters of a token, so that the owner can tell tokens apart."""
    return token[: len(TOKEN_PREFIX) + 4]


class CardKind(StrEnum):
    PRODUCT_CARD = "product_card"
    ORDER_CARD = "order_card"
    PRODUCT_LINK = "product_link"


def product_card_body(product: Product) -> str:
    """ENTRY-3, MSG-1: a product card or link as stored: link, title, price (from the row)."""
    return json.dumps(
        {
            "product_id": product.external_id,
            "title": product.title,
            "price": product.price,
            "url": product.url,
            "image": product.image,
        },
        ensure_ascii=False,
    )


def order_card_body(order: Order) -> str:
    """ENTRY-3: an order card as stored: number, item count, time and amount (from the row)."""
    return json.dumps(
        {
            "order_no": order.order_no,
            "title": order.display_title,
            "item_count": order.item_count,
            "amount": order.amount,
            "ordered_at": order.ordered_at.isoformat(),
            "status": order.status.value,
        },
        ensure_ascii=False,
    )


def card_summary(kind: CardKind, body: str) -> str:
    """What the bot reads of a card, as if the consumer had typed it (ENTRY-3)."""
    data = json.loads(body)
    if kind is CardKind.ORDER_CARD:
        return f"订单 {data['order_no']} {data['title']}".strip()
    return str(data["title"])
