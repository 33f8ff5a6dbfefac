"""JSON out through orjson: dataclass read models and UTC times ('Z') serialise directly.

A JSONResponse by type only, so that FastAPI documents a route's `response_model` for it; the
body is orjson's, and a route that returns a JsonOut is never re-validated by FastAPI.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class JsonOut(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC)
