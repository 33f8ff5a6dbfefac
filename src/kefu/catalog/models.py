"""Response bodies of the catalog's HTTP routes (API-1, API-2), as /openapi.json shows them.
Documentation only: the routes answer with JsonOut, and tests validate answers against these."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from kefu.api.models import Out
from kefu.catalog.domain import Order, OrderStatus, Product
from kefu.storage.catalog import TokenRecord


class CatalogRejectedRowOut(Out):
    """A refused row: its line, a stable code and the code's params (API-1)."""

    line: int
    reason: str = Field(examples=["field.missing"])
    params: dict[str, str | int] = Field(examples=[{"field": "title"}])


class CatalogImportOut(Out):
    imported: int
    updated: int = Field(description="Rows whose external id or order number already existed.")
    rejected_count: int = Field(description="Every bad row; `rejected` lists the first 1,000.")
    rejected: list[CatalogRejectedRowOut]


class CatalogProductOut(Out):
    external_id: str
    title: str
    price: str
    image: str
    url: str
    stock: int
    on_sale: bool


class ProductPageOut(Out):
    items: list[CatalogProductOut]
    total: int


class OrderItemOut(Out):
    external_id: str
    title: str
    quantity: int
    price: str


class CatalogOrderOut(Out):
    order_no: str
    consumer_uid: str
    title: str
    item_count: int
    amount: str
    status: OrderStatus
    items: list[OrderItemOut]
    ordered_at: datetime
    paid_at: datetime | None
    shipped_at: datetime | None
    received_at: datetime | None


class OrderPageOut(Out):
    items: list[CatalogOrderOut]
    total: int


class ApiTokenOut(Out):
    id: int
    name: str
    hint: str = Field(description="The token's first characters, to tell tokens apart.")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiTokenListOut(Out):
    items: list[ApiTokenOut]


class NewApiTokenOut(ApiTokenOut):
    token: str = Field(description="The token itself: shown this once, never again.")


def product_out(p: Product) -> dict[str, object]:
    return {
        "external_id": p.external_id,
        "title": p.title,
        "price": p.price,
        "image": p.image,
        "url": p.url,
        "stock": p.stock,
        "on_sale": p.on_sale,
    }


def order_out(o: Order) -> dict[str, object]:
    return {
        "order_no": o.order_no,
        "consumer_uid": o.consumer_uid,
        "title": o.display_title,
        "item_count": o.item_count,
        "amount": o.amount,
        "status": o.status.value,
        "items": [
            {
                "external_id": i.external_id,
                "title": i.title,
                "quantity": i.quantity,
                "price": i.price,
            }
            for i in o.items
        ],
        "ordered_at": o.ordered_at,
        "paid_at": o.paid_at,
        "shipped_at": o.shipped_at,
        "received_at": o.received_at,
    }


def token_out(r: TokenRecord) -> dict[str, object]:
    return {
        "id": r.id,
        "name": r.name,
        "hint": r.hint,
        "created_at": r.created_at,
        "last_used_at": r.last_used_at,
        "revoked_at": r.revoked_at,
    }
