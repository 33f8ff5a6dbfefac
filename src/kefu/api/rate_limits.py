"""The rate limits' part of /openapi.json: every staff route and the consumer session may
answer 429 `rate_limited` (docs/protocol.md, Rate limits)."""

from __future__ import annotations

from typing import Any

from kefu.api.deps import SESSION_SCHEME
from kefu.api.errors import refusals


def document(doc: dict[str, Any]) -> dict[str, Any]:
    """Adds 429 to the operations a staff session authenticates (their calls are counted)."""
    (refusal,) = refusals(429).values()
    limited = {
        "description": refusal["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    }
    scheme = SESSION_SCHEME.scheme_name
    for operations in doc["paths"].values():
        for operation in operations.values():
            if any(scheme in requirement for requirement in operation.get("security", [])):
                operation.setdefault("responses", {})["429"] = limited
    return doc
