"""Pictures (MSG-1): the pixel cap read from the header before anything is decoded, then a
re-encoded thumbnail. CPU work: call from a thread."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps

from kefu import errors
from kefu.files.domain import GIF, JPEG, PNG, WEBP, FileType, check_pixels

_PIL_FORMATS = {PNG: "PNG", JPEG: "JPEG", GIF: "GIF", WEBP: "WEBP"}


@dataclass(frozen=True, slots=True)
class Picture:
    width: int
    height: int
    thumbnail: bytes
    thumbnail_mime: str


def picture(data: bytes, file_type: FileType, *, max_pixels: int, thumbnail_px: int) -> Picture:
    """The image's size and thumbnail; ImageRefused if it declares more than `max_pixels` or
    is not a decodable image of the type its signature says."""
    try:
        with Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[file_type]]) as image:
            # Opening reads the header only: refuse a bomb before decoding a pixel.
            width, height = image.size
            check_pixels(width, height, max_pixels=max_pixels)
            if file_type is JPEG:
                # Decode at the smallest scale that still covers the thumbnail.
                image.draft("RGB", (thumbnail_px, thumbnail_px))
            image.seek(0)
            image.load()
            return _thumbnail(image, width, height, thumbnail_px)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own cap (Image.MAX_IMAGE_PIXELS, twice over), met while reading the header.
        raise errors.ImageRefused(reason="too_many_pixels", max_pixels=max_pixels) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise errors.ImageRefused(reason="invalid") from exc


def _thumbnail(image: Image.Image, width: int, height: int, size: int) -> Picture:
    small: Image.Image = ImageOps.exif_transpose(image) or image
    small = small.copy()
    small.thumbnail((size, size))
    buffer = io.BytesIO()
    if small.mode in ("RGBA", "LA", "P") or "transparency" in small.info:
        small = small.convert("RGBA")
        small.save(buffer, format="PNG", optimize=True)
        mime = "image/png"
    else:
        small = small.convert("RGB")
        small.save(buffer, format="JPEG", quality=85)
        mime = "image/jpeg"
    return Picture(width, height, buffer.getvalue(), mime)
