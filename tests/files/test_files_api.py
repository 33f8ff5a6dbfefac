"""MSG-1 over HTTP: consumers and agents send pictures and files; refusals carry their code and
reason and store nothing; downloads are for the people of the conversation only (ACCT-5)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from test_files_domain import png, png_declaring

from support import AgentSpec, Frames, Server, ShopIds, make_shop, running_server

MB = 1024 * 1024


@dataclass
class Chat:
    shop: ShopIds
    conversation_id: int
    consumer: Frames
    alice: httpx.AsyncClient

    def consumer_headers(self) -> dict[str, str]:
        token: str = self.consumer.token  # type: ignore[attr-defined]
        return {"X-Kefu-Shop": str(self.shop.shop_id), "X-Kefu-Consumer-Token": token}


async def open_chat(srv: Server, name: str = "Shop") -> Chat:
    shop = await make_shop(
        srv.db,
        name=name,
        agents=[AgentSpec("alice"), AgentSpec("bob", status="busy")],
        clock=srv.clock,
    )
    alice = await srv.staff(shop.shop_id, "alice")
    consumer = await srv.consumer(shop.shop_id)
    answer = await consumer.request({"type": "request_human"})
    assert answer["conversation"]["agent_id"] == shop.accounts["alice"]
    cid: int = consumer.conversation_id  # type: ignore[attr-defined]
    return Chat(shop, cid, consumer, alice)


async def consumer_upload(
    srv: Server, chat: Chat, name: str, data: bytes, mime: str, client_id: str = "u1"
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=srv.base_url, timeout=60) as client:
        return await client.post(
            f"/api/consumer/conversations/{chat.conversation_id}/attachments",
            headers=chat.consumer_headers(),
            files={"file": (name, data, mime)},
            data={"client_id": client_id},
        )


async def consumer_get(srv: Server, chat: Chat, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        return await client.get(path, headers=chat.consumer_headers())


async def messages(chat: Chat) -> list[dict[str, Any]]:
    answer = await chat.alice.get(f"/api/conversations/{chat.conversation_id}/messages")
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def stored_files(tmp_path: Path) -> list[Path]:
    return sorted(p for p in (tmp_path / "files").rglob("*") if p.is_file())


async def test_msg_1_a_picture_round_trips_with_its_thumbnail(db_url: str, tmp_path: Path) -> None:
    async with running_server(db_url, files_dir=tmp_path / "files") as srv:
        chat = await open_chat(srv)
        picture = png(800, 600)
        sent = await consumer_upload(srv, chat, "照片.png", picture, "image/png")
        assert sent.status_code == 200, sent.text
        body = sent.json()
        attachment = body["attachment"]
        assert attachment["kind"] == "image" and attachment["mime"] == "image/png"
        assert (attachment["width"], attachment["height"]) == (800, 600)
        assert attachment["has_thumbnail"] and attachment["name"] == "照片.png"
        # MSG-2: the resend is the same message; nothing is stored twice.
        files = stored_files(tmp_path)
        again = await consumer_upload(srv, chat, "照片.png", picture, "image/png")
        assert again.json() == body
        assert stored_files(tmp_path) == files and len(files) == 2

        (message,) = [m for m in await messages(chat) if m["kind"] == "image"]
        assert message["seq"] == body["seq"] and message["sender"] == "consumer"
        assert message["body"] == str(attachment["id"])
        assert message["meta"] == {"attachment": attachment}

        full = await chat.alice.get(f"/api/attachments/{attachment['id']}")
        assert full.status_code == 200 and full.content == picture
        assert full.headers["content-type"] == "image/png"
        assert full.headers["x-content-type-options"] == "nosniff"
        disposition = full.headers["content-disposition"]
        assert disposition.startswith("attachment;")
        assert "filename*=UTF-8''%E7%85%A7%E7%89%87.png" in disposition
        thumb = await chat.alice.get(f"/api/attachments/{attachment['id']}/thumbnail")
        assert thumb.status_code == 200
        assert thumb.headers["content-type"] == "image/jpeg"
        assert thumb.headers["x-content-type-options"] == "nosniff"
        with Image.open(io.BytesIO(thumb.content)) as image:
            assert image.size == (320, 240)
        own = await consumer_get(srv, chat, f"/api/consumer/attachments/{attachment['id']}")
        assert own.status_code == 200 and own.content == picture
        own_thumb = await consumer_get(
            srv, chat, f"/api/consumer/attachments/{attachment['id']}/thumbnail"
        )
        assert own_thumb.content == thumb.content


async def test_msg_1_an_agent_sends_a_text_file_the_consumer_downloads(
    db_url: str, tmp_path: Path
) -> None:
    async with running_server(db_url, files_dir=tmp_path / "files") as srv:
        chat = await open_chat(srv)
        text = "发货单号：SF123\n".encode()
        sent = await chat.alice.post(
            f"/api/conversations/{chat.conversation_id}/attachments",
            files={"file": ("发货单.txt", text, "application/octet-stream")},
            data={"client_id": "a1"},
        )
        assert sent.status_code == 200, sent.text
        attachment = sent.json()["attachment"]
        assert attachment["kind"] == "file" and attachment["mime"] == "text/plain"
        assert not attachment["has_thumbnail"] and attachment["width"] is None
        pushed = await chat.consumer.wait_for(
            lambda f: f["type"] == "message" and f["message"]["kind"] == "file"
        )
        assert pushed["message"]["meta"] == {"attachment": attachment}
        got = await consumer_get(srv, chat, f"/api/consumer/attachments/{attachment['id']}")
        assert got.status_code == 200 and got.content == text
        assert got.headers["content-type"].startswith("text/plain")
        assert got.headers["content-disposition"].startswith('attachment; filename="')
        no_thumb = await consumer_get(
            srv, chat, f"/api/consumer/attachments/{attachment['id']}/thumbnail"
        )
        assert no_thumb.status_code == 404


REFUSED = [
    (
        "an 11 MB image",
        "big.png",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * (11 * MB),
        "image/png",
        (413, "file.too_large", {"kind": "image", "max_bytes": 10 * MB}),
    ),
    (
        "a 21 MB file",
        "big.txt",
        b"a" * (21 * MB),
        "text/plain",
        (413, "file.too_large", {"max_bytes": 20 * MB}),
    ),
    (
        "an executable renamed .txt",
        "readme.txt",
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200,
        "text/plain",
        (422, "file.type_refused", {"reason": "executable"}),
    ),
    (
        "an SVG posing as an image",
        "cat.png",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "image/png",
        (422, "file.type_refused", {"reason": "markup"}),
    ),
    (
        "an HTML page posing as an image",
        "cat.jpg",
        b"<!doctype html><html><body onload=alert(1)></body></html>",
        "image/jpeg",
        (422, "file.type_refused", {"reason": "markup"}),
    ),
    (
        "a PNG declaring 50,000 x 50,000 pixels",
        "bomb.png",
        png_declaring(50_000, 50_000),
        "image/png",
        (422, "file.image_refused", {"reason": "too_many_pixels", "max_pixels": 40_000_000}),
    ),
]


@pytest.mark.parametrize("side", ["consumer", "agent"])
async def test_msg_1_bad_uploads_are_refused_with_their_reason_and_store_nothing(
    db_url: str, tmp_path: Path, side: str
) -> None:
    async with running_server(db_url, files_dir=tmp_path / "files") as srv:
        chat = await open_chat(srv)
        before = await messages(chat)
        failures = []
        for i, (what, name, data, mime, (status, code, params)) in enumerate(REFUSED):
            if side == "consumer":
                answer = await consumer_upload(srv, chat, name, data, mime, f"bad{i}")
            else:
                answer = await chat.alice.post(
                    f"/api/conversations/{chat.conversation_id}/attachments",
                    files={"file": (name, data, mime)},
                    data={"client_id": f"bad{i}"},
                )
            got = answer.json()
            if (
                answer.status_code != status
                or got["code"] != code
                or params.items() - got["params"].items()
            ):
                failures.append(f"{what}: {answer.status_code} {answer.text[:300]}")
        assert failures == []
        assert await messages(chat) == before
        assert stored_files(tmp_path) == []


async def test_msg_1_an_upload_needs_a_client_id_and_a_file(db_url: str, tmp_path: Path) -> None:
    async with running_server(db_url, files_dir=tmp_path / "files") as srv:
        chat = await open_chat(srv)
        url = f"/api/conversations/{chat.conversation_id}/attachments"
        no_id = await chat.alice.post(url, files={"file": ("a.txt", b"hi", "text/plain")})
        assert (no_id.status_code, no_id.json()["params"]["field"]) == (422, "client_id")
        no_file = await chat.alice.post(url, data={"client_id": "x"}, files={"other": b"x"})
        assert (no_file.status_code, no_file.json()["code"]) == (422, "bad_input")
        json_body = await chat.alice.post(url, json={"client_id": "x"})
        assert json_body.status_code == 422
        async with httpx.AsyncClient(base_url=srv.base_url) as anonymous:
            bad_token = await anonymous.post(
                f"/api/consumer/conversations/{chat.conversation_id}/attachments",
                headers={"X-Kefu-Shop": str(chat.shop.shop_id), "X-Kefu-Consumer-Token": "x"},
                files={"file": ("a.txt", b"hi", "text/plain")},
                data={"client_id": "x"},
            )
            assert (bad_token.status_code, bad_token.json()["code"]) == (401, "auth.required")
            no_token = await anonymous.get("/api/consumer/attachments/1")
            assert no_token.status_code == 422
        assert stored_files(tmp_path) == []


async def test_msg_1_acct_5_downloads_are_for_the_people_of_the_conversation(
    db_url: str, tmp_path: Path
) -> None:
    async with running_server(db_url, files_dir=tmp_path / "files") as srv:
        chat = await open_chat(srv, "A")
        sent = await consumer_upload(srv, chat, "p.png", png(40, 30), "image/png")
        attachment_id = sent.json()["attachment"]["id"]
        paths = [f"/api/consumer/attachments/{attachment_id}"]
        paths.append(paths[0] + "/thumbnail")
        # Another consumer of the same shop, with a conversation of their own.
        other = await open_chat_of(srv, chat)
        # A consumer of another shop.
        elsewhere = await open_chat(srv, "B")
        failures = []
        for stranger in (other, elsewhere):
            for path in paths:
                answer = await consumer_get(srv, stranger, path)
                if (answer.status_code, answer.json()["code"]) != (404, "not_found"):
                    failures.append(f"{path}: {answer.status_code} {answer.text[:200]}")
        # Staff of another shop, and an agent of this shop not in the conversation.
        bob = await srv.staff(chat.shop.shop_id, "bob")
        for staff in (elsewhere.alice, bob):
            for path in (
                f"/api/attachments/{attachment_id}",
                f"/api/attachments/{attachment_id}/thumbnail",
            ):
                answer = await staff.get(path)
                if (answer.status_code, answer.json()["code"]) != (404, "not_found"):
                    failures.append(f"{path}: {answer.status_code} {answer.text[:200]}")
        assert failures == []
        # The owner supervises the shop: they may see it.
        owner = await srv.staff(chat.shop.shop_id, "owner")
        assert (await owner.get(f"/api/attachments/{attachment_id}")).status_code == 200
        # Uploading into someone else's conversation is refused before anything is stored.
        before = stored_files(tmp_path)
        into_other = await consumer_upload(
            srv,
            Chat(chat.shop, chat.conversation_id, other.consumer, other.alice),
            "x.txt",
            b"hello",
            "text/plain",
        )
        assert (into_other.status_code, into_other.json()["code"]) == (404, "not_found")
        into_b = await elsewhere.alice.post(
            f"/api/conversations/{chat.conversation_id}/attachments",
            files={"file": ("x.txt", b"hello", "text/plain")},
            data={"client_id": "x"},
        )
        assert (into_b.status_code, into_b.json()["code"]) == (404, "not_found")
        assert stored_files(tmp_path) == before


async def open_chat_of(srv: Server, chat: Chat) -> Chat:
    """Another consumer of the chat's shop, with a conversation of their own."""
    consumer = await srv.consumer(chat.shop.shop_id)
    cid: int = consumer.conversation_id  # type: ignore[attr-defined]
    assert cid != chat.conversation_id
    return Chat(chat.shop, cid, consumer, chat.alice)


async def test_msg_1_conv_5_a_file_after_the_end_opens_a_new_conversation(
    db_url: str, tmp_path: Path
) -> None:
    async with running_server(db_url, files_dir=tmp_path / "files") as srv:
        chat = await open_chat(srv)
        said = await chat.consumer.request(
            {
                "type": "send",
                "conversation_id": chat.conversation_id,
                "client_id": "t1",
                "body": "hi",
            }
        )
        assert said["type"] == "ack"
        # MSG-2: a client id already used for a text is not reused for a file.
        reused = await consumer_upload(srv, chat, "a.txt", b"hello", "text/plain", "t1")
        assert (reused.status_code, reused.json()["code"]) == (409, "client_id_reused")
        assert stored_files(tmp_path) == []

        ended = await chat.alice.post(f"/api/conversations/{chat.conversation_id}/end")
        assert ended.status_code == 200, ended.text
        sent = await consumer_upload(srv, chat, "a.txt", b"hello again", "text/plain", "f1")
        assert sent.status_code == 200, sent.text
        new_id = sent.json()["conversation_id"]
        assert new_id != chat.conversation_id
        attachment_id = sent.json()["attachment"]["id"]
        got = await consumer_get(srv, chat, f"/api/consumer/attachments/{attachment_id}")
        assert got.status_code == 200 and got.content == b"hello again"
        owner = await srv.staff(chat.shop.shop_id, "owner")
        page = await owner.get(f"/api/conversations/{new_id}/messages")
        (message,) = [m for m in page.json()["items"] if m["kind"] == "file"]
        assert message["body"] == str(attachment_id)


async def test_msg_1_limit_1_a_file_the_writer_refuses_is_not_kept(
    db_url: str, tmp_path: Path
) -> None:
    async with running_server(db_url, files_dir=tmp_path / "files") as srv:
        chat = await open_chat(srv)
        said = await chat.consumer.request(
            {
                "type": "send",
                "conversation_id": chat.conversation_id,
                "client_id": "t1",
                "body": "hi",
            }
        )
        assert said["type"] == "ack"
        srv.clock.advance(timedelta(hours=25))  # LIMIT-1: the agent's reply window is closed
        chat.alice = await srv.staff(chat.shop.shop_id, "alice")  # the old session expired
        before = await messages(chat)
        refused = await chat.alice.post(
            f"/api/conversations/{chat.conversation_id}/attachments",
            files={"file": ("a.txt", b"too late", "text/plain")},
            data={"client_id": "late"},
        )
        assert (refused.status_code, refused.json()["code"]) == (422, "reply_window_closed")
        assert stored_files(tmp_path) == []
        assert await messages(chat) == before
