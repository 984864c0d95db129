"""Password hashing with Argon2id (libsodium via PyNaCl), and TOTP codes (pyotp)."""

from __future__ import annotations

import hashlib
import secrets
import time
import unicodedata

import nacl.exceptions
import nacl.pwhash
import pyotp

_OPS = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
_MEM = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
_DUMMY = nacl.pwhash.argon2id.str(b"an unused password", opslimit=_OPS, memlimit=_MEM)


def hash_password(password: str) -> str:
    return nacl.pwhash.argon2id.str(password.encode(), opslimit=_OPS, memlimit=_MEM).decode()


def verify_password(stored: str | None, password: str) -> bool:
    """Constant work whether or not there is a stored hash (no account enumeration by time)."""
    try:
        return (
            bool(nacl.pwhash.verify((stored or "").encode() or _DUMMY, password.encode()))
            and stored is not None
        )
    except nacl.exceptions.InvalidkeyError:
        return False


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, account_name: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name="Telemed")


def _digits(code: str) -> bytes | None:
    """A code as ASCII digits, whichever digits were typed (full-width U+FF11 and on, Arabic-Indic
    and other decimal digits; spaces ignored); None if it is not all digits."""
    typed = [c for c in code if not c.isspace()]
    if not typed or not all(c.isdecimal() for c in typed):
        return None
    return "".join(str(unicodedata.decimal(c)) for c in typed).encode()


def totp_step(secret: str, code: str, *, at: float | None = None) -> int | None:
    """The time step a valid code belongs to (the current one or one either side), else None."""
    digits = _digits(code)
    if digits is None:
        return None
    now = time.time() if at is None else at
    totp = pyotp.TOTP(secret)
    for drift in (0, -1, 1):
        moment = now + drift * totp.interval
        if secrets.compare_digest(totp.at(moment).encode(), digits):
            return int(moment // totp.interval)
    return None


def new_recovery_codes(count: int = 10) -> list[str]:
    return [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(count)]


def recovery_code_hash(code: str) -> str:
    normalised = unicodedata.normalize("NFKC", code).strip().lower()
    return hashlib.sha256(normalised.encode()).hexdigest()


class PyNaClCredentials:
    """The ``Credentials`` port of the account commands."""

    hash_password = staticmethod(hash_password)
    verify_password = staticmethod(verify_password)
    new_totp_secret = staticmethod(new_totp_secret)
    new_recovery_codes = staticmethod(new_recovery_codes)
    recovery_code_hash = staticmethod(recovery_code_hash)

    @staticmethod
    def totp_step(secret: str, code: str) -> int | None:
        return totp_step(secret, code)
