"""The bot tests' shared fixtures."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from kefu.bot.matcher import Matcher


@pytest.fixture(scope="module")
def demo() -> tuple[Matcher, dict[int, str]]:
    """The demo shop's knowledge base (src/kefu/demo/kb.json) in a matcher, and its
    questions by entry id."""
    data = json.loads(resources.files("kefu").joinpath("demo/kb.json").read_bytes())
    matcher = Matcher()
    questions: dict[int, str] = {}
    for entry_id, row in enumerate(data["questions"]):
        matcher.upsert(entry_id, [row["question"], *row["phrasings"]])
        questions[entry_id] = row["question"]
    return matcher, questions
