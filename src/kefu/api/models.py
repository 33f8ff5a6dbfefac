"""HTTP response bodies (API-2): the output side of the wire contract, as /openapi.json shows it.

Routes and error handlers keep answering with JsonOut (orjson, no per-request validation);
these models only document the answers. Nothing below the api layer imports this module.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Out(BaseModel):
    """An answer's shape: every key is always sent (nullable ones as null), and no other."""

    model_config = ConfigDict(extra="forbid")


class ErrorOut(Out):
    """Every refusal, over HTTP and WebSocket: front ends translate `code`, never `message`."""

    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["Not found."])
    params: dict[str, Any] = Field(examples=[{"kind": "conversation", "id": 12}])
