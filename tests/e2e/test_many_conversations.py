"""One agent with 50 live conversations: the list stays ordered and correct as messages arrive."""

from __future__ import annotations

import random
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import PRODUCT, Consumer, Server, Watch, login

pytestmark = pytest.mark.e2e

N = 50


def test_fifty_live_conversations_stay_ordered(server: Server, new_page: Any, watch: Watch) -> None:
    agent = new_page(base=server.base)
    login(agent, server, "agent2")
    limit = agent.get_by_test_id("reception-limit").locator("input")
    limit.fill(str(N))
    limit.press("Enter")
    expect(agent.get_by_test_id("current-load")).to_contain_text(f"/{N}")

    consumers = []
    for _ in range(N):
        c = Consumer(server)
        c.open(PRODUCT)
        c.request_human()
        consumers.append(c)
    expect(agent.get_by_test_id("conversation-item")).to_have_count(N, timeout=20000)

    rng = random.Random(7)
    order = list(range(N)) * 2
    rng.shuffle(order)
    last_text: dict[int, str] = {}
    sent_order: list[int] = []
    for n, i in enumerate(order):
        c = consumers[i]
        text = f"消息 {n} 来自 {i}"
        c.send(text)
        assert c.conversation is not None
        cid = int(c.conversation["id"])
        last_text[cid] = text
        if cid in sent_order:
            sent_order.remove(cid)
        sent_order.append(cid)
    expected_ids = [str(cid) for cid in reversed(sent_order)]

    items = agent.get_by_test_id("conversation-item")

    def snapshot() -> tuple[list[str], dict[str, str]]:
        data = agent.evaluate(
            """() => Array.from(document.querySelectorAll('[data-testid=conversation-item]')).map(
                el => [el.dataset.conversationId,
                       el.querySelector('[data-testid=item-last-message]').textContent])"""
        )
        return [d[0] for d in data], {d[0]: d[1] for d in data}

    for _ in range(80):
        ids, texts = snapshot()
        if ids == expected_ids and all(texts[str(k)] == v for k, v in last_text.items()):
            break
        agent.wait_for_timeout(250)
    ids, texts = snapshot()
    assert len(ids) == N
    assert ids == expected_ids
    for cid, text in last_text.items():
        assert texts[str(cid)] == text
    unread = items.locator("[data-testid=item-unread]")
    assert unread.count() == N
    for c in consumers:
        c.close()
    assert watch.dialogs == []
