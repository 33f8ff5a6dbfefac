"""DESK-6: desktop notifications and a sound for new conversations and messages, except for the
conversation on screen; a visible warning when notifications are blocked."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .conftest import PRODUCT, Consumer, Server, Watch, login

pytestmark = pytest.mark.e2e

# Stands in for the browser's Notification (with the given permission) and counts the
# oscillators the workbench's two-tone beep starts, so the page's own code is what is checked.
RECORDER = """
(() => {
  const shown = [];
  class RecordedNotification {
    static permission = '%s';
    static requestPermission() { return Promise.resolve(RecordedNotification.permission); }
    constructor(title, options) {
      shown.push({ title, body: options?.body ?? '', tag: options?.tag ?? '' });
      this.onclick = null;
    }
    close() {}
  }
  Object.defineProperty(window, 'Notification', { value: RecordedNotification, writable: true });
  window.__notifications = shown;
  window.__tones = 0;
  const Base = window.BaseAudioContext ?? window.AudioContext;
  if (Base) {
    const start = Base.prototype.createOscillator;
    Base.prototype.createOscillator = function () {
      window.__tones += 1;
      return start.call(this);
    };
  }
})();
"""
TONES_PER_BEEP = 2


def workbench(new_page: Any, server: Server, username: str, permission: str) -> Page:
    page: Page = new_page(base=server.base)
    page.add_init_script(RECORDER % permission)
    login(page, server, username, online=permission == "granted")
    return page


def notifications(page: Page) -> list[dict[str, str]]:
    return list(page.evaluate("() => window.__notifications"))


def beeps(page: Page) -> int:
    return int(page.evaluate("() => window.__tones")) // TONES_PER_BEEP


def wait_for_notifications(page: Page, count: int) -> list[dict[str, str]]:
    page.wait_for_function("n => window.__notifications.length >= n", arg=count)
    return notifications(page)


def item(page: Page, conversation_id: int) -> Any:
    return page.locator(
        f"[data-testid=conversation-item][data-conversation-id='{conversation_id}']"
    )


def test_desk_6_notifies_new_conversations_and_messages_off_screen(
    server: Server, new_page: Any, watch: Watch
) -> None:
    agent = workbench(new_page, server, "agent2", "granted")
    expect(agent.get_by_test_id("notifications-blocked")).to_be_hidden()
    expect(agent.get_by_test_id("notifications-ask")).to_be_hidden()

    # A new conversation: a notification tagged with it, naming the consumer, and a beep.
    first = Consumer(server)
    first.open(PRODUCT)
    c_first = first.request_human()
    expect(item(agent, c_first["id"])).to_be_visible()
    (shown,) = wait_for_notifications(agent, 1)
    assert (shown["tag"], shown["body"]) == (f"kefu-{c_first['id']}", first.nickname)
    assert beeps(agent) == 1

    # A message in the conversation the agent is looking at: neither notification nor sound.
    item(agent, c_first["id"]).click()
    pane = agent.get_by_test_id("conversation-pane")
    expect(pane).to_have_attribute("data-conversation-id", str(c_first["id"]))
    first.send("on-screen question")
    bodies = agent.get_by_test_id("message-history").get_by_test_id("message-body")
    expect(bodies.filter(has_text="on-screen question")).to_have_count(1)
    agent.wait_for_timeout(300)
    assert len(notifications(agent)) == 1 and beeps(agent) == 1

    # Another conversation arrives and writes while the first stays on screen: both notify.
    second = Consumer(server)
    second.open(PRODUCT)
    c_second = second.request_human()
    expect(item(agent, c_second["id"])).to_be_visible()
    second.send("off-screen question")
    shown_all = wait_for_notifications(agent, 3)
    assert [(n["tag"], n["body"]) for n in shown_all[1:]] == [
        (f"kefu-{c_second['id']}", second.nickname),
        (f"kefu-{c_second['id']}", "off-screen question"),
    ]
    assert beeps(agent) == 3
    expect(pane).to_have_attribute("data-conversation-id", str(c_first["id"]))
    for c in (first, second):
        c.close()
    assert watch.dialogs == []
    assert watch.errors == []


def test_desk_6_blocked_notifications_show_a_warning(
    server: Server, new_page: Any, watch: Watch
) -> None:
    blocked = workbench(new_page, server, "agent1", "denied")
    warning = blocked.get_by_test_id("notifications-blocked")
    expect(warning).to_be_visible()
    expect(warning).to_have_attribute("role", "alert")
    expect(blocked.get_by_test_id("notifications-ask")).to_be_hidden()

    # Not yet decided: no warning, but an offer to turn them on.
    undecided = workbench(new_page, server, "agent3", "default")
    expect(undecided.get_by_test_id("notifications-ask")).to_be_visible()
    expect(undecided.get_by_test_id("notifications-enable")).to_be_enabled()
    expect(undecided.get_by_test_id("notifications-blocked")).to_be_hidden()
    assert watch.errors == []
