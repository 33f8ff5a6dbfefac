"""Use cases of the catalog: imports of products and orders (API-1), integration tokens
(API-2), product search and order lists, and the cards a chat sends (ENTRY-3, MSG-1).

Imports commit one batch of rows at a time (IMPORT_BATCH_ROWS), so a file of any length is
read in bounded memory; each batch is its own transaction."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

from kefu import errors
from kefu.catalog import importer
from kefu.catalog.domain import (
    IMPORT_BATCH_ROWS,
    MAX_TOKEN_NAME_CHARS,
    MAX_TOKENS_PER_SHOP,
    SEARCH_PAGE_MAX,
    TOKEN_PREFIX,
    CardKind,
    ImportResult,
    Order,
    Product,
    order_card_body,
    product_card_body,
    token_hash,
    token_hint,
)
from kefu.services.access import require_owner
from kefu.services.context import ConsumerActor, Context, Staff
from kefu.storage import catalog as store
from kefu.storage.catalog import TokenRecord


@dataclass(frozen=True, slots=True)
class Integration:
    """A shop's own system, signed in with one of the shop's integration tokens (API-2)."""

    shop_id: int
    token_id: int


Actor = Staff | Integration


def may_import(actor: Actor) -> int:
    """API-1: the owner, or an integration token, imports into the shop; its id."""
    if isinstance(actor, Staff):
        require_owner(actor)
    return actor.shop_id


# --- import (API-1) -------------------------------------------------------------------------


async def import_file(
    ctx: Context,
    actor: Actor,
    *,
    kind: importer.Kind,
    raw: IO[bytes],
    size: int,
    fmt: importer.FileFormat,
    on_rows: Callable[[int], None] | None = None,
) -> ImportResult:
    """API-1: every valid row kept (upserted by external id or order number), every bad one
    reported by line; a file over `import_max_bytes` is refused before any row is read."""
    shop_id = may_import(actor)
    return await import_into(ctx, shop_id, kind=kind, raw=raw, size=size, fmt=fmt, on_rows=on_rows)


async def import_into(
    ctx: Context,
    shop_id: int,
    *,
    kind: importer.Kind,
    raw: IO[bytes],
    size: int,
    fmt: importer.FileFormat,
    on_rows: Callable[[int], None] | None = None,
) -> ImportResult:
    """API-1 for the shop's operator (`kefu import`, the demo's seed): no actor to check."""
    if size > ctx.settings.import_max_bytes:
        raise errors.PayloadTooLarge(
            "The file is too large.", max_bytes=ctx.settings.import_max_bytes, bytes=size
        )
    result = ImportResult()
    text = importer.open_text(raw)
    try:
        for batch in _batches(kind, importer.rows(kind, fmt, text), result):
            await _save(ctx, shop_id, kind, batch, result)
            if on_rows is not None:
                on_rows(len(batch))
    finally:
        text.detach()  # `raw` is the caller's to close
    return result


def _batches(
    kind: importer.Kind, rows: Iterator[tuple[int, object]], result: ImportResult
) -> Iterator[list[Product | Order]]:
    """The valid rows in batches; within a batch the last row of a key wins."""
    batch: dict[str, Product | Order] = {}
    for line, raw in rows:
        try:
            value = importer.parse_row(kind, raw)
        except importer.RowRejected as exc:
            result.reject(line, exc.code, exc.params)
            continue
        batch[value.external_id if isinstance(value, Product) else value.order_no] = value
        if len(batch) >= IMPORT_BATCH_ROWS:
            yield list(batch.values())
            batch = {}
    if batch:
        yield list(batch.values())


async def _save(
    ctx: Context, shop_id: int, kind: importer.Kind, batch: list[Product | Order],
    result: ImportResult,
) -> None:  # fmt: skip
    async with ctx.db.uow() as tx:
        if kind == "products":
            products = [x for x in batch if isinstance(x, Product)]
            inserted, updated = await store.upsert_products(tx.conn, shop_id, products)
        else:
            orders = [x for x in batch if isinstance(x, Order)]
            uids = [o.consumer_uid for o in orders]
            consumers = await store.consumer_ids(tx.conn, shop_id, uids, ctx.clock.now())
            inserted, updated = await store.upsert_orders(tx.conn, shop_id, orders, consumers)
        await tx.commit()
    result.imported += inserted
    result.updated += updated


# --- reads ----------------------------------------------------------------------------------


async def search_products(
    ctx: Context, actor: Actor, *, query: str, page: int, page_size: int
) -> tuple[list[Product], int]:
    """MSG-1: the agent finds the shop's products (title words or external id) to link."""
    page_size = max(1, min(page_size, SEARCH_PAGE_MAX))
    async with ctx.db.read() as tx:
        return await store.search_products(
            tx.conn, actor.shop_id, query.strip(), offset=(page - 1) * page_size, limit=page_size
        )


async def get_product(ctx: Context, actor: Actor | ConsumerActor, external_id: str) -> Product:
    async with ctx.db.read() as tx:
        found = await store.product(tx.conn, actor.shop_id, external_id)
    if found is None:
        raise errors.NotFound(kind="product")
    return found


async def list_orders(
    ctx: Context, actor: Actor, *, consumer_uid: str | None, page: int, page_size: int
) -> tuple[list[Order], int]:
    """API-1: the shop's orders, newest first, optionally one consumer's."""
    page_size = max(1, min(page_size, SEARCH_PAGE_MAX))
    async with ctx.db.read() as tx:
        return await store.orders(
            tx.conn, actor.shop_id, consumer_uid=consumer_uid,
            offset=(page - 1) * page_size, limit=page_size,
        )  # fmt: skip


async def consumer_orders(
    ctx: Context, consumer: ConsumerActor, *, page: int, page_size: int
) -> tuple[list[Order], int]:
    """ENTRY-3: the consumer's own orders in this shop, for the widget's "+" panel."""
    page_size = max(1, min(page_size, SEARCH_PAGE_MAX))
    async with ctx.db.read() as tx:
        return await store.orders(
            tx.conn, consumer.shop_id, consumer_id=consumer.consumer_id,
            offset=(page - 1) * page_size, limit=page_size,
        )  # fmt: skip


# --- cards (ENTRY-3, MSG-1) -----------------------------------------------------------------


async def card_body(ctx: Context, actor: Staff | ConsumerActor, kind: CardKind, ref: str) -> str:
    """ENTRY-3, MSG-1: the body of a card, built from the shop's row `ref` names (a product's
    external id, an order's number), never from what the client says of it. Consumers send
    product and order cards, an order only of their own; agents send product links."""
    is_consumer = isinstance(actor, ConsumerActor)
    if (kind is CardKind.PRODUCT_LINK) == is_consumer:
        raise errors.BadInput("This kind of message cannot be sent here.", kind=kind.value)
    async with ctx.db.read() as tx:
        if kind is CardKind.ORDER_CARD:
            assert isinstance(actor, ConsumerActor)
            order = await store.order(tx.conn, actor.shop_id, ref, consumer_id=actor.consumer_id)
            if order is None:
                raise errors.NotFound(kind="order")
            return order_card_body(order)
        product = await store.product(tx.conn, actor.shop_id, ref)
    if product is None:
        raise errors.NotFound(kind="product")
    return product_card_body(product)


# --- integration tokens (API-2) -------------------------------------------------------------


async def create_token(ctx: Context, staff: Staff, *, name: str) -> tuple[TokenRecord, str]:
    """API-2: a new token for the owner's shop, returned once; only its hash is kept."""
    require_owner(staff)
    name = name.strip()
    if not name or len(name) > MAX_TOKEN_NAME_CHARS:
        raise errors.BadInput("A token needs a name.", field="name", max_chars=MAX_TOKEN_NAME_CHARS)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with ctx.db.uow() as tx:
        await tx.lock_shop(staff.shop_id)
        if await store.active_token_count(tx.conn, staff.shop_id) >= MAX_TOKENS_PER_SHOP:
            raise errors.Conflict(
                "Too many tokens; revoke one first.", code="token.limit",
                max_tokens=MAX_TOKENS_PER_SHOP,
            )  # fmt: skip
        record = await store.add_token(
            tx.conn, staff.shop_id, name=name, token_hash=token_hash(token),
            hint=token_hint(token), created_by=staff.account_id, now=ctx.clock.now(),
        )  # fmt: skip
        await tx.commit()
    return record, token


async def list_tokens(ctx: Context, staff: Staff) -> list[TokenRecord]:
    """API-2: the shop's tokens (never their values)."""
    require_owner(staff)
    async with ctx.db.read() as tx:
        return await store.tokens(tx.conn, staff.shop_id)


async def revoke_token(ctx: Context, staff: Staff, token_id: int) -> None:
    """API-2: the token stops working at once; revoking twice is harmless."""
    require_owner(staff)
    async with ctx.db.uow() as tx:
        if not await store.revoke_token(tx.conn, staff.shop_id, token_id, ctx.clock.now()):
            raise errors.NotFound(kind="token", id=token_id)
        await tx.commit()


async def authenticate_token(ctx: Context, token: str) -> Integration:
    """API-2: the shop a presented token belongs to, unless it is unknown or revoked."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise errors.Unauthenticated("Invalid API token.")
    async with ctx.db.uow() as tx:
        record = await store.token_by_hash(tx.conn, token_hash(token))
        if record is None or record.revoked_at is not None:
            raise errors.Unauthenticated("Invalid API token.")
        await store.touch_token(tx.conn, record.id, ctx.clock.now())
        await tx.commit()
    return Integration(record.shop_id, record.id)
