"""A webhook receiver for the tests: a real HTTP server on 127.0.0.1 in a thread, whose answer
(status, delay, redirect) the test sets, and which records every request; and the verifier of
docs/webhooks.md, loaded from the document itself so the documented code is what is tested."""

from __future__ import annotations

import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    port: int = 0
    status: int = 200
    delay_s: float = 0.0
    location: str | None = None
    tls: ssl.SSLContext | None = None  # serve HTTPS with this context's certificate
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.received.append(Received(self.path, headers, body))
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)  # a slow receiver, past kefu's timeout
                self.send_response(receiver.status)
                if receiver.location is not None:
                    self.send_header("location", receiver.location)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Down: the port refuses connections until `start` again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def of_type(self, event: str) -> list[Received]:
        return [r for r in self.received if r.json["type"] == event]


Verifier = Callable[..., bool]


def documented_verifier() -> Verifier:
    """`verify_kefu_webhook` as docs/webhooks.md prints it."""
    text = DOCS.read_text()
    section = text[text.index("### A verifier") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, "docs/webhooks.md has no verifier"
    namespace: dict[str, Any] = {}
    exec(compile(match.group(1), str(DOCS), "exec"), namespace)  # noqa: S102 (our own docs)
    verifier: Verifier = namespace["verify_kefu_webhook"]
    return verifier
