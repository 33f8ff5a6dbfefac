"""API-1 imports and API-2 tokens through the catalog's use cases, on a real database."""

from __future__ import annotations

import io
import json

import pytest

from kefu import errors
from kefu.catalog import service
from kefu.catalog.domain import IMPORT_BATCH_ROWS
from kefu.catalog.importer import FileFormat, Kind
from kefu.clock import FakeClock
from kefu.domain.presence import Role
from kefu.services.context import Context, Staff
from kefu.storage import catalog as store
from support import make_shop

PRODUCTS_CSV = (
    "external_id,title,price,stock,on_sale,url\n"
    "p1,羽绒服,399,10,true,https://shop.example/p1\n"
    "p2,,12.00,1,true,\n"  # line 3: no title
    "p3,耳机,abc,1,true,\n"  # line 4: not a price
    "p4,绿茶,128.5,0,false,javascript:alert(1)\n"  # line 5: unsafe link
    'p5,"多行\n标题",5,2,1,/p5\n'  # lines 6-7: a quoted newline
    "p6,水杯,89,-1,true,\n"  # line 8: negative stock
)


def _owner(shop_id: int, account_id: int) -> Staff:
    return Staff(account_id=account_id, shop_id=shop_id, role=Role.OWNER, group_id=None)


async def _import(
    ctx: Context, actor: service.Actor, kind: Kind, data: bytes, fmt: FileFormat
) -> service.ImportResult:
    return await service.import_file(
        ctx, actor, kind=kind, raw=io.BytesIO(data), size=len(data), fmt=fmt
    )


@pytest.fixture
async def shop(ctx: Context) -> tuple[int, Staff]:
    ids = await make_shop(ctx.db, clock=ctx.clock)  # type: ignore[arg-type]
    return ids.shop_id, _owner(ids.shop_id, ids.accounts["owner"])


async def test_api_1_csv_keeps_good_rows_and_reports_bad_ones_by_line(
    ctx: Context, shop: tuple[int, Staff]
) -> None:
    shop_id, owner = shop
    result = await _import(ctx, owner, "products", PRODUCTS_CSV.encode(), "csv")
    assert (result.imported, result.updated) == (2, 0)
    assert [r.line for r in result.rejected] == [3, 4, 5, 8]
    assert [(r.reason, r.params) for r in result.rejected] == [
        ("field.missing", {"field": "title"}),
        ("field.not_number", {"field": "price"}),
        ("field.link", {"field": "url"}),
        ("field.out_of_range", {"field": "stock", "min": 0}),
    ]
    async with ctx.db.read() as tx:
        items, total = await store.search_products(tx.conn, shop_id, "", offset=0, limit=10)
    assert total == 2
    assert [(p.external_id, p.price, p.title) for p in items] == [
        ("p1", "399.00", "羽绒服"),
        ("p5", "5.00", "多行\n标题"),
    ]
    again = await _import(ctx, owner, "products", b"external_id,title,price\np1,New,1\n", "csv")
    assert (again.imported, again.updated) == (0, 1)


async def test_api_1_gbk_file_is_read_as_chinese(ctx: Context, shop: tuple[int, Staff]) -> None:
    shop_id, owner = shop
    data = "external_id,title,price\ng1,纯棉四件套 简约条纹,229\n".encode("gbk")
    result = await _import(ctx, owner, "products", data, "csv")
    assert result.imported == 1, result.rejected
    async with ctx.db.read() as tx:
        found = await store.product(tx.conn, shop_id, "g1")
    assert found is not None and found.title == "纯棉四件套 简约条纹"


async def test_api_1_utf8_bom_json_orders_create_their_consumers(
    ctx: Context, shop: tuple[int, Staff]
) -> None:
    shop_id, owner = shop
    rows = [
        {
            "order_no": "D1",
            "consumer_uid": "buyer-1",
            "amount": "30.00",
            "ordered_at": "2026-11-01T08:00:00+08:00",
            "status": "shipped",
            "items": [{"title": "茶", "quantity": 2, "price": "10"}, {"title": "杯", "price": 10}],
        },
        {"order_no": "D2", "consumer_uid": "buyer-1", "amount": "1", "ordered_at": "yesterday"},
        "not an object",
    ]
    text = json.dumps(rows, ensure_ascii=False, indent=1)
    lines = text.splitlines()
    # The line where each bad row starts: D2's opening brace, and the string.
    expected = [lines.index('  "order_no": "D2",'), lines.index(' "not an object"') + 1]
    result = await _import(ctx, owner, "orders", b"\xef\xbb\xbf" + text.encode(), "json")
    assert result.imported == 1
    assert [r.line for r in result.rejected] == expected
    assert (result.rejected[0].reason, result.rejected[0].params) == (
        "field.not_datetime",
        {"field": "ordered_at"},
    )
    assert result.rejected[1].reason == "row.not_an_object"
    async with ctx.db.read() as tx:
        orders, total = await store.orders(tx.conn, shop_id, consumer_uid="buyer-1")
    assert total == 1
    assert (orders[0].order_no, orders[0].item_count, orders[0].status.value) == (
        "D1",
        3,
        "shipped",
    )


async def test_api_1_file_over_the_limit_is_refused_with_nothing_changed(
    ctx: Context, shop: tuple[int, Staff]
) -> None:
    shop_id, owner = shop
    data = PRODUCTS_CSV.encode()
    ctx.settings = ctx.settings.model_copy(update={"import_max_bytes": len(data) - 1})
    with pytest.raises(errors.PayloadTooLarge):
        await _import(ctx, owner, "products", data, "csv")
    async with ctx.db.read() as tx:
        assert (await store.search_products(tx.conn, shop_id, "", offset=0, limit=10))[1] == 0


async def test_api_1_large_file_is_committed_in_batches(
    ctx: Context, shop: tuple[int, Staff]
) -> None:
    shop_id, owner = shop
    count = IMPORT_BATCH_ROWS * 2 + 5
    lines = "".join(f"x{i},商品{i},{i}.00\n" for i in range(count))
    seen: list[int] = []
    data = ("external_id,title,price\n" + lines).encode()
    result = await service.import_file(
        ctx, owner, kind="products", raw=io.BytesIO(data), size=len(data), fmt="csv",
        on_rows=seen.append,
    )  # fmt: skip
    assert result.imported == count
    assert seen == [IMPORT_BATCH_ROWS, IMPORT_BATCH_ROWS, 5]
    async with ctx.db.read() as tx:
        assert (await store.search_products(tx.conn, shop_id, "商品7", offset=0, limit=1))[1] > 0


async def test_api_1_only_the_owner_imports(ctx: Context, shop: tuple[int, Staff]) -> None:
    shop_id, owner = shop
    agent = Staff(account_id=owner.account_id, shop_id=shop_id, role=Role.AGENT, group_id=None)
    with pytest.raises(errors.Forbidden):
        await _import(ctx, agent, "products", PRODUCTS_CSV.encode(), "csv")


async def test_api_2_token_is_stored_hashed_works_and_stops_when_revoked(
    ctx: Context, shop: tuple[int, Staff]
) -> None:
    shop_id, owner = shop
    record, token = await service.create_token(ctx, owner, name="ERP")
    assert token.startswith("kefu_") and len(token) > 40
    async with ctx.db.read() as tx:
        assert await store.token_by_hash(tx.conn, token) is None  # never stored in clear
    actor = await service.authenticate_token(ctx, token)
    assert actor == service.Integration(shop_id, record.id)
    result = await _import(ctx, actor, "products", b"external_id,title,price\nt1,T,1\n", "csv")
    assert result.imported == 1
    await service.revoke_token(ctx, owner, record.id)
    with pytest.raises(errors.Unauthenticated):
        await service.authenticate_token(ctx, token)
    listed = await service.list_tokens(ctx, owner)
    assert [(t.id, t.revoked_at is not None) for t in listed] == [(record.id, True)]


async def test_api_2_tokens_are_the_owners_and_shop_scoped(ctx: Context) -> None:
    clock = FakeClock()
    a = await make_shop(ctx.db, name="A", clock=clock)
    b = await make_shop(ctx.db, name="B", clock=clock)
    owner_a, owner_b = (
        _owner(a.shop_id, a.accounts["owner"]),
        _owner(b.shop_id, b.accounts["owner"]),
    )
    record, _ = await service.create_token(ctx, owner_b, name="B's")
    with pytest.raises(errors.NotFound):
        await service.revoke_token(ctx, owner_a, record.id)
    supervisor = Staff(account_id=1, shop_id=a.shop_id, role=Role.SUPERVISOR, group_id=None)
    with pytest.raises(errors.Forbidden):
        await service.create_token(ctx, supervisor, name="x")
