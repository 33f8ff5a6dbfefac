"""MSG-1 in the browser: a consumer sends a picture, the agent sees its thumbnail and opens it;
the agent sends a text file and the consumer sees and saves it."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

from .conftest import Server, Watch, login

pytestmark = pytest.mark.e2e


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (22, 119, 255)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_msg_1_a_picture_and_a_file_cross_the_chat(
    server: Server, new_page: Any, watch: Watch
) -> None:
    agent = new_page(base=server.base)
    login(agent, server, "agent2")

    shopper = new_page(width=1280, height=800)
    shopper.goto(f"{server.base}/demo/shop?shop=1")
    shopper.get_by_test_id("product-card").first.get_by_test_id("ask-product").click()
    widget = shopper.frame_locator("[data-testid=kefu-frame]")
    widget.get_by_test_id("request-human").click()
    expect(widget.get_by_test_id("widget-status")).to_have_attribute("data-state", "assigned")
    agent.get_by_test_id("conversation-item").first.click()

    picture = _png(640, 480)
    widget.get_by_test_id("upload-input").set_input_files(
        files=[{"name": "照片.png", "mimeType": "image/png", "buffer": picture}]
    )
    history = agent.get_by_test_id("message-history")
    thumbnail = history.get_by_test_id("attachment-thumbnail")
    expect(thumbnail).to_be_visible()
    expect(thumbnail).to_have_js_property("naturalWidth", 320)
    # The consumer sees their own picture too (fetched with the token, shown from a blob).
    chat = widget.get_by_test_id("widget-messages")
    expect(chat.get_by_test_id("attachment-thumbnail")).to_be_visible()
    expect(chat.get_by_test_id("attachment-thumbnail")).to_have_js_property("naturalWidth", 320)
    chat.get_by_test_id("attachment-view").click()
    shown = widget.locator(".el-image-viewer__wrapper img.el-image-viewer__img")
    expect(shown).to_have_js_property("naturalWidth", 640)
    shopper.keyboard.press("Escape")
    expect(widget.locator(".el-image-viewer__wrapper")).to_have_count(0)

    # Viewed in the page at full size, then saved.
    history.locator("[data-kind=image]").get_by_test_id("attachment-view").click()
    full = agent.locator(".el-image-viewer__wrapper img.el-image-viewer__img")
    expect(full).to_be_visible()
    expect(full).to_have_js_property("naturalWidth", 640)
    agent.keyboard.press("Escape")
    expect(agent.locator(".el-image-viewer__wrapper")).to_have_count(0)
    with agent.expect_download() as opened:
        history.locator("[data-kind=image]").get_by_test_id("attachment-open").click()
    assert opened.value.suggested_filename == "照片.png"
    assert Path(opened.value.path()).read_bytes() == picture

    text = "订单已发货，运单号 SF1234567890\n".encode()
    agent.get_by_test_id("upload-input").set_input_files(
        files=[{"name": "发货单.txt", "mimeType": "text/plain", "buffer": text}]
    )
    received = chat.locator("[data-kind=file]")
    expect(received.get_by_test_id("attachment-name")).to_have_text("发货单.txt")
    expect(history.locator("[data-kind=file]")).to_be_visible()
    with shopper.expect_download() as saved:
        received.get_by_test_id("attachment-open").click()
    assert saved.value.suggested_filename == "发货单.txt"
    assert Path(saved.value.path()).read_bytes() == text

    # A program renamed .txt is refused with its reason, and nothing is posted.
    agent.get_by_test_id("upload-input").set_input_files(
        files=[{"name": "readme.txt", "mimeType": "text/plain", "buffer": b"MZ\x90\x00" * 64}]
    )
    expect(agent.locator(".el-message--error")).to_contain_text("不能发送此类文件")
    expect(history.get_by_test_id("attachment")).to_have_count(2)
    assert watch.dialogs == []
    assert watch.errors == []
    assert watch.missing_keys == []
