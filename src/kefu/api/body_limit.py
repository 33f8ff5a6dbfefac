"""The bound on HTTP request bodies, enforced before anything reads them: a declared
Content-Length over it is refused at once, and a body without one (chunked) is read only up to
it. Either way the answer is 413 `too_large`. Routes that read their own bodies keep their own
bounds (uploads, api/uploads.py); this module must not parse a body."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kefu import errors
from kefu.api.errors import body, http_status, refusals
from kefu.api.responses import JsonOut


class BodyLimit:
    """ASGI middleware: `max_bytes` for every HTTP request but those to `self_bounded` paths."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, self_bounded: Collection[str]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.self_bounded = frozenset(self_bounded)
        # Paths with parameters ("/api/conversations/{conversation_id}/attachments").
        self.self_bounded_patterns = [
            re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)) + "$")
            for path in self.self_bounded
            if "{" in path
        ]

    def _is_self_bounded(self, path: str) -> bool:
        return path in self.self_bounded or any(p.match(path) for p in self.self_bounded_patterns)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._is_self_bounded(scope["path"]):
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit():
            # The server reads no more than the declared length as this request's body.
            if int(declared) > self.max_bytes:
                await self._refuse(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        message = await self._read(receive)
        if message is None:
            await self._refuse(scope, receive, send)
        elif message["type"] == "http.request":
            await self.app(scope, _replay(message, receive), send)

    async def _read(self, receive: Receive) -> Message | None:
        """The whole body as one message, or None past the bound (the rest stays unread)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return message  # the client left
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = errors.PayloadTooLarge(max_bytes=self.max_bytes)
        await JsonOut(body(refusal), status_code=http_status(refusal))(scope, receive, send)


def _replay(first: Message, receive: Receive) -> Receive:
    """The body read above, then whatever the server says next (a disconnect)."""
    pending: list[Message] = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def document(doc: dict[str, Any], *, self_bounded: Collection[str]) -> dict[str, Any]:
    """Every operation but the self-bounded ones may answer 413 (API-2)."""
    (refusal,) = refusals(413).values()
    too_large = {
        "description": refusal["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    }
    for path, operations in doc["paths"].items():
        if path not in self_bounded:
            for operation in operations.values():
                operation.setdefault("responses", {})["413"] = too_large
    return doc
