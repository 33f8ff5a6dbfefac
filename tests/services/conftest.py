"""Fixtures for use-case tests against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kefu.clock import FakeClock
from kefu.services.context import Context
from kefu.storage.db import Database
from support import service_context


@pytest.fixture
async def ctx(db_url: str) -> AsyncIterator[Context]:
    """A service context on a fresh schema, with a FakeClock."""
    db = Database(db_url)
    await db.create_all()
    try:
        yield service_context(db, FakeClock())
    finally:
        await db.dispose()
