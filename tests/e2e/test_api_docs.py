"""API-2: /docs works without the internet: Swagger UI's files come from kefu itself."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Route, expect

from .conftest import Server

pytestmark = pytest.mark.e2e


def test_api_2_docs_render_offline(server: Server, new_page: Any) -> None:
    page = new_page()
    outside: list[str] = []

    def only_kefu(route: Route) -> None:
        if route.request.url.startswith(server.base):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_kefu)
    page.goto(f"{server.base}/docs")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=15_000)
    # Swagger UI renders the operations near the viewport only: scroll down to the staff's.
    agents = page.locator(".swagger-ui .opblock-summary-path", has_text="/api/agents").first
    for _ in range(60):
        if agents.count():
            break
        page.mouse.wheel(0, 400)
        page.wait_for_timeout(100)
    expect(agents).to_be_visible()
    assert outside == []
