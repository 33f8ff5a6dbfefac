"""The answers of the offline-message and blacklist routes (OFFL-2, OFFL-3, ROUTE-5)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from kefu.api.models import MessageOut, Out
from kefu.offline.domain import OfflineCause, ProcessedCause


class OfflineEntryOut(Out):
    """OFFL-2: one consumer's offline messages, however often they wrote."""

    id: int
    consumer_id: int
    nickname: str
    cause: OfflineCause = Field(description="Why the latest request became an offline message.")
    first_at: datetime
    last_at: datetime
    processed_at: datetime | None
    processed_by: int | None
    processed_cause: ProcessedCause | None


class OfflineEntryPageOut(Out):
    items: list[OfflineEntryOut]
    total: int
    unprocessed_7d: int = Field(
        description="OFFL-2: consumers with unprocessed messages from the last 7 days."
    )


class OfflineHistoryOut(Out):
    entry: OfflineEntryOut
    items: list[MessageOut] = Field(description="Oldest first, across conversations.")
    next_before: int | None = Field(description="Pass as `before` for the previous page.")


class ProcessedOut(Out):
    processed: int = Field(description="How many of the entries were unprocessed.")


class StartedOut(Out):
    conversation_ids: list[int] = Field(
        description="The conversations the caller now holds (none for consumers already served)."
    )


class BlacklistOut(Out):
    id: int
    consumer_id: int
    nickname: str
    reason: str
    added_by: int | None
    added_at: datetime


class BlacklistPageOut(Out):
    items: list[BlacklistOut]
    total: int
