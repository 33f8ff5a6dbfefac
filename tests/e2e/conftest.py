"""Browser tests: a real `kefu demo` server and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from websockets.sync.client import ClientConnection, connect

REPO = Path(__file__).resolve().parents[2]
STATIC_INDEX = REPO / "src" / "kefu" / "static" / "index.html"
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]
PASSWORD = "demo1234"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    base: str
    data_dir: Path

    @property
    def ws(self) -> str:
        return self.base.replace("http://", "ws://")

    def shop_secret(self, shop_id: int = 1) -> str:
        with sqlite3.connect(self.data_dir / "kefu.db") as db:
            row = db.execute("select secret from shops where id = ?", (shop_id,)).fetchone()
        return str(row[0])

    def staff(
        self, username: str, *, online: bool = True, limit: int | None = None
    ) -> httpx.Client:
        """An agent logged in over HTTP (for setup, not for what the test checks)."""
        client = httpx.Client(base_url=self.base, timeout=10)
        r = client.post(
            "/api/auth/login",
            json={"shop_id": 1, "username": username, "password": PASSWORD, "take_over": True},
        )
        r.raise_for_status()
        if limit is not None:
            client.put("/api/me/reception-limit", json={"limit": limit}).raise_for_status()
        if online:
            client.put("/api/me/status", json={"status": "online"}).raise_for_status()
        return client


def _listens(pid: int, port: int) -> bool:
    """Whether process `pid` holds the socket listening on 127.0.0.1:`port` (Linux's /proc)."""
    listening = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and local == f"0100007F:{port:04X}":
            listening.add(f"socket:[{inode}]")
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            held.add(os.readlink(fd))
    return bool(listening & held)


def _start_demo(port: int, data_dir: Path, log_path: Path) -> subprocess.Popen[bytes] | None:
    """`kefu demo` on `port`, once it serves there; None if another server took the port first
    (a free port is only free until someone binds it, and tests run side by side)."""
    command = [sys.executable, "-m", "kefu", "demo", "--port", str(port)]
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [*command, "--data-dir", str(data_dir)], cwd=REPO, stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    while proc.poll() is None:
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/api/public/shops/1", timeout=1)
            if answer.is_success and _listens(proc.pid, port):
                return proc
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("kefu demo did not start within 60 s")
        time.sleep(0.2)  # no browser yet: plain sleeping is fine here
    if "address already in use" in log_path.read_text():
        return None
    pytest.fail(f"kefu demo exited: {log_path.read_text()[-2000:]}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    if not STATIC_INDEX.exists() or "assets/" not in STATIC_INDEX.read_text():
        pytest.fail("the web front end is not built: run `cd web && npm ci && npm run build`")
    data_dir = tmp_path / "kefu-demo"
    log_path = tmp_path / "server.log"
    for _ in range(5):
        port = _free_port()
        proc = _start_demo(port, data_dir, log_path)
        if proc is not None:
            break
    else:
        pytest.fail("no free port for kefu demo in 5 tries")
    try:
        yield Server(base=f"http://127.0.0.1:{port}", data_dir=data_dir)
        if proc.poll() is not None:  # a crash shows as the browser's refused connections
            pytest.fail(f"kefu demo exited during the test: {log_path.read_text()[-2000:]}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
    yield b
    b.close()


@dataclass
class Watch:
    """Collects what must never happen on a page: dialogs (XSS) and i18n misses."""

    dialogs: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        def on_dialog(d: Any) -> None:
            self.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", on_dialog)
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    @property
    def missing_keys(self) -> list[str]:
        return [m for m in self.console if "Not found" in m]


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def new_page(browser: Browser, watch: Watch) -> Iterator[Any]:
    contexts: list[BrowserContext] = []

    def make(
        width: int = 1366, height: int = 768, locale: str = "zh-CN", base: str | None = None
    ) -> Page:
        ctx = browser.new_context(
            viewport={"width": width, "height": height},
            locale=locale,
            permissions=["notifications"] if base else [],
            base_url=base,
        )
        if base:
            ctx.grant_permissions(["notifications"], origin=base)
        contexts.append(ctx)
        page = ctx.new_page()
        watch.attach(page)
        return page

    yield make
    for ctx in contexts:
        ctx.close()


def field(scope: Any, testid: str) -> Any:
    """The text box of an Element Plus input, whichever element got the test id."""
    t = testid
    return scope.locator(
        f"input[data-testid={t}], textarea[data-testid={t}], "
        f"[data-testid={t}] input, [data-testid={t}] textarea"
    ).first


def login(page: Page, server: Server, username: str, *, online: bool = True) -> None:
    """Log in through the login page and, by default, go online with the status switch."""
    page.goto(f"{server.base}/login")
    field(page, "login-username").fill(username)
    field(page, "login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("workbench").wait_for()
    page.get_by_test_id("conversation-list").wait_for()
    if online:
        set_status(page, "online")


def set_status(page: Page, status: str) -> None:
    page.get_by_test_id("status-select").click()
    page.locator(f".status-popper [data-testid=status-{status}]").click()
    page.wait_for_function(
        "s => document.querySelector('[data-testid=status-switch] .dot').classList.contains(s)",
        arg=status,
    )


def sign_identity(server: Server, uid: str, nickname: str) -> dict[str, Any]:
    ts = int(time.time())
    msg = f"{uid}|{nickname}|{ts}".encode()
    sig = hmac.new(server.shop_secret().encode(), msg, hashlib.sha256).hexdigest()
    return {"uid": uid, "nickname": nickname, "ts": ts, "sig": sig}


class Consumer:
    """A consumer driven over the consumer WebSocket (no browser)."""

    def __init__(self, server: Server, identity: dict[str, Any] | None = None) -> None:
        body: dict[str, Any] = {"shop_id": 1}
        if identity:
            body["identity"] = identity
        r = httpx.post(f"{server.base}/api/consumer/session", json=body, timeout=10)
        r.raise_for_status()
        self.token = r.json()["token"]
        self.nickname = r.json()["consumer"]["nickname"]
        self._stack = ExitStack()
        self.ws: ClientConnection = self._stack.enter_context(
            connect(f"{server.ws}/ws/consumer", origin=server.base, open_timeout=10)
        )
        self.ws.send(json.dumps({"type": "auth", "shop_id": 1, "token": self.token}))
        self.frames: list[dict[str, Any]] = []
        ready = self.wait_for(lambda f: f["type"] == "ready")
        self.conversation: dict[str, Any] | None = ready.get("conversation")

    def recv(self, timeout: float = 10) -> dict[str, Any]:
        frame = json.loads(self.ws.recv(timeout=timeout))
        self.frames.append(frame)
        if frame["type"] == "conversation":
            self.conversation = frame["conversation"]
        return dict(frame)

    def wait_for(self, pred: Any, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("frame not received")
            frame = self.recv(timeout=left)
            if pred(frame):
                return frame

    def open(self, product: dict[str, Any] | None = None) -> dict[str, Any]:
        entry: dict[str, Any] = {"source": "product" if product else "direct"}
        if product:
            entry["product"] = product
        self.ws.send(json.dumps({"type": "open", "entry": entry}))
        frame = self.wait_for(lambda f: f["type"] == "conversation")
        return dict(frame["conversation"])

    def request_human(self, expect: str = "assigned") -> dict[str, Any]:
        self.ws.send(json.dumps({"type": "request_human"}))
        frame = self.wait_for(
            lambda f: f["type"] == "conversation" and f["conversation"]["state"] == expect
        )
        return dict(frame["conversation"])

    def send(self, body: str, kind: str = "text") -> dict[str, Any]:
        assert self.conversation is not None
        client_id = f"t-{uuid.uuid4()}"
        self.ws.send(
            json.dumps(
                {
                    "type": "send",
                    "conversation_id": self.conversation["id"],
                    "client_id": client_id,
                    "kind": kind,
                    "body": body,
                }
            )
        )
        return self.wait_for(lambda f: f["type"] == "ack" and f.get("client_id") == client_id)

    def messages(self) -> list[str]:
        return [f["message"]["body"] for f in self.frames if f["type"] == "message"]

    def close(self) -> None:
        self._stack.close()


PRODUCT = {
    "id": "p-1001",
    "title": "轻薄羽绒服 女款 冬季保暖短款",
    "price": "399.00",
    "url": "https://shop.example/x",
}
