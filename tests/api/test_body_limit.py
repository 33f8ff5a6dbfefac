"""HTTP request bodies are bounded (KEFU_HTTP_MAX_BODY_BYTES, 1 MiB by default) before anything
reads them: by the declared Content-Length, or by counting a chunked body as it arrives. A body
over the bound is 413 `too_large` and changes nothing; uploads keep their own bounds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx

from support import AgentSpec, make_shop, running_server

MiB = 1024 * 1024


def _padded(body: dict[str, object], size: int) -> bytes:
    """The JSON body, padded with whitespace to exactly `size` bytes."""
    text = json.dumps(body).encode()
    return text[:-1] + b" " * (size - len(text)) + b"}"


async def _chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _too_large(response: httpx.Response, max_bytes: int) -> bool:
    return response.status_code == 413 and response.json() == {
        "code": "too_large",
        "message": "The request body is too large.",
        "params": {"max_bytes": max_bytes},
    }


async def test_api_2_a_body_over_the_limit_is_413_too_large_and_changes_nothing(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        shop = await make_shop(srv.db, clock=srv.clock)
        owner = await srv.staff(shop.shop_id, "owner")
        before = (await owner.get("/api/shop/settings")).json()
        json_type = {"content-type": "application/json"}
        huge = json.dumps({"welcome_message": "x" * (6 * MiB)}).encode()

        declared = await owner.put("/api/shop/settings", content=huge, headers=json_type)
        assert _too_large(declared, MiB), declared.text
        chunked = await owner.put("/api/shop/settings", content=_chunks(huge), headers=json_type)
        assert "content-length" not in chunked.request.headers
        assert _too_large(chunked, MiB), chunked.text
        # Before authentication too: the bound comes first.
        async with httpx.AsyncClient(base_url=srv.base_url) as anyone:
            public = await anyone.post("/api/consumer/session", content=huge, headers=json_type)
            assert _too_large(public, MiB), public.text
        assert (await owner.get("/api/shop/settings")).json() == before

        # At the bound, declared or chunked, a body is read as usual.
        at_limit = _padded({"welcome_message": "您好"}, MiB)
        for content in (at_limit, _chunks(at_limit)):
            ok = await owner.put("/api/shop/settings", content=content, headers=json_type)
            assert ok.status_code == 200, ok.text
            assert ok.json()["welcome_message"] == "您好"
        over = await owner.put("/api/shop/settings", content=at_limit + b" ", headers=json_type)
        assert _too_large(over, MiB), over.text


async def test_api_2_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(
    db_url: str,
) -> None:
    async with running_server(db_url) as srv:
        host, port = srv.base_url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(
                (
                    "POST /api/consumer/session HTTP/1.1\r\n"
                    f"Host: {host}:{port}\r\n"
                    "Content-Type: application/json\r\n"
                    f"Content-Length: {6 * MiB}\r\n\r\n"
                ).encode()
            )
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        finally:
            writer.close()
        assert head.startswith(b"HTTP/1.1 413 "), head


async def test_api_2_the_limit_is_a_setting_and_uploads_keep_their_own(db_url: str) -> None:
    async with running_server(db_url, http_max_body_bytes=1000) as srv:
        shop = await make_shop(srv.db, agents=[AgentSpec("alice")], clock=srv.clock)
        owner = await srv.staff(shop.shop_id, "owner")
        json_type = {"content-type": "application/json"}
        at_limit = _padded({"limit": 7}, 1000)
        alice = await srv.staff(shop.shop_id, "alice")
        ok = await alice.put("/api/me/reception-limit", content=at_limit, headers=json_type)
        assert ok.status_code == 200 and ok.json()["account"]["reception_limit"] == 7, ok.text
        over = await alice.put(
            "/api/me/reception-limit", content=at_limit + b" ", headers=json_type
        )
        assert _too_large(over, 1000), over.text

        await _uploads_over_the_limit(owner)


async def _uploads_over_the_limit(owner: httpx.AsyncClient) -> None:
    """The knowledge base (10 MB) and phrase (2 MB) imports bound their own bodies."""
    rows = "".join(f"问题{i},答案{i}\n" for i in range(100))
    kb = ("question,answer\n" + rows).encode().ljust(1500 * 1024, b"\n")
    imported = await owner.post("/api/kb/import", files={"file": ("kb.csv", kb, "text/csv")})
    assert imported.status_code == 200 and imported.json()["imported"] == 100, imported.text
    phrases = "".join(f"标题{i},内容{i}\n" for i in range(10)).encode().ljust(1500 * 1024, b"\n")
    imported = await owner.post(
        "/api/quick-phrases/import",
        files={"file": ("phrases.csv", phrases, "text/csv")},
        data={"scope": "shop"},
    )
    assert imported.status_code == 200 and imported.json()["imported"] == 10, imported.text
    too_big = b"question,answer\n" + b"x" * (11 * MiB)
    refused = await owner.post("/api/kb/import", files={"file": ("kb.csv", too_big, "text/csv")})
    assert refused.status_code == 422 and refused.json()["params"]["max_bytes"] == 10 * MiB
