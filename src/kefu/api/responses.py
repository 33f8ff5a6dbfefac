"""JSON out through orjson: dataclass read models and UTC times ('Z') serialise directly."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JsonOut(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC)
