"""The key that signs staff sessions and consumer tokens: configured (KEFU_SECRET_KEY, at least
32 bytes, or the process refuses to start), or generated on the first start and kept in the data
folder, readable by its owner only, for every later start."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from kefu.clock import FakeClock
from kefu.settings import Settings, load_or_create_secret_key
from kefu.storage.db import Database
from procs import ServeProcess
from support import free_port, make_shop

SHORT = "only-31-bytes-of-secret-key-xyz"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_configured_secret_key_has_at_least_32_bytes() -> None:
    assert len(SHORT.encode()) == 31
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(secret_key=SHORT)
    assert Settings(secret_key=SHORT + "!").secret_key == SHORT + "!"
    assert Settings(secret_key="密" * 11).secret_key == "密" * 11  # 33 bytes of UTF-8


def test_a_missing_secret_key_is_generated_once_and_readable_by_its_owner_only(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    first = load_or_create_secret_key(data_dir)
    key_file = data_dir / "secret.key"
    assert len(first.encode()) >= 32 and _mode(key_file) == 0o600
    assert load_or_create_secret_key(data_dir) == first
    assert load_or_create_secret_key(tmp_path / "elsewhere") != first
    key_file.chmod(0o644)  # as an older demo wrote it
    assert load_or_create_secret_key(data_dir) == first and _mode(key_file) == 0o600
    key_file.write_text(SHORT)
    with pytest.raises(ValueError, match=r"secret\.key"):
        load_or_create_secret_key(data_dir)
    assert sorted(p.name for p in data_dir.iterdir()) == ["secret.key"]  # no temporary files


def test_kefu_serve_refuses_a_short_secret_key_with_a_clear_message(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "KEFU_SECRET_KEY": SHORT,
        "KEFU_DATA_DIR": str(tmp_path / "data"),
        "KEFU_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'kefu.db'}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "kefu", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "KEFU_SECRET_KEY" in output and "32 bytes" in output, output
    assert "Traceback" not in output and SHORT not in output, output
    assert not (tmp_path / "kefu.db").exists()  # refused before anything else


async def test_kefu_serve_generates_its_key_on_first_start_and_reuses_it(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kefu.db'}"
    data_dir = tmp_path / "data"
    server = ServeProcess(url, secret_key=None, data_dir=data_dir)
    try:
        await server.start()
        key_file = data_dir / "secret.key"
        assert _mode(key_file) == 0o600
        db = Database(url)
        shop = await make_shop(db, clock=FakeClock())
        await db.dispose()
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            issued = await client.post("/api/consumer/session", json={"shop_id": shop.shop_id})
        assert issued.status_code == 200, issued.text
        server.stop()

        await server.start()
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            again = await client.post(
                "/api/consumer/session",
                json={"shop_id": shop.shop_id, "token": issued.json()["token"]},
            )
        assert again.status_code == 200, again.text
        assert again.json()["consumer"] == issued.json()["consumer"]
    finally:
        server.stop()
