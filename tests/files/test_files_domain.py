"""MSG-1: what a picture or file may be, decided by its content; the display name; the pixel
cap read from the header before decoding."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from kefu import errors
from kefu.files import domain as d
from kefu.files import images
from kefu.files.api import content_disposition
from kefu.files.store import LocalDiskStore, new_key, thumbnail_key


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), "red").save(buffer, format="PNG")
    return buffer.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width × height, with a few bytes of pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (png(2, 2), "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "image/jpeg"),
        (b"GIF89a" + b"\x00" * 20, "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"PK\x03\x04" + b"\x00" * 30, "application/zip"),
        (b"7z\xbc\xaf\x27\x1c" + b"\x00" * 30, "application/x-7z-compressed"),
        (b"Rar!\x1a\x07\x01\x00", "application/vnd.rar"),
        (b"\x1f\x8b\x08\x00" + b"\x00" * 10, "application/gzip"),
        (b"a.txt".ljust(257, b"\x00") + b"ustar\x0000", "application/x-tar"),
        ("你好，请问什么时候发货？\n".encode(), "text/plain"),
        ("你好，请问什么时候发货？\n".encode("gb18030"), "text/plain"),
        (b"\xef\xbb\xbfplain text with a BOM", "text/plain"),
    ],
)
def test_msg_1_types_are_decided_by_the_content(data: bytes, mime: str) -> None:
    assert d.sniff(data).mime == mime


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 60, "executable"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 40, "executable"),
        (b"\xcf\xfa\xed\xfe" + b"\x00" * 40, "executable"),
        (b"#!/bin/sh\nrm -rf /\n", "executable"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>', "markup"),
        (b"  <svg onload=alert(1)></svg>", "markup"),
        (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "markup"),
        (b"text with a NUL \x00 inside", "unknown"),
        (b"%PDF-1.7\n\x00\x01\x02", "unknown"),
        (bytes(range(128, 256)) * 4, "unknown"),
        (b"", "unknown"),
    ],
)
def test_msg_1_executables_markup_and_binaries_are_refused_with_a_reason(
    data: bytes, reason: str
) -> None:
    with pytest.raises(errors.FileTypeRefused) as refused:
        d.sniff(data)
    assert refused.value.code == "file.type_refused"
    assert refused.value.params["reason"] == reason


def test_msg_1_size_limits_depend_on_the_kind() -> None:
    limits = {"max_image_bytes": 10, "max_file_bytes": 20}
    d.check_size(d.AttachmentKind.IMAGE, 10, **limits)
    d.check_size(d.AttachmentKind.FILE, 20, **limits)
    with pytest.raises(errors.FileTooLarge) as image:
        d.check_size(d.AttachmentKind.IMAGE, 11, **limits)
    assert image.value.params == {"kind": "image", "max_bytes": 10, "size": 11}
    with pytest.raises(errors.FileTooLarge):
        d.check_size(d.AttachmentKind.FILE, 21, **limits)


@pytest.mark.parametrize(
    ("given", "file_type", "shown"),
    [
        ("photo.png", d.PNG, "photo.png"),
        ("PHOTO.JPEG", d.JPEG, "PHOTO.JPEG"),
        ("../../etc/passwd", d.TEXT, "passwd.txt"),
        ("C:\\Users\\me\\订单.txt", d.TEXT, "订单.txt"),
        ("evil.html", d.PNG, "evil.html.png"),
        ('a"b<c>\x00\n.txt', d.TEXT, "a_b_c_.txt"),
        (None, d.ZIP, "file.zip"),
        ("...", d.TEXT, "file.txt"),
        ("x" * 500 + ".zip", d.ZIP, "x" * 96 + ".zip"),
    ],
)
def test_msg_1_the_file_name_is_a_sanitized_display_string(
    given: str | None, file_type: d.FileType, shown: str
) -> None:
    assert d.display_name(given, file_type) == shown


def test_msg_1_a_picture_gets_its_size_and_a_re_encoded_thumbnail() -> None:
    found = images.picture(png(800, 600), d.PNG, max_pixels=40_000_000, thumbnail_px=320)
    assert (found.width, found.height, found.thumbnail_mime) == (800, 600, "image/jpeg")
    with Image.open(io.BytesIO(found.thumbnail)) as thumb:
        assert (thumb.format, thumb.size) == ("JPEG", (320, 240))
    clear = images.picture(png(50, 100, "RGBA"), d.PNG, max_pixels=10**6, thumbnail_px=32)
    assert clear.thumbnail_mime == "image/png"
    with Image.open(io.BytesIO(clear.thumbnail)) as thumb:
        assert thumb.size == (16, 32)


@pytest.mark.parametrize(("width", "height"), [(50_000, 50_000), (8_000, 6_000)])
def test_msg_1_a_picture_over_the_pixel_cap_is_refused_before_decoding(
    width: int, height: int
) -> None:
    with pytest.raises(errors.ImageRefused) as refused:
        images.picture(png_declaring(width, height), d.PNG, max_pixels=40_000_000, thumbnail_px=320)
    assert refused.value.code == "file.image_refused"
    assert refused.value.params["reason"] == "too_many_pixels"
    assert refused.value.params["max_pixels"] == 40_000_000


def test_msg_1_a_picture_that_does_not_decode_is_refused() -> None:
    with pytest.raises(errors.ImageRefused) as refused:
        images.picture(b"\x89PNG\r\n\x1a\n" + b"junk" * 10, d.PNG, max_pixels=10, thumbnail_px=8)
    assert refused.value.params["reason"] == "invalid"


def test_msg_1_a_jpeg_keeps_its_size_and_gets_a_small_thumbnail() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (2000, 1000), "green").save(buffer, format="JPEG")
    found = images.picture(buffer.getvalue(), d.JPEG, max_pixels=40_000_000, thumbnail_px=320)
    assert (found.width, found.height) == (2000, 1000)
    with Image.open(io.BytesIO(found.thumbnail)) as thumb:
        assert thumb.size == (320, 160)


def test_msg_1_downloads_name_the_file_for_every_browser() -> None:
    assert content_disposition("订单 1.txt") == (
        "attachment; filename=\"__ 1.txt\"; filename*=UTF-8''%E8%AE%A2%E5%8D%95%201.txt"
    )
    assert content_disposition('a"b\\c.txt') == (
        "attachment; filename=\"a_b_c.txt\"; filename*=UTF-8''a%22b%5Cc.txt"
    )


def _names(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.is_file())


async def test_msg_1_the_local_store_keeps_bytes_under_generated_keys(tmp_path: Path) -> None:
    store = LocalDiskStore(tmp_path)
    key = new_key()
    await store.put(key, b"one")
    await store.put(thumbnail_key(key), b"thumb")
    assert await store.get(key) == b"one"
    assert (tmp_path / key[:2] / key).read_bytes() == b"one"
    await store.delete(key)
    await store.delete(key)  # already gone: nothing to do
    with pytest.raises(errors.NotFound):
        await store.get(key)
    for bad in ("../secret", "photo.png", key.upper(), key + "/x"):
        with pytest.raises(ValueError):
            await store.put(bad, b"x")
    assert _names(tmp_path) == [key + ".thumb"]
