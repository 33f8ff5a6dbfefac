"""Every HTTP request and WebSocket gets an id: the caller's `X-Request-ID` when it is a short
token (a load balancer's), a new one otherwise. It is bound to the log context, so every log line
of that work carries `request_id`, and it is returned in the response's `X-Request-ID` header."""

from __future__ import annotations

import re
import secrets

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
_ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self._app(scope, receive, send)
            return
        request_id = request_id_of(Headers(scope=scope).get(HEADER))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        # A socket's frames have no headers: they go to the server's own `send`, not through
        # one more coroutine each (two frames per message, issue 16).
        sending = send if scope["type"] == "websocket" else send_with_id
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            await self._app(scope, receive, sending)


def request_id_of(given: str | None) -> str:
    """The caller's id if it is a plain token of at most 64 characters (it ends up in logs:
    nothing else is trusted), else a new one."""
    if given is not None and _ACCEPTED.fullmatch(given):
        return given
    return secrets.token_hex(8)
