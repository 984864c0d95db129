"""The deployment's checkpoint signing key: Ed25519, a 0600 file beside the master keyring.

It signs the checkpoints of the audit chains and never enters the database. Verifiers need only
its public key, written as ``ed25519:<base64>`` (``telemed audit public-key``,
``GET /v1/audit/public-key``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from nacl.signing import SigningKey, VerifyKey

PREFIX = "ed25519:"


def load_or_create(path: Path) -> tuple[SigningKey, bool]:
    """The signing key in ``path``, or a new one written there. Returns (key, created).

    Two processes starting together agree on one key: the file appears complete or not at all
    (written aside, then linked into place, which fails if another got there first).
    """
    if path.exists():
        return _read(path), False
    path.parent.mkdir(parents=True, exist_ok=True)
    key = SigningKey.generate()
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(base64.b64encode(bytes(key)) + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, path)
    except FileExistsError:
        return _read(path), False
    finally:
        tmp.unlink(missing_ok=True)
    return key, True


def _read(path: Path) -> SigningKey:
    return SigningKey(base64.b64decode(path.read_bytes().strip()))


def public_key_text(key: VerifyKey) -> str:
    return PREFIX + base64.b64encode(bytes(key)).decode()


def parse_public_key(text: str) -> VerifyKey:
    """A public key as ``public_key_text`` writes it (the prefix may be left out)."""
    try:
        raw = base64.b64decode(text.strip().removeprefix(PREFIX), validate=True)
        return VerifyKey(raw)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an Ed25519 public key: {text!r}") from exc


def key_id(key: VerifyKey) -> str:
    """A short fingerprint, to tell keys apart in checkpoints and messages."""
    return hashlib.sha256(bytes(key)).hexdigest()[:16]
