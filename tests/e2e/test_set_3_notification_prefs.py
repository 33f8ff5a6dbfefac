"""SET-3 in the browser: an agent's notification preferences are kept by the server, come back
after a reload, and the workbench applies them (no beep with the sound off)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import PRODUCT, Consumer, Server, Watch
from .test_notifications import beeps, item, wait_for_notifications, workbench

pytestmark = pytest.mark.e2e


def test_set_3_sound_preference_persists_across_reload_and_silences_the_beep(
    server: Server, new_page: Any, watch: Watch
) -> None:
    agent = workbench(new_page, server, "agent2", "granted")
    agent.get_by_test_id("notification-prefs").click()
    sound = agent.get_by_test_id("pref-sound")
    expect(sound).to_have_class(_checked())
    with agent.expect_response(
        lambda r: r.url.endswith("/api/me/notification-preferences") and r.request.method == "PUT"
    ) as saved:
        sound.click()
    assert saved.value.json()["sound"] is False

    agent.reload()
    agent.get_by_test_id("conversation-list").wait_for()
    agent.get_by_test_id("notification-prefs").click()
    expect(agent.get_by_test_id("pref-sound")).not_to_have_class(_checked())
    expect(agent.get_by_test_id("pref-desktop")).to_have_class(_checked())

    # A new conversation: the desktop notification still shows, but no sound plays.
    consumer = Consumer(server)
    consumer.open(PRODUCT)
    conversation = consumer.request_human()
    expect(item(agent, conversation["id"])).to_be_visible()
    (shown,) = wait_for_notifications(agent, 1)
    assert shown["tag"] == f"kefu-{conversation['id']}"
    assert beeps(agent) == 0
    consumer.close()
    assert watch.errors == []
    assert watch.missing_keys == []


def _checked() -> re.Pattern[str]:
    return re.compile(r"\bis-checked\b")
