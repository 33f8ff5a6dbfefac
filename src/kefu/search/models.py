"""Response bodies of the history search (DATA-5), as /openapi.json shows them.

Documentation only, like kefu.api.models: the route answers with JsonOut, and
tests/api/test_openapi.py validates real answers against these models.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from kefu.api.models import ConversationOut, Out
from kefu.domain.messages import SenderKind


class SnippetOut(Out):
    text: str
    highlights: list[tuple[int, int]] = Field(
        description="[start, end) offsets in `text` of the words found; shown as plain text."
    )
    cut_before: bool
    cut_after: bool


class MatchOut(Out):
    id: int
    seq: int
    sender: SenderKind
    created_at: datetime
    snippet: SnippetOut


class SearchHitOut(Out):
    conversation: ConversationOut
    matches: list[MatchOut]


class SearchPageOut(Out):
    items: list[SearchHitOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: last.")
