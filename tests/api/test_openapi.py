"""API-2: /openapi.json documents every HTTP route: which ones need the staff session."""

from __future__ import annotations

import random
from typing import Any

from fastapi import FastAPI

from kefu.app import create_app
from kefu.clock import FakeClock
from kefu.settings import Settings

Route = tuple[str, str]
SESSION = "staff_session"


def _app() -> FastAPI:
    return create_app(
        Settings(database_url="sqlite+aiosqlite://", secret_key="test-secret-key-0123456789"),
        clock=FakeClock(),
        rng=random.Random(1),
        run_scheduler=False,
    )


def _operations(doc: dict[str, Any]) -> dict[Route, dict[str, Any]]:
    return {
        (method.upper(), path): op
        for path, operations in doc["paths"].items()
        for method, op in operations.items()
    }


def staff_routes(doc: dict[str, Any]) -> set[Route]:
    """The routes that need a signed-in staff member: those secured by the session cookie."""
    return {
        route
        for route, op in _operations(doc).items()
        if any(SESSION in need for need in op.get("security", []))
    }


def test_api_2_staff_routes_are_secured_by_the_session_cookie() -> None:
    doc = _app().openapi()
    assert doc["components"]["securitySchemes"][SESSION] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "kefu_session",
        "description": "The signed staff session, set by POST /api/auth/login.",
    }
    staff = staff_routes(doc)
    public = {route for route in _operations(doc) if "/public/" in route[1]}
    public |= {("POST", "/api/auth/login"), ("POST", "/api/consumer/session")}
    assert staff == _operations(doc).keys() - public
