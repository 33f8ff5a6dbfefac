"""API-2: endpoint signing secrets are kept sealed (AES-256-GCM) in the database, so that a copy
of the database alone does not let anyone sign events as the shop. The key is derived (HKDF)
from the server's secret key, so every process that signs sessions can seal and open them.

A sealed value reads `v1.<base64url(nonce | ciphertext)>`; a value without the prefix is a
secret stored before sealing and is used as it is. Changing the server's secret key makes the
sealed secrets unreadable: each endpoint then needs its secret rotated (README, deploy.md)."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "v1."
NONCE_BYTES = 12
# Binds a sealed value to its purpose: the same key never opens another kind of secret.
INFO = b"kefu webhook endpoint secret v1"


class SecretUnreadable(Exception):
    """A sealed secret that this server's key does not open (the key changed)."""


def _cipher(server_key: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(
        server_key.encode()
    )
    return AESGCM(key)


def seal(secret: str, server_key: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = _cipher(server_key).encrypt(nonce, secret.encode(), INFO)
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(stored: str, server_key: str) -> str:
    if not stored.startswith(PREFIX):
        return stored
    try:
        raw = base64.urlsafe_b64decode(stored[len(PREFIX) :])
        plain = _cipher(server_key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], INFO)
    except (InvalidTag, ValueError) as exc:
        raise SecretUnreadable() from exc
    return plain.decode()
