"""API-2: /openapi.json documents every HTTP route: which ones need the staff session, and every
refusal with the error model {code, message, params} for the statuses the route can give."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from isolation_table import HTTP_CASES

from kefu.app import create_app
from kefu.clock import FakeClock
from kefu.settings import Settings

Route = tuple[str, str]
ERROR_REF = "#/components/schemas/ErrorOut"
# The statuses api/errors.py maps the error classes to.
PRODUCT_STATUSES = {"401", "403", "404", "409", "422", "429", "503"}
JSON = "application/json"
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


def required_refusals(doc: dict[str, Any]) -> dict[Route, set[str]]:
    """The statuses each operation must document, at least: 422 for any input, 401 for a
    staff route, 404 for an id in the path or any not_found case of the isolation table
    (ACCT-5), and 403 where that table shows a role refusal (ACCT-2)."""
    required: dict[Route, set[str]] = {}
    staff = staff_routes(doc)
    for route, op in _operations(doc).items():
        needed = required.setdefault(route, set())
        if op.get("parameters") or op.get("requestBody"):
            needed.add("422")
        if route in staff:
            needed.add("401")
        if "{" in route[1]:
            needed.add("404")
    for case in HTTP_CASES:
        required.setdefault(case.route, set()).add("404")
        if case.role_only:
            required[case.route].add("403")
    return required


def _refusal_problems(route: Route, op: dict[str, Any], needed: set[str]) -> list[str]:
    responses = op.get("responses", {})
    problems = [f"{route}: {s} not documented" for s in sorted(needed - set(responses))]
    for status, answer in responses.items():
        if status.startswith("2"):
            continue
        if status not in PRODUCT_STATUSES:
            problems.append(f"{route}: {status} is no status of the error model")
        if answer.get("content") != {JSON: {"schema": {"$ref": ERROR_REF}}}:
            problems.append(f"{route}: {status} is not documented as ErrorOut")
    return problems


def undocumented(doc: dict[str, Any]) -> list[str]:
    """What the OpenAPI document leaves undocumented, or documents with the wrong shape."""
    problems = []
    required = required_refusals(doc)
    operations = _operations(doc)
    for route in sorted(required.keys() - operations.keys()):
        problems.append(f"{route}: in the isolation table but not in the OpenAPI document")
    for route, op in sorted(operations.items()):
        problems += _refusal_problems(route, op, required[route])
    schemas, text = doc["components"]["schemas"], json.dumps(doc)
    for name in ("HTTPValidationError", "ValidationError"):
        if name in schemas or f'/schemas/{name}"' in text:
            problems.append(f"FastAPI's default {name} is in the document")
    return problems


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


def test_api_2_every_route_documents_its_refusals_with_the_error_model() -> None:
    doc = _app().openapi()
    assert undocumented(doc) == []
    error = doc["components"]["schemas"]["ErrorOut"]
    assert error["required"] == ["code", "message", "params"]
    assert {name: p["type"] for name, p in error["properties"].items()} == {
        "code": "string",
        "message": "string",
        "params": "object",
    }


def test_api_2_the_check_reports_what_a_route_leaves_undocumented() -> None:
    good = _app().openapi()

    def broken(change: Callable[[dict[str, Any]], None]) -> list[str]:
        doc = copy.deepcopy(good)
        change(doc)
        return undocumented(doc)

    def op(doc: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = doc["paths"]["/api/conversations/{conversation_id}"]["get"]
        return found

    def without_404(doc: dict[str, Any]) -> None:
        del op(doc)["responses"]["404"]

    def default_422(doc: dict[str, Any]) -> None:
        op(doc)["responses"]["422"]["content"][JSON]["schema"] = {
            "$ref": "#/components/schemas/HTTPValidationError"
        }

    assert len(broken(without_404)) == 1
    assert len(broken(default_422)) == 2  # the wrong model, and the default schema's name
    # A staff route without 401, and a role-checked route without 403, are reported.
    assert broken(lambda d: d["paths"]["/api/me"]["get"]["responses"].pop("401")) == [
        "('GET', '/api/me'): 401 not documented"
    ]
    assert broken(
        lambda d: d["paths"]["/api/agents/{agent_id}"]["put"]["responses"].pop("403")
    ) == ["('PUT', '/api/agents/{agent_id}'): 403 not documented"]
