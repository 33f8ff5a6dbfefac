"""Issue 16: the WebSocket endpoints are called straight from the middleware stack, without
the HTTP routing layers, which would stay alive with every idle socket."""

from __future__ import annotations

from typing import Any

from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from kefu.gateway.direct import DirectSockets


async def _receive() -> dict[str, Any]:
    return {}


async def _send(message: Any) -> None:
    return None


async def test_a_socket_to_an_endpoint_goes_straight_to_it_and_the_rest_to_the_app() -> None:
    reached: list[tuple[str, str]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(("app", scope["path"]))

    async def endpoint(websocket: WebSocket) -> None:
        reached.append(("endpoint", websocket.url.path))

    direct = DirectSockets(app, endpoints={"/ws/consumer": endpoint})
    for kind, path in [("websocket", "/ws/consumer"), ("websocket", "/ws/other"),
                       ("http", "/ws/consumer")]:  # fmt: skip
        scope = {"type": kind, "path": path, "headers": [], "query_string": b""}
        await direct(scope, _receive, _send)
    assert reached == [("endpoint", "/ws/consumer"), ("app", "/ws/other"), ("app", "/ws/consumer")]


async def test_no_frame_of_the_middleware_stays_alive_with_the_socket() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        return None

    async def endpoint(websocket: WebSocket) -> None:
        return None

    direct = DirectSockets(app, endpoints={"/ws/staff": endpoint})
    scope = {"type": "websocket", "path": "/ws/staff", "headers": [], "query_string": b""}
    running = direct(scope, _receive, _send)
    assert getattr(running, "cr_code", None) is endpoint.__code__  # the endpoint's own coroutine
    await running
