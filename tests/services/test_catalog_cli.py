"""API-1: `kefu import products|orders FILE`, and a file far larger than a batch read in
bounded memory."""

from __future__ import annotations

import asyncio
import io
import tracemalloc
from pathlib import Path

from typer.testing import CliRunner

from kefu.catalog import importer
from kefu.cli import app
from kefu.clock import FakeClock
from kefu.storage import catalog as store
from kefu.storage.db import Database
from kefu.storage.migrate import upgrade
from support import make_shop


def test_api_1_import_command_reports_rejected_lines(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kefu.db'}"
    upgrade(url)

    async def shop() -> int:
        db = Database(url)
        try:
            return (await make_shop(db, clock=FakeClock())).shop_id
        finally:
            await db.dispose()

    shop_id = asyncio.run(shop())
    products = tmp_path / "products.csv"
    products.write_bytes("external_id,title,price\nk1,保温杯,89\nk2,坏行,-1\n".encode("gbk"))
    orders = tmp_path / "orders.json"
    orders.write_text(
        '[{"order_no": "N1", "consumer_uid": "u9", "amount": "89", '
        '"ordered_at": "2026-11-02T00:00:00Z", '
        '"items": [{"external_id": "k1", "title": "保温杯"}]}]'
    )
    runner = CliRunner()
    args = ["--shop-id", str(shop_id), "--database-url", url]
    done = runner.invoke(app, ["import", "products", str(products), *args])
    assert done.exit_code == 0, done.output
    assert "imported 1, updated 0" in done.output and "rejected 1" in done.output
    assert "price: out of range" in done.output  # the code, told in English
    done = runner.invoke(app, ["import", "orders", str(orders), *args])
    assert done.exit_code == 0, done.output
    assert "imported 1" in done.output
    bad = tmp_path / "orders.xml"
    bad.write_text("<orders/>")
    assert runner.invoke(app, ["import", "orders", str(bad), *args]).exit_code == 1

    async def check() -> None:
        db = Database(url)
        try:
            async with db.read() as tx:
                found = await store.product(tx.conn, shop_id, "k1")
                assert found is not None and found.title == "保温杯"
                listed, _ = await store.orders(tx.conn, shop_id, consumer_uid="u9")
                assert [o.order_no for o in listed] == ["N1"]
        finally:
            await db.dispose()

    asyncio.run(check())


def _peak_bytes(kind: importer.Kind, data: bytes, fmt: importer.FileFormat) -> tuple[int, int]:
    """(rows read, peak traced memory) reading every row of `data` (each row is then
    validated on its own, and the service holds one batch of them)."""
    count = 0
    tracemalloc.start()
    try:
        raw = io.BytesIO(data)
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        for _line, _row in importer.rows(kind, fmt, importer.open_text(raw)):
            count += 1
        return count, tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_api_1_rows_are_streamed_in_bounded_memory() -> None:
    rows = 150_000
    csv = "external_id,title,price\n" + "".join(f"s{i},商品{i},{i}.5\n" for i in range(rows))
    json = "[" + ",\n".join(
        f'{{"external_id": "s{i}", "title": "商品{i}", "price": "{i}.5"}}' for i in range(rows)
    ) + "]"  # fmt: skip
    for data, fmt in ((csv.encode(), "csv"), (json.encode(), "json")):
        count, peak = _peak_bytes("products", data, fmt)  # type: ignore[arg-type]
        assert count == rows
        # The file is 4 to 10 MB; reading it holds a few 64 KiB chunks and one batch's rows.
        assert len(data) > 4_000_000
        assert peak < 3_000_000, (fmt, peak, len(data))
