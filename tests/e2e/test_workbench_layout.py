"""Issue 10's polish in the browser: the workbench header does not overlap at 1024, 1280 and
1366 px in Chinese and English, and at 1366×768 the conversation list shows at least ten
conversations (Feige's density)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .conftest import PRODUCT, Consumer, Server, Watch, field, login

pytestmark = pytest.mark.e2e

# The header's parts, each of which must stay whole and apart from the others.
PARTS = [
    "[data-testid=brand]",
    "[data-testid=status-switch]",
    ".app-header .limit",
    "[data-testid=work-stats]",
    ".app-header .links",
    "[data-testid=me]",
    "[data-testid=logout]",
]

BOXES = """parts => parts.map(sel => {
  const el = document.querySelector(sel)
  if (!el) return null
  const r = el.getBoundingClientRect()
  const cut = Array.from(el.querySelectorAll('*')).concat([el]).some(
    e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflow === 'hidden'
      && e.clientWidth > 0 && !e.classList.contains('el-input__wrapper')
  )
  return {sel, x: r.left, y: r.top, w: r.width, h: r.height, cut}
})"""


def _overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (
        a["x"] < b["x"] + b["w"] - 0.5
        and b["x"] < a["x"] + a["w"] - 0.5
        and a["y"] < b["y"] + b["h"] - 0.5
        and b["y"] < a["y"] + a["h"] - 0.5
    )


def _problems(page: Page, width: int) -> list[str]:
    boxes = [b for b in page.evaluate(BOXES, PARTS) if b is not None and b["w"] > 0]
    found = [f"{b['sel']} is cut" for b in boxes if b["cut"]]
    found += [f"{b['sel']} leaves the window" for b in boxes if b["x"] + b["w"] > width + 0.5]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if _overlaps(a, b):
                found.append(f"{a['sel']} overlaps {b['sel']}")
    return found


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_workbench_header_does_not_overlap_at_common_widths(
    server: Server, new_page: Any, watch: Watch, locale: str
) -> None:
    page = new_page(width=1366, height=768, base=server.base)
    page.add_init_script(f"localStorage.setItem('kefu.locale', '{locale}')")
    login(page, server, "owner", online=False)
    problems = []
    for width in (1024, 1280, 1366):
        page.set_viewport_size({"width": width, "height": 768})
        page.wait_for_timeout(200)  # let the layout settle after the resize
        problems += [f"{locale} {width}px: {p}" for p in _problems(page, width)]
    assert problems == [], problems
    assert watch.errors == []


def test_the_conversation_list_shows_ten_at_1366x768(
    server: Server, new_page: Any, watch: Watch
) -> None:
    agent = new_page(width=1366, height=768, base=server.base)
    login(agent, server, "agent2")
    limit = field(agent, "reception-limit")
    limit.fill("20")
    limit.press("Enter")
    expect(agent.get_by_test_id("current-load")).to_contain_text("/20")
    consumers = []
    for _ in range(11):
        c = Consumer(server)
        c.open(PRODUCT)
        c.request_human()
        consumers.append(c)
    items = agent.get_by_test_id("conversation-item")
    expect(items).to_have_count(11, timeout=15000)
    visible = agent.evaluate(
        """() => {
          const list = document.querySelector('[data-testid=conversation-list]')
          const box = list.getBoundingClientRect()
          return Array.from(list.querySelectorAll('[data-testid=conversation-item]')).filter(el => {
            const r = el.getBoundingClientRect()
            return r.top >= box.top - 0.5 && r.bottom <= Math.min(box.bottom, innerHeight) + 0.5
          }).length
        }"""
    )
    assert visible >= 10
    for c in consumers:
        c.close()
    assert watch.errors == []
