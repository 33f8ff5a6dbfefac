"""What a picture or file sent in a chat may be (MSG-1); pure.

The type is decided by the content alone: a small table of signatures (magic bytes) for
images and archives, and for anything else, text that decodes as UTF-8 or GB18030 without NUL.
The name the sender gave is kept only as a display string; it never decides anything.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from kefu import errors

MAX_NAME_CHARS = 100
# An upload that no sent message carries this long after it was stored is swept (MSG-1): a
# send refused, or lost to an outage and never resent (a resend replays within this time).
ORPHAN_AFTER = timedelta(hours=24)
ORPHAN_SWEEP_EVERY = timedelta(minutes=10)
ORPHAN_SWEEP_BATCH = 100
DEFAULT_NAME = "file"
# Text files are detected by decoding them; other types by their first bytes.
_TEXT_ENCODINGS = ("utf-8-sig", "gb18030")


class AttachmentKind(StrEnum):
    IMAGE = "image"
    FILE = "file"


@dataclass(frozen=True, slots=True)
class FileType:
    kind: AttachmentKind
    mime: str
    extension: str  # with the dot, added to a display name that does not end with it


PNG = FileType(AttachmentKind.IMAGE, "image/png", ".png")
JPEG = FileType(AttachmentKind.IMAGE, "image/jpeg", ".jpg")
GIF = FileType(AttachmentKind.IMAGE, "image/gif", ".gif")
WEBP = FileType(AttachmentKind.IMAGE, "image/webp", ".webp")
ZIP = FileType(AttachmentKind.FILE, "application/zip", ".zip")
SEVEN_Z = FileType(AttachmentKind.FILE, "application/x-7z-compressed", ".7z")
RAR = FileType(AttachmentKind.FILE, "application/vnd.rar", ".rar")
GZIP = FileType(AttachmentKind.FILE, "application/gzip", ".gz")
TAR = FileType(AttachmentKind.FILE, "application/x-tar", ".tar")
TEXT = FileType(AttachmentKind.FILE, "text/plain", ".txt")

# (offset, signature, type): the first that matches decides.
_SIGNATURES: tuple[tuple[int, bytes, FileType], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", PNG),
    (0, b"\xff\xd8\xff", JPEG),
    (0, b"GIF87a", GIF),
    (0, b"GIF89a", GIF),
    (0, b"PK\x03\x04", ZIP),
    (0, b"PK\x05\x06", ZIP),  # an empty archive
    (0, b"7z\xbc\xaf\x27\x1c", SEVEN_Z),
    (0, b"Rar!\x1a\x07", RAR),
    (0, b"\x1f\x8b", GZIP),
    (257, b"ustar", TAR),
)
# Programs: Windows (MZ), ELF, Mach-O (both byte orders, 32/64 bit, universal), Java classes
# share the universal signature. Scripts (#!) are text but programs all the same.
_EXECUTABLES = (
    b"MZ",
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
    b"#!",
    b"\x00asm",
    b"dex\n",
)
# Text that a browser would render as a page or a picture: HTML, SVG, XML.
_MARKUP = re.compile(rb"^\s*<\s*[!?a-zA-Z]")


def sniff(data: bytes) -> FileType:
    """MSG-1: the accepted type of `data`, or FileTypeRefused with the reason."""
    if data.startswith(_EXECUTABLES):
        raise errors.FileTypeRefused(reason="executable")
    for offset, signature, found in _SIGNATURES:
        if data[offset : offset + len(signature)] == signature:
            return found
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    text = _text_of(data)
    if text is None:
        raise errors.FileTypeRefused(reason="unknown")
    if _MARKUP.match(text.lstrip("\ufeff").encode("utf-8", "replace")):
        raise errors.FileTypeRefused(reason="markup")
    return TEXT


def _text_of(data: bytes) -> str | None:
    """The text, if `data` is text: no NUL, and it decodes as UTF-8 or GB18030."""
    if not data or b"\x00" in data:
        return None
    for encoding in _TEXT_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _mostly_printable(text):
            return text
    return None


def _mostly_printable(text: str) -> bool:
    """GB18030 decodes almost any bytes: binary decodes to control characters and the like."""
    sample = text[:4096]
    odd = sum(
        1
        for ch in sample
        if ch not in "\t\n\r\f\v" and unicodedata.category(ch) in {"Cc", "Cn", "Co", "Cs"}
    )
    return odd <= len(sample) // 100


def check_size(
    kind: AttachmentKind, size: int, *, max_image_bytes: int, max_file_bytes: int
) -> None:
    limit = max_image_bytes if kind is AttachmentKind.IMAGE else max_file_bytes
    if size > limit:
        raise errors.FileTooLarge(kind=kind.value, max_bytes=limit, size=size)


def check_pixels(width: int, height: int, *, max_pixels: int) -> None:
    """A decompression bomb is refused from its header, before anything is decoded."""
    if width <= 0 or height <= 0:
        raise errors.ImageRefused(reason="invalid")
    if width * height > max_pixels:
        raise errors.ImageRefused(
            reason="too_many_pixels", width=width, height=height, max_pixels=max_pixels
        )


_UNSAFE = re.compile(r'[\\/:*?"<>|]')


def display_name(given: str | None, file_type: FileType) -> str:
    """The sender's file name as a display string only: its last path part, without control
    or path characters, at most MAX_NAME_CHARS, and ending with the type's extension (a
    picture named `x.html` is shown and saved as `x.html.png`)."""
    name = (given or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip().strip(".").strip() or DEFAULT_NAME
    extension = file_type.extension
    if file_type is JPEG and name.lower().endswith(".jpeg"):
        extension = ".jpeg"
    if not name.lower().endswith(extension) or len(name) > MAX_NAME_CHARS:
        name = name[: MAX_NAME_CHARS - len(extension)] + extension
    return name


def orphaned_before(now: datetime) -> datetime:
    """MSG-1: uploads stored before this, and carried by no message, are orphans."""
    return now - ORPHAN_AFTER
