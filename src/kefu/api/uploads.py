"""File uploads (multipart/form-data) with a size bound enforced before the body is read: a
declared Content-Length over the bound is refused at once, and an undeclared body is read in
chunks only up to it. Parsed with the standard library's MIME parser."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from fastapi import Request

from kefu import errors

# Room for the multipart envelope and a few small form fields around the file.
_ENVELOPE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str | None
    data: bytes
    fields: dict[str, str]


def _too_large(max_bytes: int) -> errors.BadInput:
    return errors.BadInput("The file is too large.", field="file", max_bytes=max_bytes)


async def read_upload(request: Request, *, max_bytes: int) -> Upload:
    """The `file` part of a multipart form (≤ max_bytes) and its text fields."""
    cap = max_bytes + _ENVELOPE_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise _too_large(max_bytes)
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise errors.BadInput("Send the file as multipart/form-data.", field="file")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > cap:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    upload = _parse(content_type, b"".join(chunks))
    if len(upload.data) > max_bytes:
        raise _too_large(max_bytes)
    return upload


def _parse(content_type: str, body: bytes) -> Upload:
    head = b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n"
    message: Any = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise errors.BadInput("Malformed multipart body.", field="file")
    filename: str | None = None
    data: bytes | None = None
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        assert isinstance(part, EmailMessage)
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            continue
        if name == "file":
            filename, data = part.get_filename(), payload
        else:
            fields[name] = payload.decode("utf-8", "replace")
    if data is None:
        raise errors.BadInput("The form has no `file` part.", field="file")
    return Upload(filename, data, fields)


def multipart_doc(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """OpenAPI for a route that reads its own multipart body (API-2)."""
    properties: dict[str, Any] = {"file": {"type": "string", "format": "binary"}, **(extra or {})}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": properties, "required": ["file"]}
                }
            },
        }
    }
