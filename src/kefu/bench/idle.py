"""`kefu bench idle`: the memory an idle socket costs a `kefu serve` process, against a bare
socket on the same server stack, with and without permessage-deflate.

Each measurement has a server process of its own (kefu's consumers, kefu's staff, the bare
sockets; memory that one kind's sockets freed would otherwise be reused by the next), all on
one fresh SQLite file. The consumers authenticate (a
consumer session, then the `auth` frame) and wait; the staff log in (one seeded agent each) and
wait; the bare server (a Starlette app in this module under uvicorn, as kefu runs) accepts a
socket and waits on it. A socket's cost is the growth of the server's resident memory from
before the sockets opened to after they all answered and the server settled, divided by their
number. Each server first opens and closes a few sockets of each kind so that the code they run
is loaded before the first reading. Clients offer permessage-deflate only in the deflate runs;
the servers accept it only there (KEFU_WS_PER_MESSAGE_DEFLATE).

Figures: `consumer_kib`, `staff_kib`, `bare_kib` per socket without compression and the same
with `_deflate`; `consumer_ratio` is kefu's consumer KiB over the bare KiB with the same
compression setting (`staff_ratio`, `consumer_deflate_ratio`, `staff_deflate_ratio` alike).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

import httpx
import orjson
import typer
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from kefu.bench.common import (
    BENCH_PASSWORD,
    emit_json,
    free_port,
    print_table,
    progress,
    seed_shop,
    serving,
)
from kefu.clock import SystemClock
from kefu.settings import RATE_LIMITS
from kefu.storage.db import Database

OPEN_CONCURRENCY = 50
# Every login from one address counts as a failure until it succeeds (ACCT-4's delays): logins
# from the bench's single address go one at a time, as the gateway bench's do.
LOGIN_CONCURRENCY = 1

Compression = Literal["deflate"] | None


def command(
    consumers: int = typer.Option(1000, "--consumers", min=10, help="Idle consumer sockets."),
    staff: int = typer.Option(200, "--staff", min=10, help="Idle staff sockets."),
    warm_up: int = typer.Option(20, "--warm-up", min=1, help="Sockets opened before measuring."),
    settle_s: float = typer.Option(1.5, "--settle-s", min=0.0, help="Wait before each reading."),
    as_json: bool = typer.Option(False, "--json", help="End with one JSON line."),
) -> None:
    """Memory per idle consumer and staff socket against a bare socket, with and without
    permessage-deflate."""
    figures = asyncio.run(benchmark(consumers=consumers, staff=staff, pace=Pace(warm_up, settle_s)))
    print_table(
        "kefu bench idle",
        figures,
        caption=f"{consumers} consumer and {staff} staff sockets; KiB of resident memory each",
    )
    if as_json:
        emit_json(figures)


@dataclass(frozen=True, slots=True)
class Pace:
    warm_up: int  # sockets opened and closed before the first reading
    settle_s: float  # wait before each reading


async def benchmark(*, consumers: int, staff: int, pace: Pace) -> dict[str, float | int | str]:
    figures: dict[str, float | int | str] = {"consumers": consumers, "staff": staff}
    with tempfile.TemporaryDirectory(prefix="kefu-bench-idle-") as tmp_name:
        tmp = Path(tmp_name)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KEFU_")},
            "KEFU_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'kefu.db'}",
            "KEFU_SECRET_KEY": secrets.token_urlsafe(24),
            "KEFU_DATA_DIR": str(tmp),
            "KEFU_ALLOW_STAFF_SOCKETS_WITHOUT_ORIGIN": "1",
            # Every client comes from this machine's address.
            **{f"KEFU_RATE_{name.upper()}": "off" for name in RATE_LIMITS},
        }
        progress.print("idle: migrating")
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "kefu", "migrate"],
            env=env,
            check=True,
            capture_output=True,
        )
        database = Database(env["KEFU_DATABASE_URL"])
        try:
            shop = await seed_shop(
                database, agents=staff + pace.warm_up, limit=1, now=SystemClock().now()
            )
        finally:
            await database.dispose()
        usernames = [name for _, name in shop.agents[0]]
        for compression in (None, "deflate"):
            suffix = "" if compression is None else "_deflate"
            run_env = {**env, "KEFU_WS_PER_MESSAGE_DEFLATE": "1" if compression else "0"}
            # A fresh process for each kind: memory freed by one kind's sockets would be
            # reused by the next, which would then look free.
            progress.print(f"idle: kefu serve{suffix}, {consumers} consumer sockets")
            figures[f"consumer_kib{suffix}"] = await _per_socket(
                pace, _kefu_command, run_env, tmp / f"consumers{suffix}.log", consumers,
                partial(_consumer, shop_id=shop.shop_id, compression=compression),
            )  # fmt: skip
            progress.print(f"idle: kefu serve{suffix}, {staff} staff sockets")
            names = list(usernames)  # the warm-up takes some, the measure the rest
            figures[f"staff_kib{suffix}"] = await _per_socket(
                pace, _kefu_command, run_env, tmp / f"staff{suffix}.log", staff,
                partial(_staff, shop_id=shop.shop_id, names=names, compression=compression),
                concurrency=LOGIN_CONCURRENCY,
            )  # fmt: skip
            progress.print(f"idle: bare socket{suffix}, {consumers} sockets")
            figures[f"bare_kib{suffix}"] = await _per_socket(
                pace, partial(_bare_command, compression=compression), run_env,
                tmp / f"bare{suffix}.log", consumers, partial(_bare, compression=compression),
            )  # fmt: skip
    for kind in ("consumer", "staff"):
        for suffix in ("", "_deflate"):
            bare_kib = float(figures[f"bare_kib{suffix}"])
            own = float(figures[f"{kind}_kib{suffix}"])
            figures[f"{kind}{suffix}_ratio"] = own / bare_kib if bare_kib > 0 else 0.0
    return figures


async def _per_socket(
    pace: Pace,
    command: Callable[[int], list[str]],
    env: dict[str, str],
    log: Path,
    count: int,
    open_one: Callable[..., Awaitable[ClientConnection]],
    *,
    concurrency: int = OPEN_CONCURRENCY,
) -> float:
    """Start a server, warm it up, then measure `count` sockets opened by `open_one(base=…)`."""
    port = free_port()
    async with serving(command(port), port, env, log) as pid:
        opener = partial(open_one, base=f"http://127.0.0.1:{port}")
        warm = await _open(pace.warm_up, opener, concurrency)
        await asyncio.gather(*(ws.close() for ws in warm), return_exceptions=True)
        await asyncio.sleep(pace.settle_s)
        before = _rss_kib(pid)
        sockets = await _open(count, opener, concurrency)
        await asyncio.sleep(pace.settle_s)
        after = _rss_kib(pid)
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        return (after - before) / count


def _kefu_command(port: int) -> list[str]:
    return [sys.executable, "-m", "kefu", "serve", "--port", str(port)]


def _bare_command(port: int, *, compression: Compression) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "--factory", f"{__name__}:create_bare_app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        *([] if compression else ["--ws-per-message-deflate", "false"]),
    ]  # fmt: skip


async def _open(
    count: int, open_one: Callable[[], Awaitable[ClientConnection]], concurrency: int
) -> list[ClientConnection]:
    gate = asyncio.Semaphore(concurrency)

    async def one() -> ClientConnection:
        async with gate:
            return await open_one()

    return await asyncio.gather(*(one() for _ in range(count)))


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


async def _consumer(*, base: str, shop_id: int, compression: Compression) -> ClientConnection:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        session = await http.post("/api/consumer/session", json={"shop_id": shop_id})
        session.raise_for_status()
    ws = await connect(
        base.replace("http", "ws", 1) + "/ws/consumer", compression=compression, open_timeout=60
    )
    token = session.json()["token"]
    await ws.send(orjson.dumps({"type": "auth", "shop_id": shop_id, "token": token}).decode())
    await _until_ready(ws)
    return ws


async def _staff(
    *, base: str, shop_id: int, names: list[str], compression: Compression
) -> ClientConnection:
    username = names.pop()
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        login = await http.post(
            "/api/auth/login",
            # take_over: the deflate run logs the same accounts in again (ACCT-4).
            json={
                "shop_id": shop_id,
                "username": username,
                "password": BENCH_PASSWORD,
                "take_over": True,
            },
        )
        if login.status_code != 200:
            raise RuntimeError(f"login of {username}: {login.status_code} {login.text}")
        cookie = http.cookies["kefu_session"]
    ws = await connect(
        base.replace("http", "ws", 1) + "/ws/staff",
        additional_headers={"Cookie": f"kefu_session={cookie}"},
        origin=Origin(base),
        compression=compression,
        open_timeout=60,
    )
    await _until_ready(ws)
    return ws


async def _until_ready(ws: ClientConnection) -> None:
    async with asyncio.timeout(60):
        while orjson.loads(await ws.recv()).get("type") != "ready":
            pass


async def _bare(*, base: str, compression: Compression) -> ClientConnection:
    url = base.replace("http", "ws", 1) + "/idle"
    return await connect(url, compression=compression, open_timeout=60)


def create_bare_app() -> Starlette:
    """Accept a socket and wait on it: what any ASGI WebSocket costs under uvicorn."""

    async def idle(websocket: WebSocket) -> None:
        await websocket.accept()
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.receive_text()

    return Starlette(routes=[WebSocketRoute("/idle", idle)])
