"""Authenticated encryption of small values (libsodium XChaCha20-Poly1305 via PyNaCl)."""

from __future__ import annotations

from uuid import UUID

from nacl import bindings
from nacl.exceptions import CryptoError
from nacl.utils import random

VERSION = b"\x01"
_NONCE = bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES


class SealError(Exception):
    """Ciphertext that does not open with the given key and context (tampered or wrong key)."""


def field_context(subject_id: UUID, field: str) -> bytes:
    """Associated data: a ciphertext only opens as this field of this subject."""
    return b"telemed/field/v1/" + subject_id.bytes + b"/" + field.encode()


def seal(key: bytes, plaintext: bytes, context: bytes) -> bytes:
    nonce = random(_NONCE)
    body = bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, context, nonce, key)
    return VERSION + nonce + body


def open_sealed(key: bytes, sealed: bytes, context: bytes) -> bytes:
    if sealed[:1] != VERSION:
        raise SealError("unknown ciphertext version")
    nonce, body = sealed[1 : 1 + _NONCE], sealed[1 + _NONCE :]
    try:
        return bytes(bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(body, context, nonce, key))
    except CryptoError as exc:
        raise SealError("ciphertext does not authenticate") from exc
