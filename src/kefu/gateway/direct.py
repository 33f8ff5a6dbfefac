"""The WebSocket endpoints without the HTTP routing stack. A socket lives for hours, and every
layer its handler is called through stays alive with it: FastAPI's router, its exit stack and
Starlette's exception wrappers cost an idle socket some 6 KiB (issue 16). They do nothing for
these endpoints, which answer every failure themselves, so their sockets go straight to them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

Endpoint = Callable[[WebSocket], Awaitable[None]]


class DirectSockets:
    """ASGI middleware: a WebSocket to one of `endpoints` (by exact path) is handed to it."""

    def __init__(self, app: ASGIApp, *, endpoints: Mapping[str, Endpoint]) -> None:
        self.app = app
        self.endpoints = dict(endpoints)

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Not a coroutine itself: no frame of this layer stays alive either.
        if scope["type"] == "websocket":
            endpoint = self.endpoints.get(scope["path"])
            if endpoint is not None:
                return endpoint(WebSocket(scope, receive, send))
        return self.app(scope, receive, send)
