"""Blind indexes: exact search on personal fields without storing them in clear."""

from __future__ import annotations

import hashlib
import hmac

from domain.personal import normalise_email, normalise_name
from domain.prescription import normalised_code


class BlindIndex:
    """Keyed HMAC-SHA256 of a normalised value, one domain-separated index per field kind."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, kind: str, value: str) -> bytes:
        return hmac.new(
            self._key, kind.encode() + b"\x00" + value.encode(), hashlib.sha256
        ).digest()

    def email(self, email: str) -> bytes:
        return self._mac("email", normalise_email(email))

    def full_name(self, given_name: str, family_name: str) -> bytes:
        return self._mac("name", normalise_name(given_name, family_name))

    def name_query(self, query: str) -> bytes:
        return self._mac("name", normalise_name(query))

    def prescription_code(self, code: str) -> bytes:
        """A prescription's code (any spelling; ``InvalidValue`` when it cannot be one)."""
        return self._mac("prescription-code", normalised_code(code))
