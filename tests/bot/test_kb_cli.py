"""BOT-2: `kefu kb import` and `kefu kb export` through the same service as the API."""

from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import CliRunner

from kefu.cli import app
from kefu.clock import FakeClock
from kefu.storage.db import Database
from kefu.storage.migrate import upgrade
from support import make_shop


def test_bot_2_kb_cli_imports_reports_rejected_lines_and_exports(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kefu.db'}"
    upgrade(url)

    async def shop() -> int:
        db = Database(url)
        try:
            return (await make_shop(db, clock=FakeClock())).shop_id
        finally:
            await db.dispose()

    shop_id = asyncio.run(shop())
    source = tmp_path / "kb.csv"
    source.write_text(
        "question,answer,phrasings\n多久发货,48小时内,几天发货|什么时候发货\n怎么退货,,\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    args = ["--shop-id", str(shop_id), "--database-url", url]
    imported = runner.invoke(app, ["kb", "import", str(source), *args])
    assert imported.exit_code == 0, imported.output
    assert "imported 1, updated 0" in imported.output
    assert "answer.empty" in imported.output and "3" in imported.output
    target = tmp_path / "out.json"
    exported = runner.invoke(app, ["kb", "export", str(target), "--format", "json", *args])
    assert exported.exit_code == 0, exported.output
    assert "几天发货" in target.read_text(encoding="utf-8")
