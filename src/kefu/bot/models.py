"""Response bodies of the bot's HTTP routes (API-2), as /openapi.json shows them.

Documentation only, like kefu.api.models: the routes answer with JsonOut, and
tests/api/test_openapi.py validates real answers against these models.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from kefu.api.models import Out, RejectedRowOut


class CategoryOut(Out):
    id: int
    name: str
    question_count: int


class CategoryListOut(Out):
    items: list[CategoryOut]


class QuestionOut(Out):
    id: int
    category_id: int | None
    question: str
    answer: str
    phrasings: list[str]
    related_ids: list[int]
    hit_count: int
    resolved_count: int
    unresolved_count: int
    updated_at: datetime


class QuestionPageOut(Out):
    items: list[QuestionOut]
    total: int


class KbImportOut(Out):
    imported: int
    updated: int = Field(description="Questions whose text was already in the base.")
    rejected: list[RejectedRowOut]


class KbFileQuestionOut(Out):
    category: str | None
    question: str
    answer: str
    phrasings: list[str]
    related: list[str] = Field(description="Related questions by their text.")


class KbFileOut(Out):
    """The JSON export, which the import reads back."""

    questions: list[KbFileQuestionOut]


class SynonymsOut(Out):
    """BOT-5: the shop's additions to the default synonyms."""

    groups: list[list[str]]
    user_words: list[str]


class CandidateOut(Out):
    question_id: int
    question: str
    confidence: float


class TryOut(Out):
    """BOT-5: what the bot would answer, and its runners-up."""

    answered: bool
    confidence: float
    candidates: list[CandidateOut]


class MenuChildOut(Out):
    id: str
    title: str
    question_id: int | None


class MenuTopOut(Out):
    id: str
    title: str
    children: list[MenuChildOut]


class EntryOut(Out):
    """ENTRY-2: the consumer's entry; item ids are the server's, stable across edits."""

    welcome_message: str
    faq_menu: list[MenuTopOut]
    bot_cards: list[MenuChildOut]
    consumer_phrases: list[str]


class PublicEntryOut(EntryOut):
    bot_enabled: bool
    bot_first: bool = Field(
        description="The bot is on and answers the consumer's messages before a human (bot_first)."
    )


class FaqClicksOut(Out):
    id: str
    title: str
    clicks: int


class BotDayOut(Out):
    date: date
    consultations: int
    transfers_to_human: int


class BotStatsOut(Out):
    """BOT-3, BOT-6 over whole days; a rate is null when its denominator is 0."""

    consultations: int
    transfers_to_human: int
    transfer_rate: float | None
    answers: int
    misses: int
    # BOT-5: clicks on questions the bot offered (each is answered, and counted in `answers`).
    suggestion_clicks: int
    resolved: int
    unresolved: int
    resolution_rate: float | None
    feedback_resolution_rate: float | None
    faq_clicks: list[FaqClicksOut]
    by_day: list[BotDayOut]
