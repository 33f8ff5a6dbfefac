"""The one place that maps KefuError classes (by MRO) to HTTP statuses and WebSocket frames."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from kefu import errors
from kefu.api.models import ErrorOut
from kefu.api.responses import JsonOut

_STATUS: dict[type[errors.KefuError], int] = {
    errors.BadInput: 422,
    errors.PayloadTooLarge: 413,
    errors.Unauthenticated: 401,
    errors.InvalidCredentials: 401,
    errors.Throttled: 429,
    errors.AccountDisabled: 403,
    errors.RateLimited: 429,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.RuleViolation: 422,
    errors.Unavailable: 503,
    errors.InternalError: 500,
    errors.KefuError: 400,
}


def http_status(exc: errors.KefuError) -> int:
    return _status_of(type(exc))


def _status_of(error: type[errors.KefuError]) -> int:
    for cls in error.__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 400


def refusals(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the statuses a route refuses with: each the error model, and
    described by the codes that status carries (a route may use only some of them)."""
    return {status: {"model": ErrorOut, "description": _described(status)} for status in statuses}


def _described(status: int) -> str:
    codes = sorted({cls.code for cls in _error_classes() if _status_of(cls) == status})
    if not codes:
        raise ValueError(f"No error maps to HTTP {status}.")
    return "Refused: " + ", ".join(f"`{code}`" for code in codes) + "."


def _error_classes() -> list[type[errors.KefuError]]:
    found: list[type[errors.KefuError]] = []
    pending = [errors.KefuError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending += cls.__subclasses__()
    return found


def body(exc: errors.KefuError) -> dict[str, Any]:
    return {"code": exc.code, "message": exc.message, "params": exc.params}


def validation_error(exc: ValidationError | RequestValidationError) -> errors.BadInput:
    details = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    return errors.BadInput(errors=details)


def document_outages(doc: dict[str, Any], *, except_paths: Collection[str]) -> dict[str, Any]:
    """Every operation but `except_paths` may answer 503 `unavailable` (a database outage)."""
    (refusal,) = refusals(503).values()
    unavailable = {
        "description": refusal["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    }
    for path, operations in doc["paths"].items():
        if path not in except_paths:
            for operation in operations.values():
                operation.setdefault("responses", {})["503"] = unavailable
    return doc


def _headers(exc: errors.KefuError) -> dict[str, str] | None:
    """A throttled, rate-limited or unavailable client is told when to come back in the
    standard header too (login delays and outages carry `retry_after_s`, rate limits
    `retry_after`)."""
    wait = exc.params.get("retry_after", exc.params.get("retry_after_s"))
    return {"Retry-After": str(wait)} if isinstance(wait, int) else None


def error_frame(exc: errors.KefuError, ref: str | None) -> dict[str, Any]:
    return {"type": "error", "ref": ref, **body(exc)}


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.KefuError)
    async def _kefu(_request: Request, exc: errors.KefuError) -> JsonOut:
        return JsonOut(body(exc), status_code=http_status(exc), headers=_headers(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JsonOut:
        bad = validation_error(exc)
        return JsonOut(body(bad), status_code=422)
