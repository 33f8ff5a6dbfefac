"""ENTRY-1's origin page and product link: only absolute http(s) addresses are taken, so none
can run script in the workbench or lead an agent to another site."""

from __future__ import annotations

from typing import Any

from support import consumer_socket, consumer_token, make_shop, running_server

UNSAFE = [
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html,<script>alert(1)</script>",
    "//evil.example/x",
    "/relative/page",
    "ftp://files.example/x",
    "https:evil.example",
]


def _entries(url: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("page_url", {"source": "direct", "page_url": url}),
        ("url", {"source": "product", "product": {"id": "p1", "title": "T", "url": url}}),
        ("image", {"source": "product", "product": {"id": "p1", "title": "T", "image": url}}),
    ]


async def test_entry_1_unsafe_links_are_refused_and_http_links_kept(db_url: str) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, clock=srv.clock)
        token = await consumer_token(srv.base_url, shop.shop_id)
        ws = await consumer_socket(srv.ws_url, shop.shop_id, token)
        try:
            accepted = []
            for url in UNSAFE:
                for field, entry in _entries(url):
                    answer = await ws.request({"type": "open", "entry": entry})
                    if answer["type"] != "error" or answer["code"] != "bad_input":
                        accepted.append((field, url, answer["type"]))
                    else:
                        locs = [e["loc"] for e in answer["params"]["errors"]]
                        assert any(field in loc for loc in locs), (field, url, locs)
            assert accepted == []

            page = "https://shop.example/p/1?from=ad#top"
            opened = await ws.request(
                {"type": "open", "entry": {"source": "product", "page_url": page}}
            )
            assert opened["type"] == "conversation"
            assert opened["conversation"]["entry"]["page_url"] == page
        finally:
            await ws.close()
