"""Issue 17: the server's fan-out reconnected to Redis and pushes `resync`; pushes lost
meanwhile appear in the workbench (it syncs in place and reloads its list) and in the widget
(it reconnects), although neither socket itself dropped."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import WebSocketRoute, expect

from .conftest import PRODUCT, Server, Watch, field, login

pytestmark = pytest.mark.e2e
RESYNC = json.dumps({"type": "resync"})
LOST_WITH_THE_FAN_OUT = ("message", "conversation", "typing")


def test_issue_17_1_resync_brings_lost_pushes_to_workbench_and_widget(
    server: Server, new_page: Any, watch: Watch
) -> None:
    fan_out = {"on": True}
    sockets: dict[str, WebSocketRoute] = {}  # the newest, by path

    def handler(ws: WebSocketRoute) -> None:
        """Between page and server: while the fan-out is off, pushed messages are lost, and so
        are conversation updates (whose newest seq would let the page notice the gap itself)
        and typing previews (which show the text being typed until its message arrives)."""
        srv = ws.connect_to_server()
        ws.on_message(srv.send)

        def down(m: str | bytes) -> None:
            if fan_out["on"] or json.loads(m).get("type") not in LOST_WITH_THE_FAN_OUT:
                ws.send(m)

        srv.on_message(down)
        # /ws/staff?shop=1 (ACCT-4) or /ws/consumer
        sockets[ws.url.rsplit("/", 1)[-1].split("?")[0]] = ws

    agent = new_page(base=server.base)
    agent.route_web_socket(re.compile(r"/ws/staff(\?|$)"), handler)
    login(agent, server, "agent2")
    phone = new_page(width=390, height=844)
    phone.route_web_socket("**/ws/consumer", handler)
    phone.goto(f"{server.base}/widget?shop=1&source=product&product={quote(json.dumps(PRODUCT))}")
    phone.get_by_test_id("request-human").click()
    expect(phone.get_by_test_id("widget-status")).to_have_attribute("data-state", "assigned")
    agent.get_by_test_id("conversation-item").first.click()
    history = agent.get_by_test_id("message-history")
    widget = phone.get_by_test_id("widget-messages")

    field(phone, "widget-input").fill("c1")
    phone.get_by_test_id("widget-send").click()
    expect(history.get_by_text("c1", exact=True)).to_be_visible()

    # The agent misses the consumer's message (nothing the agent does reveals the gap).
    fan_out["on"] = False
    field(phone, "widget-input").fill("c-lost")
    phone.get_by_test_id("widget-send").click()
    expect(widget.get_by_text("c-lost", exact=True)).to_be_visible()  # the consumer's own
    agent.wait_for_timeout(1000)
    expect(history.get_by_text("c-lost", exact=True)).to_have_count(0)  # lost on the way
    fan_out["on"] = True
    sockets["staff"].send(RESYNC)
    expect(history.get_by_text("c-lost", exact=True)).to_have_count(1)

    # The consumer misses the agent's reply.
    fan_out["on"] = False
    field(agent, "message-input").fill("a-lost")
    agent.keyboard.press("Enter")
    expect(history.get_by_text("a-lost", exact=True)).to_be_visible()  # the agent's own
    phone.wait_for_timeout(1000)
    expect(widget.get_by_text("a-lost", exact=True)).to_have_count(0)
    fan_out["on"] = True
    sockets["consumer"].send(RESYNC)
    expect(widget.get_by_text("a-lost", exact=True)).to_have_count(1)
    expect(history.get_by_text("c-lost", exact=True)).to_have_count(1)
    assert watch.dialogs == []
