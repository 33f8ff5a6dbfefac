"""Response bodies of the file routes (MSG-1, API-2), as /openapi.json shows them.

Documentation only, like kefu.api.models: the routes answer with JsonOut, and
tests/api/test_openapi.py validates real answers against these models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from kefu.api.models import Out


class AttachmentOut(Out):
    """A picture or file: also `meta.attachment` of its `image` or `file` message."""

    id: int
    kind: Literal["image", "file"]
    name: str = Field(description="The sender's file name, sanitized: for display only.")
    size: int
    mime: str = Field(description="Decided by the content, never by the name.")
    width: int | None
    height: int | None
    has_thumbnail: bool


class AttachmentSentOut(Out):
    """MSG-1, MSG-2: the file is stored and its message committed; a resent client id gets
    the same answer."""

    conversation_id: int
    seq: int
    client_id: str
    created_at: datetime
    attachment: AttachmentOut
