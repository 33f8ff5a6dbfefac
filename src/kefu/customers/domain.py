"""The rules of the customer's side panel (DESK-5) and of proactive conversations (CONV-6).
Pure: the services pass in what they loaded and the clock's `now`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kefu import errors

MAX_NOTES_CHARS = 500
MAX_TAGS = 10
MAX_TAG_CHARS = 20
MAX_PHONE_CHARS = 20
# A phone number as people type it: an optional +, then 5–20 digits, spaces or dashes.
_PHONE = re.compile(r"\+?[0-9][0-9 \-]{4,19}")

# DESK-5 trail: at most this many page views are kept per conversation; later ones are dropped.
MAX_PAGE_VIEWS = 200
MAX_PAGE_TITLE_CHARS = 200
RECENT_CONVERSATIONS = 5
# A page view's reported time is kept within this long before the server's now.
PAGE_VIEW_PAST_WITHIN = timedelta(days=1)

# CONV-6: a consumer who ordered from the shop within this window may be contacted.
PROACTIVE_WITHIN = timedelta(days=30)
MAX_SEARCH_CHARS = 64


@dataclass(frozen=True, slots=True)
class ProfileDraft:
    notes: str
    tags: tuple[str, ...]
    phone: str


def check_profile(notes: str, tags: Sequence[str], phone: str) -> ProfileDraft:
    """DESK-5: notes ≤ 500 characters, ≤ 10 distinct tags of 1–20 characters, a phone number
    or nothing. Whitespace around each value is dropped; a repeated tag is kept once."""
    if any("\x00" in v for v in (notes, phone, *tags)):
        raise errors.BadInput("Text may not contain NUL characters.", field="notes", problem="nul")
    notes = notes.strip()
    if len(notes) > MAX_NOTES_CHARS:
        raise _bad("notes", "too_long", max_chars=MAX_NOTES_CHARS)
    kept: list[str] = []
    for tag in (t.strip() for t in tags):
        if not tag:
            raise _bad("tags", "empty")
        if len(tag) > MAX_TAG_CHARS:
            raise _bad("tags", "too_long", max_chars=MAX_TAG_CHARS)
        if tag not in kept:
            kept.append(tag)
    if len(kept) > MAX_TAGS:
        raise _bad("tags", "too_many", max_items=MAX_TAGS)
    phone = phone.strip()
    if phone and not _PHONE.fullmatch(phone):
        raise _bad("phone", "invalid")
    return ProfileDraft(notes, tuple(kept), phone)


def _bad(field: str, problem: str, **params: Any) -> errors.BadInput:
    return errors.BadInput(f"Invalid {field}.", field=field, problem=problem, **params)


def may_start_proactive(last_ordered_at: datetime | None, now: datetime) -> bool:
    """CONV-6, LIMIT-2: only a consumer whose last order with the shop is at most 30 days old."""
    return last_ordered_at is not None and now - last_ordered_at <= PROACTIVE_WITHIN


@dataclass(frozen=True, slots=True)
class PageView:
    url: str
    title: str
    at: datetime


def page_view_time(reported: datetime | None, now: datetime) -> datetime:
    """DESK-5: the time a page view is stored with: the page's own, kept within the last day
    and never after `now`; `now` when the page reported none."""
    if reported is None:
        return now
    return min(max(reported, now - PAGE_VIEW_PAST_WITHIN), now)


@dataclass(frozen=True, slots=True)
class VisitedPage:
    """A page of the trail and the time spent on it: until the next page view, or None for
    the last page (the consumer may still be on it)."""

    url: str
    title: str
    at: datetime
    seconds_on_page: int | None


def time_on_pages(views: Sequence[PageView]) -> list[VisitedPage]:
    """DESK-5: each view's time on page from consecutive views, in time order."""
    ordered = sorted(views, key=lambda v: v.at)
    pages = []
    for i, view in enumerate(ordered):
        following = ordered[i + 1] if i + 1 < len(ordered) else None
        seconds = None if following is None else int((following.at - view.at).total_seconds())
        pages.append(VisitedPage(view.url, view.title, view.at, seconds))
    return pages
